"""Which llama.cpp build this machine should get: "cuda" where an NVIDIA GPU and a CUDA compiler
are present, else "cpu"; OCRBENCH_LLAMA_BACKEND=cpu|cuda overrides. Set-up keeps each build's
wheel in its own folder (`wheel_folder`), so a CPU wheel is never reused on a GPU machine nor the
reverse.

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


def wheel_folder(wheels: Path, backend: str) -> Path:
    return wheels / backend


def main(argv: list[str]) -> int:
    try:
        backend = choose(os.environ, *found())
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    print(
        backend, wheel_folder(Path(argv[1]), backend) if len(argv) > 1 else "", CMAKE_ARGS[backend]
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
