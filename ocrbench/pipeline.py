"""The seed tutorial's flow, on ocrbench's parts: an OCR engine with an AI post-processor attached.

Users who know the tutorial recognise every call:

    def logger(msg):
        print("[ocrbench] " + msg)

    ai_engine = AIPostProcessor(logging=logger)            # noisy-channel on the embedded model
    cfg = ModelConfig()
    cfg.allow_auto_download = "true"
    cfg.directory_model_path = "YOUR_DIRECTORY/ai_models"
    cfg.hugging_face_repo_id = "Qwen/Qwen2.5-3B-Instruct-GGUF"
    cfg.hugging_face_quantization = "int8"
    cfg.gpu_layers = 10
    ai_engine.set_configuration(cfg)

    engine = OcrPipeline("tesseract")
    engine.set_post_processor(ai_engine.run_postprocessor)
    engine.load_image("invoice.png")
    raw_result = engine.recognize()
    corrected_result = engine.run_postprocessor(raw_result)
    ai_engine.free_resources()

Underneath, the engine and corrector are ordinary registry components, so what works here works in
`ocrbench run` and in sweeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ocrbench import pages
from ocrbench.errors import ConfigError, DatasetError
from ocrbench.models.files import say
from ocrbench.registry import correctors, did_you_mean, engines, params_of, parse_spec
from ocrbench.types import Correction, OcrResult

Log = Callable[[str], None]


def _flag(value: bool | str) -> bool:
    """The tutorial writes booleans as strings ("true"); accept both."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ConfigError(f"allow_auto_download must be true or false, not {value!r}")


@dataclass
class ModelConfig:
    """The tutorial's AsposeAIModelConfig: every field optional; unset ones keep the corrector's."""

    allow_auto_download: bool | str | None = None
    directory_model_path: str | None = None
    hugging_face_repo_id: str | None = None
    hugging_face_quantization: str | None = None
    gpu_layers: int | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        # The tutorial sets fields one by one: a misspelt one must not leave the default to run.
        known = [f.name for f in fields(self)]
        if name not in known:
            raise ConfigError(f"ModelConfig has no field {name!r}{did_you_mean(name, known)}")
        super().__setattr__(name, value)

    def as_params(self) -> dict[str, Any]:
        """The same settings in ModelSpec's vocabulary."""
        names = {
            "allow_auto_download": "allow_download",
            "directory_model_path": "model_dir",
            "hugging_face_repo_id": "repo_id",
            "hugging_face_quantization": "quantization",
            "gpu_layers": "gpu_layers",
        }
        params: dict[str, Any] = {}
        for ours, theirs in names.items():
            value = getattr(self, ours)
            if value is not None:
                params[theirs] = _flag(value) if ours == "allow_auto_download" else value
        return params


class AIPostProcessor:
    """A corrector configured the tutorial's way; `run_postprocessor` fits `set_post_processor`."""

    def __init__(self, corrector: str = "noisy-channel", *, logging: Log | None = None):
        self.logging = logging
        # What the user set (the spec's parameters, then each configuration's), not the fields
        # made concrete from it: a new repo id must resolve its own default quantization.
        self._name, self._settings = parse_spec(corrector)
        self.corrector: Any = correctors.create(self._name, self._settings)
        self._attach_logging()
        self.last_correction: Correction | None = None

    def _attach_logging(self) -> None:
        if self.logging is not None and hasattr(self.corrector, "logging"):
            self.corrector = replace(self.corrector, logging=self.logging)

    def set_configuration(self, config: ModelConfig) -> None:
        params = config.as_params()
        known = params_of(self.corrector)
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigError(
                f"corrector {self.corrector.name!r} takes no model settings ({', '.join(unknown)})"
            )
        # Fields not set keep the earlier configurations' (as the tutorial's object does). Made
        # first: a configuration refused leaves the running one and its settings as they were.
        settings = {**self._settings, **params}
        corrector = correctors.create(self._name, settings)
        self.free_resources()
        self._settings, self.corrector = settings, corrector
        self._attach_logging()

    def run_postprocessor(self, result: OcrResult) -> OcrResult:
        if not isinstance(result, OcrResult):
            raise ConfigError(
                f"run_postprocessor takes the OcrResult that recognize() returns, not "
                f"{type(result).__name__}"
            )
        correction = self.corrector.correct(result)
        self.last_correction = correction
        changed = ", ".join(f"{a!r}->{b!r}" for a, b in correction.changes) or "nothing"
        say(self.logging, f"corrected in {correction.seconds:.2f} s: {changed}")
        # No words: the engine's boxes are of the text before correction.
        return OcrResult(text=correction.text, seconds=correction.seconds)

    def free_resources(self) -> None:
        close = getattr(self.corrector, "close", None)
        if close is not None:
            close()


class OcrPipeline:
    """The tutorial's OcrEngine: load an image, recognise it, hand it to a post-processor."""

    def __init__(self, engine: str = "tesseract"):
        self.engine: Any = engines.from_spec(engine)
        self.image: Path | None = None
        self.post_processor: Callable[[OcrResult], OcrResult] | None = None

    def load_image(self, path: str | Path) -> None:
        if not str(path).strip():
            raise DatasetError("load_image needs an image's path, not an empty one")
        path = Path(path).expanduser()
        if path.is_dir():
            raise DatasetError(f"{path} is a folder, not an image")
        if not path.is_file():
            raise DatasetError(f"{path}: image not found")
        problem = pages.problem(path)  # as a dataset's check: a bad page is said now, plainly
        if problem is not None:
            raise pages.PageError(problem)
        self.image = path

    def recognize(self, image: str | Path | None = None) -> OcrResult:
        if image is not None:
            self.load_image(image)
        if self.image is None:
            raise DatasetError("no image: call load_image(path) first")
        result: OcrResult = self.engine.recognize(self.image)
        return result

    def set_post_processor(self, post_processor: Callable[[OcrResult], OcrResult]) -> None:
        self.post_processor = post_processor

    def run_postprocessor(self, result: OcrResult) -> OcrResult:
        if self.post_processor is None:
            raise ConfigError("no post-processor: call set_post_processor(...) first")
        return self.post_processor(result)
