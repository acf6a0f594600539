"""The baseline corrector: changes nothing, so every other corrector is compared with raw OCR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ocrbench.types import Correction, OcrResult


@dataclass(frozen=True)
class Identity:
    name: ClassVar[str] = "identity"
    cacheable: ClassVar[bool] = False  # nothing to save

    def version(self) -> str:
        return "1"

    def correct(self, ocr: OcrResult) -> Correction:
        return Correction(text=ocr.text)
