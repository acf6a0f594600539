"""What every LLM corrector shares: the model settings in the seed tutorial's vocabulary
(ModelSpec's fields, flattened so a sweep can vary each), and a version naming the model file."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from ocrbench import models
from ocrbench.correctors.loads import one_off


@dataclass(frozen=True)
class ModelSettings(models.ModelSpec):
    """ModelSpec's fields (their one home), flattened into a corrector so that a sweep can vary
    each; `model_spec()` gives them back as the ModelSpec itself."""

    # receives progress messages; not a parameter (compare=False keeps it out of cache keys)
    logging: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def held_model(self, held: contextlib.ExitStack[Any]) -> models.LoadedModel:
        """The model as its file is now (loaded once; again once closed or replaced), its lock
        entered on `held`: until `held` exits no other thread uses it and nobody frees it."""
        while True:
            with one_off():  # a load is no part of a page's seconds
                model = models.load(self.model_spec(), logging=self.logging)
            held.enter_context(model.lock)
            if not model.closed:  # else closed between the two: load it again
                return model

    def model_spec(self) -> models.ModelSpec:
        """The model this corrector uses, as a ModelSpec (which validates the fields with its own
        messages): what the sweep, the manifest and the results ask a corrector for."""
        return models.ModelSpec(**{name: getattr(self, name) for name in models.SPEC_FIELDS})

    def model_version(self, algorithm: str) -> str:
        """The algorithm's version, llama.cpp's, whether layers run on a GPU, and the model file's
        sha256: caches never mix two models' (or two devices') outputs."""
        try:
            llama = package_version("llama-cpp-python")
        except PackageNotFoundError:
            llama = "absent"
        sha256 = models.sha256_of(models.resolve(self.model_spec(), logging=self.logging))
        # Layers asked for the GPU run there only on a build that offloads: other seconds, other
        # floats. gpu_layers=0 runs on the CPU on every build (and llama_cpp stays unimported).
        device = " gpu-offload" if self.gpu_layers and models.gpu_offload() else ""
        return f"{algorithm} llama-cpp-python-{llama}{device} sha256:{sha256}"

    def model_file(self) -> dict[str, Any] | None:
        """The file the model resolves to, its sha256, and what it was made from."""
        return models.model_file(self.model_spec())

    def effective_gpu_layers(self) -> int | None:
        return models.effective_gpu_layers(self.model_spec())
