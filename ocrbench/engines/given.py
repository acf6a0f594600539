"""The `given` engine: a text-only dataset's OCR text, as recorded in its manifest.

It lets a corrector be judged on real OCR output that someone else produced (ICDAR 2017's post-OCR
set, say), with no image and no engine run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ocrbench.errors import DatasetError, SampleError
from ocrbench.types import OcrResult, Sample


@dataclass(frozen=True)
class Given:
    name: ClassVar[str] = "given"
    cacheable: ClassVar[bool] = False  # reading a string is cheaper than a cache lookup

    def version(self) -> str:
        return "1"

    def read_sample(self, sample: Sample) -> OcrResult:
        if sample.ocr is None:
            raise SampleError(
                sample.id,
                f'sample {sample.id!r} has no "ocr" text for --engine given; '
                "use an OCR engine such as tesseract on its image",
            )
        return OcrResult(text=sample.ocr)

    def recognize(self, image: Path) -> OcrResult:
        raise DatasetError(
            f'{image}: the given engine reads no images, only a manifest\'s "ocr" text'
        )
