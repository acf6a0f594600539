#!/usr/bin/env bash
# PyPI has only llama-cpp-python's source, and compiling llama.cpp takes minutes. Build the wheel once
# into a folder outside the repository, one folder per build (cpu, cuda, and -noamx where the CPU has AMX:
# ocrbench/backend.py chooses; OCRBENCH_LLAMA_BACKEND overrides), and install from it every time after.
set -euo pipefail
python=$1
wheels=$2
version=${LLAMA_CPP_VERSION:-0.3.36}

# -I: the script's folder must not come first on sys.path (ocrbench/types.py would shadow types).
read -r backend folder cmake_args < <("$python" -I "$(dirname "$0")/../ocrbench/backend.py" "$wheels"; echo)
[ -n "$backend" ] || exit 2
mkdir -p "$folder"
# A wheel from before the folders were keyed was built without CMAKE_ARGS: a CPU one.
if [ "$folder" = "$wheels/cpu" ]; then
    for old in "$wheels"/llama_cpp_python-"$version"-*.whl; do
        [ -e "$old" ] && mv "$old" "$folder"/
    done
fi
wheel=$(ls "$folder"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    echo "building llama-cpp-python $version ($backend) once into $folder (about 7 minutes on 2 cores)"
    # --no-cache-dir: pip would otherwise take a wheel it built earlier, whatever CMAKE_ARGS said.
    CMAKE_ARGS="$cmake_args ${CMAKE_ARGS:-}" "$python" -m pip wheel --quiet --no-cache-dir --no-deps -w "$folder" \
        "llama-cpp-python==$version"
    wheel=$(ls "$folder"/llama_cpp_python-"$version"-*.whl | head -n 1)
fi
# --force-reinstall: the same version of the other backend may be installed.
"$python" -m pip install --quiet --force-reinstall --no-deps "$wheel"
