"""The values that flow through a benchmark: samples in, OCR results and corrections out.

All frozen: a value produced by one step is never edited by the next, so a cached value and a fresh
one are interchangeable. `from_json` reads one back from the cache and checks every field, so an
entry of another shape (valid JSON, but `"text": 5`) is an error, never a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, not {type(value).__name__}")
    return float(value)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class Sample:
    """One labelled item of a dataset: an image, or a given OCR text, with its ground truth."""

    id: str
    text: str
    image: Path | None = None
    ocr: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    # The image's sha256 where the sample travels without its file (a Dask worker reads its bytes
    # from the task, keys its rows by this): None means "hash the file".
    image_sha256: str | None = None


@dataclass(frozen=True)
class Word:
    """A word an engine found, with its box (left, top, width, height) and confidence in [0, 1]."""

    text: str
    box: tuple[int, int, int, int] | None = None
    confidence: float | None = None

    @classmethod
    def from_json(cls, entry: Any) -> Word:
        box = entry["box"]
        if box is not None:
            if len(_list(box)) != 4 or not all(type(v) is int for v in box):
                raise TypeError("a word's box is four integers")
            box = (box[0], box[1], box[2], box[3])
        confidence = entry["confidence"]
        return cls(_string(entry["text"]), box, None if confidence is None else _number(confidence))


@dataclass(frozen=True)
class OcrResult:
    """What an engine read from one image."""

    text: str
    seconds: float = 0.0
    words: tuple[Word, ...] = ()
    # Read from the cache: `seconds` were measured by the run that read the page first.
    cached: bool = field(default=False, compare=False)

    @classmethod
    def from_json(cls, entry: Any) -> OcrResult:
        words = tuple(Word.from_json(word) for word in _list(entry["words"]))
        return cls(_string(entry["text"]), _number(entry["seconds"]), words)


@dataclass(frozen=True)
class Correction:
    """What a corrector made of an OCR text.

    `tokens` counts the tokens the model scored or generated (0 for non-LLM correctors);
    `changes` lists (before, after) word pairs the corrector changed; `rejected` says why a guard
    threw the corrector's output away and kept the input (None when it was accepted).
    """

    text: str
    seconds: float = 0.0
    tokens: int = 0
    changes: tuple[tuple[str, str], ...] = ()
    rejected: str | None = None
    # Read from the cache: `seconds` were measured by the run that made the correction first.
    cached: bool = field(default=False, compare=False)

    @classmethod
    def from_json(cls, entry: Any) -> Correction:
        changes = []
        for change in _list(entry["changes"]):
            before, after = _list(change)
            changes.append((_string(before), _string(after)))
        tokens, rejected = entry["tokens"], entry["rejected"]
        if type(tokens) is not int:
            raise TypeError("tokens is a count")
        return cls(
            text=_string(entry["text"]),
            seconds=_number(entry["seconds"]),
            tokens=tokens,
            changes=tuple(changes),
            rejected=None if rejected is None else _string(rejected),
        )
