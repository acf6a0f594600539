"""A content-keyed disk cache: one JSON file per entry, written atomically.

Keys hash everything the value depends on (image bytes, engine name, parameters and version), so an
entry is never stale, only unused. Files plus `os.replace` make it safe for several processes at
once and for a run killed at any point: an entry is either whole or absent. An entry that cannot be
read is treated as missing and recomputed. A cache that cannot be written (a read-only or full disk)
is a one-line warning, and the run goes on without storing anything more.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_ROOT = Path("~/.cache/ocrbench").expanduser()


def default_root() -> Path:
    """`$OCRBENCH_CACHE` if set, else ~/.cache/ocrbench."""
    return Path(os.environ.get("OCRBENCH_CACHE") or DEFAULT_ROOT).expanduser()


def key(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


FileVersion = tuple[str, int, int, int, int]  # (path, size, mtime, inode, change time)


def file_version(path: Path) -> FileVersion:
    """A file as it is now, for what a process remembers of it: size and mtime alone survive a
    copy made with `cp -p` or `touch -r` over the file, its change time and inode do not."""
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes, remembered within a process per version of the file."""
    return _file_hash(file_version(path))


@functools.lru_cache(maxsize=65536)
def _file_hash(version: FileVersion) -> str:
    path = version[0]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_UNWRITABLE: set[str] = set()  # cache folders this process could not write: said once, tried again


class Cache:
    """`Cache(None)` is a cache that holds nothing (for --no-cache)."""

    def __init__(self, root: Path | None):
        self.root = root
        self.writable = root is not None

    def _path(self, kind: str, key: str) -> Path:
        assert self.root is not None
        return self.root / kind / key[:2] / f"{key}.json"

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        try:
            value = json.loads(self._path(kind, key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or unreadable: recompute
        return value if isinstance(value, dict) else None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        if self.root is None or not self.writable:
            return
        path = self._path(kind, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        except OSError as error:
            self._unwritable(error)
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(value, out, ensure_ascii=False)
            os.replace(temporary, path)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            self._unwritable(error)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _unwritable(self, error: OSError) -> None:
        self.writable = False
        if str(self.root) in _UNWRITABLE:
            return  # said already by another Cache on this folder (a sweep makes one per task)
        _UNWRITABLE.add(str(self.root))
        print(
            f"ocrbench: warning: cannot write the cache in {self.root} ({error.strerror}); "
            "going on without it",
            file=sys.stderr,
        )


class RecordingCache(Cache):
    """A cache for a worker that cannot reach the client's: it finds nothing (the client looked
    first) and records what is put, for the client to store when the task's result comes back."""

    def __init__(self) -> None:
        super().__init__(None)
        self.written: list[tuple[str, str, dict[str, Any]]] = []

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        self.written.append((kind, key, value))
