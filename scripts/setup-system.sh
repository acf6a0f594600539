#!/usr/bin/env bash
# Installs what ocrbench needs from the operating system, only where it is missing, so a second run
# costs a few milliseconds. Debian/Ubuntu with apt; elsewhere it says what to install and stops.
set -euo pipefail

packages=()
have_lang() { tesseract --list-langs 2>/dev/null | grep -qx "$1"; }
command -v tesseract >/dev/null || packages+=(tesseract-ocr)
have_lang eng || packages+=(tesseract-ocr-eng)
have_lang grc || packages+=(tesseract-ocr-grc)   # polytonic Greek, for the eng+grc sweeps
fc-list 2>/dev/null | grep -qi "DejaVuSans.ttf" || packages+=(fonts-dejavu-core)
fc-list 2>/dev/null | grep -qi "LiberationSerif" || packages+=(fonts-liberation)
command -v chromium >/dev/null || packages+=(chromium)   # the report's headless-browser test

[ ${#packages[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "ocrbench needs: ${packages[*]} (Debian names); install them with your package manager" >&2
    exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${packages[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
