"""ocrbench: does an LLM post-corrector make your OCR better, which model, which quantization, and
at what cost in seconds?

The public API is small. Submodules load on first use, so `import ocrbench` stays light (no torch,
no llama_cpp, no matplotlib until something needs them).
"""

from __future__ import annotations

import importlib
from typing import Any

from ocrbench.errors import ConfigError, DatasetError, OcrbenchError, SetupError
from ocrbench.registry import correctors, engines
from ocrbench.types import Correction, OcrResult, Sample, Word

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Correction",
    "DatasetError",
    "OcrResult",
    "OcrbenchError",
    "Sample",
    "SetupError",
    "Word",
    "correctors",
    "datasets",
    "engines",
    "gate",
    "metrics",
    "models",
    "plots",
    "report",
    "results",
    "run",
    "splits",
    "sweep",
    "training",
]

_LAZY = {
    "datasets", "gate", "metrics", "models", "plots", "report", "results", "run", "splits", "sweep",
    "training",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"ocrbench.{name}")
    raise AttributeError(f"module 'ocrbench' has no attribute {name!r}")
