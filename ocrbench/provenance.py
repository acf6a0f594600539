"""What produced a run: the command, versions of everything that could change a number, the
dataset's hash, the git revision and the machine. Written beside the results as manifest.json."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LIBRARIES = (
    "ocrbench", "jiwer", "numpy", "pandas", "pyarrow", "pillow", "pytesseract", "easyocr", "torch",
    "torchvision", "rapidocr_onnxruntime", "onnxruntime", "opencv-python", "opencv-python-headless",
    "llama-cpp-python", "huggingface_hub", "symspellpy", "matplotlib", "rapidfuzz", "dask",
    "distributed",
)  # fmt: skip


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def git_revision(where: Path | None = None) -> str | None:
    """The checkout's commit, with "-dirty" when it has uncommitted changes; None outside git."""
    cwd = where or Path(__file__).resolve().parent
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return revision + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def manifest(**fields: Any) -> dict[str, Any]:
    """A run manifest: the caller's fields plus everything this module can find out itself."""
    return {
        "command": sys.argv[:],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **fields,
        "libraries": library_versions(),
        "git_revision": git_revision(),
        "machine": machine(),
    }
