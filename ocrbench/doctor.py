"""`ocrbench doctor`: what this machine can do, one line each: llama.cpp and its GPU offload, the
backend set-up would build, GPUs, torch and CUDA for EasyOCR, RapidOCR's onnxruntime, Tesseract
and its languages, the embedded models, the cache folder and its size. Each check reports what it
found or why it could not tell; none of them fails the command."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def llama() -> str:
    version = _version("llama-cpp-python")
    if version is None:
        return "not installed (pip install 'ocrbench[llm]')"
    import llama_cpp

    offload = bool(llama_cpp.llama_supports_gpu_offload())
    what = "GPU offload: yes" if offload else "GPU offload: absent (a CPU build; gpu_layers runs 0)"
    if "AMX" in llama_cpp.llama_print_system_info().decode(errors="replace"):
        # backend.py says why: these kernels crash at the first decode.
        what += "; AMX kernels compiled in (they crash: delete the wheel, run make setup)"
    return f"llama-cpp-python {version}; {what}"


def backend() -> str:
    """What `make setup` would build here (the wheel folder's name: "cpu-noamx" where the CPU has
    AMX); what is installed is the llama.cpp line's."""
    from ocrbench import backend as chosen

    gpu, compiler = chosen.found()
    try:
        name = chosen.choose(os.environ, gpu, compiler)
    except ValueError as error:
        return str(error)
    folder = chosen.wheel_folder(Path(), name, chosen.cmake_args(name, chosen.cpuinfo())).name
    return (f"{folder} (NVIDIA GPU: {'yes' if gpu else 'no'}, CUDA compiler: "
            f"{'yes' if compiler else 'no'}; OCRBENCH_LLAMA_BACKEND overrides; what is "
            "installed is the llama.cpp line)")  # fmt: skip


def gpus() -> str:
    if shutil.which("nvidia-smi") is None:
        return "none found (no nvidia-smi)"
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"nvidia-smi failed: {error}"
    return "; ".join(listed.stdout.split("\n")).strip("; ") or listed.stderr.strip() or "none"


def torch() -> str:
    version = _version("torch")
    if version is None:
        return "not installed (EasyOCR needs it: pip install 'ocrbench[easyocr]')"
    import torch as found

    cuda = found.cuda.is_available()
    return f"torch {version}; CUDA: {'yes, ' + found.cuda.get_device_name(0) if cuda else 'no'}"


def rapidocr() -> str:
    version = _version("rapidocr_onnxruntime")
    if version is None:
        return "not installed (pip install 'ocrbench[rapidocr]')"
    return f"rapidocr_onnxruntime {version}; onnxruntime {_version('onnxruntime')}"


def tesseract() -> str:
    if shutil.which("tesseract") is None:
        return "not installed (apt-get install tesseract-ocr tesseract-ocr-eng)"
    from ocrbench.engines.tesseract import _installed

    version, langs = _installed()
    return f"{version}; languages: {', '.join(sorted(langs)) or 'none'}"


def embedded() -> Iterator[str]:
    from ocrbench.models import EMBEDDED

    for entry in EMBEDDED:
        state = "installed" if entry.installed() else f"not installed ({entry.distribution})"
        yield f"{entry.repo_id} {entry.quantization} ({entry.kind}): {state}"


def cache() -> str:
    from ocrbench.cache import default_root

    root = default_root()
    if root.exists() and not root.is_dir():
        return f"{root} is a file, not a folder: the cache cannot be written"
    if not root.is_dir():
        return f"{root} (not made yet)"
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return f"{root}: {size / 2**20:.1f} MiB"


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("llama.cpp", llama),
    ("set-up builds", backend),
    ("GPUs", gpus),
    ("torch", torch),
    ("RapidOCR", rapidocr),
    ("Tesseract", tesseract),
    ("cache", cache),
]


def report() -> Iterator[str]:
    for name, check in CHECKS:
        try:
            found = check()
        except Exception as error:  # a check that breaks says so; the others still run
            found = f"could not tell ({type(error).__name__}: {error})"
        yield f"{name + ':':17}{found}"
    for line in embedded():
        yield f"{'embedded model:':17}{line}"
