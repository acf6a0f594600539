"""What every LLM corrector shares: the model settings in the seed tutorial's vocabulary
(ModelSpec's fields, flattened so a sweep can vary each), and a version naming the model file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from ocrbench import models


@dataclass(frozen=True)
class ModelSettings(models.ModelSpec):
    """ModelSpec's fields (their one home), flattened into a corrector so that a sweep can vary
    each; `model_spec()` gives them back as the ModelSpec itself."""

    # receives progress messages; not a parameter (compare=False keeps it out of cache keys)
    logging: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def model_spec(self) -> models.ModelSpec:
        """The model this corrector uses, as a ModelSpec (which validates the fields with its own
        messages): what the sweep, the manifest and the results ask a corrector for."""
        return models.ModelSpec(**{name: getattr(self, name) for name in models.SPEC_FIELDS})

    def model_version(self, algorithm: str) -> str:
        """The algorithm's version, llama.cpp's, and the model file's sha256: caches never mix
        two models' outputs."""
        try:
            llama = package_version("llama-cpp-python")
        except PackageNotFoundError:
            llama = "absent"
        sha256 = models.sha256_of(models.resolve(self.model_spec(), logging=self.logging))
        return f"{algorithm} llama-cpp-python-{llama} sha256:{sha256}"

    def model_file(self) -> dict[str, Any] | None:
        """The file the model resolves to, its sha256, and what it was made from."""
        return models.model_file(self.model_spec())

    def effective_gpu_layers(self) -> int | None:
        return models.effective_gpu_layers(self.model_spec())
