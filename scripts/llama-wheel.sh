#!/usr/bin/env bash
# PyPI has only llama-cpp-python's source, and compiling llama.cpp takes minutes. Build the wheel once
# into a folder outside the repository and install from it every time after.
set -euo pipefail
python=$1
wheels=$2
version=${LLAMA_CPP_VERSION:-0.3.36}

wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
    echo "building llama-cpp-python $version once into $wheels (about 7 minutes on 2 cores)"
    mkdir -p "$wheels"
    "$python" -m pip wheel --quiet --no-deps -w "$wheels" "llama-cpp-python==$version"
    wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl | head -n 1)
fi
"$python" -m pip install --quiet "$wheel"
