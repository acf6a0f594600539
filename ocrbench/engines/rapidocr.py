"""RapidOCR: PaddleOCR's PP-OCRv4 text detection and recognition and its direction classifier, as
ONNX files inside the `rapidocr_onnxruntime` wheel, run on onnxruntime, offline.

Its boxes are put back into lines in reading order as EasyOCR's are (`layout.py`). onnxruntime is
heavy: nothing here imports it (or rapidocr_onnxruntime) until a page is read, and the engine is
built once per process for each configuration, with the sweep's share of the cores.
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any, ClassVar, Literal

from ocrbench import pages
from ocrbench.engines.layout import bounding_box, layout_text
from ocrbench.errors import SetupError
from ocrbench.executors import thread_share
from ocrbench.types import OcrResult, Word

INSTALL_HINT = 'pip install "ocrbench[rapidocr]"'
MODELS = ("ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx",
          "ch_ppocr_mobile_v2.0_cls_infer.onnx")  # fmt: skip


@dataclass(frozen=True)
class RapidOcr:
    """`box_thresh`: the detector's score a text box needs; `text_score`: the recogniser's score
    a box's text needs to be kept; `use_cls`: turn boxes read upside down (the classifier);
    `layout`: "lines" reads straight across the page, "columns" reads columns of prose one after
    another."""

    name: ClassVar[str] = "rapidocr"
    box_thresh: float = 0.5
    text_score: float = 0.5
    use_cls: bool = True
    layout: Literal["lines", "columns"] = "lines"

    def __post_init__(self) -> None:
        for field in ("box_thresh", "text_score"):
            value = getattr(self, field)
            if not 0 <= value < 1:
                raise ValueError(f"{field} must be in [0, 1), not {value}")
        if self.layout not in ("lines", "columns"):
            raise ValueError(f"layout must be 'lines' or 'columns', not {self.layout!r}")

    def version(self) -> str:
        """E.g. "rapidocr_onnxruntime 1.4.4 / onnxruntime 1.32 / models 3c0a...": the model
        files' hash is part of it, since the package could ship others under the same names."""
        try:
            rapid = metadata.version("rapidocr_onnxruntime")
            runtime = metadata.version("onnxruntime")
        except metadata.PackageNotFoundError as error:
            raise SetupError(f"{error.name} is not installed: {INSTALL_HINT}") from None
        short = ".".join(runtime.split(".")[:2])
        models = f"models {models_hash()[:12]} / {pages.VERSION}"
        return f"rapidocr_onnxruntime {rapid} / onnxruntime {short} / {models}"

    def recognize(self, image: Path) -> OcrResult:
        pixels = pages.rgb(image)[:, :, ::-1]  # RapidOCR reads arrays as OpenCV's BGR
        engine = _engine(_threads())
        start = time.perf_counter()
        found, _ = engine(
            pixels.copy(), use_cls=self.use_cls, box_thresh=self.box_thresh,
            text_score=self.text_score,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        words = tuple(
            Word(text=str(text), box=bounding_box(points), confidence=float(score))
            for points, text, score in found or ()
            if str(text).strip()
        )
        text = layout_text(words, columns=self.layout == "columns")
        return OcrResult(text=text, seconds=seconds, words=words)


def _threads() -> int:
    """A sweep worker's share of the cores; alone, onnxruntime decides (-1)."""
    return thread_share() or -1


@functools.cache
def models_hash() -> str:
    """The sha256 of the three ONNX files the installed wheel ships, in order."""
    folder = _models_folder()
    digest = hashlib.sha256()
    for name in MODELS:
        path = folder / name
        if not path.is_file():
            raise SetupError(f"RapidOCR's model {path} is missing: reinstall, {INSTALL_HINT}")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _models_folder() -> Path:
    spec = find_spec("rapidocr_onnxruntime")  # found, not imported: onnxruntime stays unloaded
    if spec is None or not spec.submodule_search_locations:
        raise SetupError(f"rapidocr_onnxruntime is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@functools.cache
def _engine(threads: int) -> Any:
    """One RapidOCR per process and thread count: building one loads three ONNX sessions."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as error:
        raise SetupError(
            f"rapidocr_onnxruntime cannot be imported ({error}): {INSTALL_HINT}"
        ) from None
    # The global settings: RapidOCR copies them over each model's own (det_..., rec_...).
    return RapidOCR(print_verbose=False, intra_op_num_threads=threads, inter_op_num_threads=1)
