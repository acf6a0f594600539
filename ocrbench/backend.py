"""Which llama.cpp build this machine should get: "cuda" where an NVIDIA GPU and a CUDA compiler
are present, else "cpu"; OCRBENCH_LLAMA_BACKEND=cpu|cuda overrides. Set-up keeps each build's
wheel in its own folder (`wheel_folder`), so a CPU wheel is never reused on a GPU machine nor the
reverse.

On a CPU with AMX (Intel Sapphire Rapids and later) llama.cpp's -march=native build takes its AMX
kernels for the model's weights, and those of llama-cpp-python 0.3.36 crash (a segfault in
ggml_backend_amx_mul_mat at the first decode). There the build leaves them out (AVX-512 and the
weight repacking stay), and the wheel goes to a folder of its own, so one built with them is never
reused.

Standard library only: `scripts/llama-wheel.sh` runs this file before ocrbench is installed
(`python -I ocrbench/backend.py WHEELS` prints the backend and its wheel folder; -I keeps this
folder off sys.path, where ocrbench/types.py would shadow the standard library's `types`).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

BACKENDS = ("cpu", "cuda")
CMAKE_ARGS = {"cpu": "", "cuda": "-DGGML_CUDA=on"}
_NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
NO_AMX_ARGS = f"-DCMAKE_C_FLAGS='{_NO_AMX}' -DCMAKE_CXX_FLAGS='{_NO_AMX}'"


def choose(env: Mapping[str, str], gpu: bool, compiler: bool) -> str:
    """The backend for what was found; an override that names no backend is an error."""
    chosen = env.get("OCRBENCH_LLAMA_BACKEND", "").strip().lower()
    if chosen:
        if chosen not in BACKENDS:
            raise ValueError(
                f"OCRBENCH_LLAMA_BACKEND must be one of {', '.join(BACKENDS)}, not {chosen!r}"
            )
        return chosen
    return "cuda" if gpu and compiler else "cpu"


def found() -> tuple[bool, bool]:
    """(an NVIDIA GPU, a CUDA compiler) on this machine."""
    gpu = shutil.which("nvidia-smi") is not None and Path("/dev/nvidia0").exists()
    compiler = shutil.which("nvcc") is not None or Path("/usr/local/cuda/bin/nvcc").exists()
    return gpu, compiler


def has_amx(cpuinfo: str) -> bool:
    """Whether /proc/cpuinfo's flags name AMX."""
    return any(
        "amx_int8" in line.split() for line in cpuinfo.splitlines() if line.startswith("flags")
    )


def cmake_args(backend: str, cpuinfo: str) -> str:
    """CMake arguments of a backend's build on a CPU that `cpuinfo` (/proc/cpuinfo) describes."""
    args = CMAKE_ARGS[backend]
    return f"{args} {NO_AMX_ARGS}".strip() if has_amx(cpuinfo) else args


def wheel_folder(wheels: Path, backend: str, args: str = "") -> Path:
    """Each build's own folder: the backend's, with "-noamx" where AMX was compiled out."""
    return wheels / (f"{backend}-noamx" if NO_AMX_ARGS in args else backend)


def cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""  # not Linux: no flags to read, the default build


def main(argv: list[str]) -> int:
    try:
        backend = choose(os.environ, *found())
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    args = cmake_args(backend, cpuinfo())
    print(backend, wheel_folder(Path(argv[1]), backend, args) if len(argv) > 1 else "", args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
