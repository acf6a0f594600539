"""The corrector interface: an `OcrResult` in, a `Correction` out."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from ocrbench.types import Correction, OcrResult


@runtime_checkable
class Corrector(Protocol):
    """What every corrector provides. Its parameters are the fields of a frozen dataclass.

    `version()` must change whenever the output could: an LLM corrector includes its model file's
    sha256 there, so the correction cache never serves another model's output.
    """

    name: ClassVar[str]

    def version(self) -> str: ...

    def correct(self, ocr: OcrResult) -> Correction: ...
