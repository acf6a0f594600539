"""The key of a results row: a hash of everything the row was computed from.

A stored row is reused (a resumed sweep, a second sweep into the same folder) only when its key is
the key the row would have now: the dataset's folder, the sample's content (its id, reference text,
image bytes and given OCR text), the text normalisation, each component's name, parameters and
version (an LLM corrector's version names its model file's sha256), and how rows are scored (the
row format, and the versions of jiwer, rapidfuzz and Python's Unicode database). A name alone
never makes two rows the same, so an edited ground truth, another normalisation or another model
is recomputed, not borrowed.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from ocrbench.cache import file_hash, key
from ocrbench.types import Sample

# Bump when the same inputs could give a row other columns or other figures (a new column, a change
# in how edits are counted): every stored row is then recomputed.
# 2: ocr_cached, correction_cached; 3: NFC after stripping punctuation, tie-proof fixed/broken
ROW_FORMAT = 3

Component = tuple[str, Mapping[str, Any], str]  # (name, parameters, version)


def image_sha256(sample: Sample) -> str | None:
    """The sample's image by its bytes: the hash it carries, else its file's."""
    if sample.image_sha256 is not None:
        return sample.image_sha256
    return None if sample.image is None else file_hash(sample.image)


def sample_content(sample: Sample) -> dict[str, Any]:
    """What a row reads from its sample: the image by its bytes, not its path."""
    return {
        "id": sample.id,
        "text": sample.text,
        "image_sha256": image_sha256(sample),
        "ocr": sample.ocr,
    }


@functools.cache
def scoring_libraries() -> dict[str, str]:
    """What counts a row's edits besides ocrbench: jiwer and rapidfuzz (edit distances, word
    alignment, flexible accuracy), and Python's Unicode database (NFC, grapheme clusters)."""
    found = {"unicode": unicodedata.unidata_version}
    for package in ("jiwer", "rapidfuzz"):
        try:
            found[package] = package_version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def row_key(
    dataset_root: str, sample: Sample, components: Sequence[Component], normalization: str
) -> str:
    """The row's key; `components` are the engine, then the corrector."""
    return key(
        "row",
        ROW_FORMAT,
        scoring_libraries(),
        dataset_root,
        sample_content(sample),
        [[name, dict(params), version] for name, params, version in components],
        normalization,
    )
