"""The values that flow through a benchmark: samples in, OCR results and corrections out.

All frozen: a value produced by one step is never edited by the next, so a cached value and a fresh
one are interchangeable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One labelled item of a dataset: an image, or a given OCR text, with its ground truth."""

    id: str
    text: str
    image: Path | None = None
    ocr: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Word:
    """A word an engine found, with its box (left, top, width, height) and confidence in [0, 1]."""

    text: str
    box: tuple[int, int, int, int] | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class OcrResult:
    """What an engine read from one image."""

    text: str
    seconds: float = 0.0
    words: tuple[Word, ...] = ()


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
