"""GGUF models: a spec in the seed tutorial's vocabulary -> a local file -> a loaded Llama.

- `spec`: which model and how to run it (ModelSpec), and the models folder;
- `catalogue`: the embedded models, which install from PyPI and resolve with no network;
- `files`: resolution (found, embedded, or downloaded), what the folder holds, and what a file
  was made from;
- `loading`: llama.cpp models loaded once per process and freed explicitly;
- `quantizer`: other quantizations made locally, each marked with its source;
- `quantizations`: the names (the tutorial's spellings, the ladder, file-name tokens).
- `gguf_header`: the quantization a file's GGUF header records, checked against its name.
"""

from __future__ import annotations

from typing import Any

from ocrbench.models import catalogue
from ocrbench.models.catalogue import DEFAULT_QUANTIZATION, DEFAULT_REPO_ID, EMBEDDED
from ocrbench.models.files import (
    LocalModel,
    available,
    made_from_quantized,
    quantization_label,
    resolve,
)
from ocrbench.models.hashing import sha256_of
from ocrbench.models.loading import (
    CHAT_FORMAT_FALLBACK,
    LoadedModel,
    block_count,
    close_all,
    effective_gpu_layers,
    gpu_layer_settings,
    gpu_offload,
    load,
)
from ocrbench.models.quantizations import (
    ALIASES,
    FLOAT,
    LADDER,
    canonical_quantization,
    names_quantization,
    quantization_of,
)
from ocrbench.models.quantizer import quantize
from ocrbench.models.spec import SPEC_FIELDS, ModelSpec, model_root, parse_model_spec


def model_file(spec: ModelSpec | None) -> dict[str, Any] | None:
    """For a run manifest: the file a model spec resolves to, its sha256, and what it was made
    from when `quantize` made it from a quantized file; None for a corrector without a model."""
    if spec is None:
        return None
    path = resolve(spec)
    made_from = made_from_quantized(path, spec.repo_id)
    label = quantization_label(canonical_quantization(spec.quantization), made_from)
    return {"repo_id": spec.repo_id, "quantization": spec.quantization, "path": str(path),
            "sha256": sha256_of(path), "made_from": made_from, "label": label}  # fmt: skip


__all__ = [
    "ALIASES",
    "CHAT_FORMAT_FALLBACK",
    "DEFAULT_QUANTIZATION",
    "DEFAULT_REPO_ID",
    "EMBEDDED",
    "FLOAT",
    "LADDER",
    "SPEC_FIELDS",
    "LoadedModel",
    "LocalModel",
    "ModelSpec",
    "available",
    "block_count",
    "canonical_quantization",
    "catalogue",
    "close_all",
    "effective_gpu_layers",
    "gpu_layer_settings",
    "gpu_offload",
    "load",
    "made_from_quantized",
    "model_file",
    "model_root",
    "names_quantization",
    "parse_model_spec",
    "quantization_label",
    "quantization_of",
    "quantize",
    "resolve",
    "sha256_of",
]
