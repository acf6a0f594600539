"""A sweep's journal, `rows.jsonl`: each finished row appended as one JSON line and flushed to
disk, so a sweep killed at any point (even by SIGKILL) resumes with only what is missing.

Rows are found by their key (`rowkey.row_key`), never by a name. A line that is not a row with a
key (cut short by a kill, `{}`, `null`, a row written before rows had keys), or whose counts are
not counts or whose rates they do not give (a hand edit), is ignored, so its row is computed
again. At the end of a sweep the journal is rewritten to hold exactly the rows of
its results, each once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ocrbench import rundir
from ocrbench.errors import OcrbenchError

KEY = "row_key"


def _row(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:  # UnicodeDecodeError included: a kill can cut a character in two
        return None
    if not isinstance(row, dict) or not isinstance(row.get(KEY), str) or not _sound(row):
        return None
    return row


# A row's counts, and the rates each is over (its key covers what it was computed from, not what
# it holds: a row edited by hand, or written half by another version, is computed again).
_COUNTS = ("reference_chars", "reference_words", "raw_char_edits", "raw_word_edits",
           "char_edits", "word_edits", "words_fixed", "words_broken")  # fmt: skip
_RATES = {"cer": ("char_edits", "reference_chars"),
          "raw_cer": ("raw_char_edits", "reference_chars"),
          "wer": ("word_edits", "reference_words")}  # fmt: skip


def _sound(row: dict[str, Any]) -> bool:
    """Whether a row's counts are counts and its rates what they give."""
    counts = [row.get(name) for name in _COUNTS]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        return False
    for rate, (edits, total) in _RATES.items():
        value, expected = row.get(rate), row[edits] / row[total] if row[total] else None
        if expected is None and value is not None:
            return False
        if expected is not None and not (
            isinstance(value, (int, float)) and abs(value - expected) <= 1e-9
        ):
            return False
    return True


class Journal:
    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}
        self.lines = 0  # lines in the file, rows or not
        try:
            data = path.read_bytes() if path.exists() else b""
        except OSError as error:
            raise OcrbenchError(f"cannot read the journal {path}: {error.strerror}") from None
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            self.lines += 1
            row = _row(line)
            if row is not None:
                self.rows.setdefault(row[KEY], row)
        # End a cut line once, here, so every row appended later starts a line of its own; and
        # find a journal that cannot be written now, not after the sweep's OCR.
        self._append(b"\n" if data and not data.endswith(b"\n") else b"")

    def _append(self, data: bytes) -> None:
        try:
            with open(self.path, "ab") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as error:
            raise OcrbenchError(
                f"cannot write the journal {self.path}: {error.strerror}; the rows journaled "
                "before are kept, so the same command resumes from them"
            ) from None

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        fresh = [row for row in rows if row[KEY] not in self.rows]
        if not fresh:
            return
        self._append(b"".join(_line(row) for row in fresh))
        for row in fresh:
            self.rows[row[KEY]] = row
        self.lines += len(fresh)

    def rewrite(self, rows: Sequence[dict[str, Any]]) -> None:
        """Keep exactly these rows, each once (stale, superseded and broken lines go); a journal
        that holds just them already is left as it is."""
        unique = {row[KEY]: row for row in rows}
        if self.lines == len(self.rows) and self.rows.keys() == unique.keys():
            return
        rundir.replace_atomically(
            self.path,
            lambda temporary: temporary.write_bytes(b"".join(map(_line, unique.values()))),
        )


def _line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
