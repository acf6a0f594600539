"""A model file's sha256, computed once per version of the file (models are large): the cache's
`file_hash`, which knows a file replaced with its size and mtime kept."""

from __future__ import annotations

from pathlib import Path

from ocrbench.cache import file_hash


def sha256_of(path: Path) -> str:
    return file_hash(path)
