from __future__ import annotations

import time
from pathlib import Path

import pytest

from ocrbench.cache import Cache, file_hash, key


def test_round_trip_and_missing(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    entry = key("tesseract", {"psm": 3}, "5.3.0", "abc")
    assert cache.get("ocr", entry) is None
    cache.put("ocr", entry, {"text": "héllo", "seconds": 1.5})
    assert cache.get("ocr", entry) == {"text": "héllo", "seconds": 1.5}


def test_keys_depend_on_every_part() -> None:
    base = key("tesseract", {"psm": 3}, "5.3.0", "abc")
    assert base == key("tesseract", {"psm": 3}, "5.3.0", "abc")
    assert base != key("tesseract", {"psm": 4}, "5.3.0", "abc")
    assert base != key("tesseract", {"psm": 3}, "5.4.0", "abc")
    assert base != key("tesseract", {"psm": 3}, "5.3.0", "abd")


def test_unreadable_entry_counts_as_missing(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    entry = key("x")
    cache.put("ocr", entry, {"text": "ok"})
    path = next((tmp_path / "ocr").rglob("*.json"))
    path.write_bytes(b"\x00{not json")
    assert cache.get("ocr", entry) is None
    cache.put("ocr", entry, {"text": "again"})
    assert cache.get("ocr", entry) == {"text": "again"}
    assert not list(tmp_path.rglob(".tmp-*")), "no temporary files left behind"


def test_disabled_cache_holds_nothing() -> None:
    cache = Cache(None)
    cache.put("ocr", "k", {"text": "x"})
    assert cache.get("ocr", "k") is None


def test_file_hash_follows_content(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = file_hash(path)
    path.write_bytes(b"two!")
    assert file_hash(path) != first


def test_a_cache_that_cannot_be_written_is_one_warning_per_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each sweep task made its own Cache, and each warned: 12 lines for a 6-sample sweep."""
    root = tmp_path / "cache"
    root.write_text("a file where the cache folder should be")
    for n in range(3):
        Cache(root).put("ocr", f"key{n}", {"text": "x"})
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1 and "cannot write the cache" in said[0], said


def test_a_cache_folder_that_becomes_writable_is_written_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Said once per process, but not given up for good: a disk freed later is used again."""
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    Cache(blocker).put("ocr", "k1", {"text": "x"})
    blocker.unlink()
    cache = Cache(blocker)
    cache.put("ocr", "k2", {"text": "y"})
    assert cache.get("ocr", "k2") == {"text": "y"}
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_file_replaced_with_its_size_and_time_kept_is_hashed_again(tmp_path: Path) -> None:
    """`cp -p`, `rsync -t` or `touch -r` keep a file's size and mtime: the hash remembered for them
    named the old bytes (a swapped page image, a swapped model file, under the old hash)."""
    import os

    from ocrbench.models.hashing import sha256_of

    path = tmp_path / "page.png"
    path.write_bytes(b"first bytes")
    before, model_before = file_hash(path), sha256_of(path)
    stat = path.stat()
    # Past a tick of the kernel's coarse clock (up to 4 ms before Linux 6.13's fine-grained
    # timestamps): only the change time tells the two apart, as it does for a later `cp -p`.
    time.sleep(0.02)
    path.write_bytes(b"other bytes")  # the same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same mtime
    assert file_hash(path) != before
    assert sha256_of(path) != model_before
