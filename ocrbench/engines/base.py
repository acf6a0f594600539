"""The engine interface: an image in, an `OcrResult` out."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from ocrbench.errors import DatasetError, OcrbenchError, SampleError
from ocrbench.types import OcrResult, Sample


@runtime_checkable
class OcrEngine(Protocol):
    """What every engine provides. Its parameters are the fields of a frozen dataclass."""

    name: ClassVar[str]

    def version(self) -> str:
        """The engine's own version, part of every cache key and run manifest."""
        ...

    def recognize(self, image: Path) -> OcrResult: ...


def read(engine: OcrEngine, sample: Sample) -> OcrResult:
    """Run an engine on a sample: image engines read its image, text engines its given OCR text."""
    read_sample = getattr(engine, "read_sample", None)
    if read_sample is not None:
        result: OcrResult = read_sample(sample)
        return result
    if sample.image is None:
        raise DatasetError(
            f"sample {sample.id!r} has no image, and engine {engine.name!r} reads images; "
            "for a text-only dataset use --engine given"
        )
    try:
        return engine.recognize(sample.image)
    except OcrbenchError:
        raise  # a set-up problem (no binary, no language pack): not this sample's fault
    except Exception as error:  # engines raise anything on an image they cannot read
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise SampleError(
            sample.id,
            f"sample {sample.id!r}: {engine.name} failed on {sample.image} "
            f"({type(error).__name__}{': ' + first if first else ''})",
        ) from error
