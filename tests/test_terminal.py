"""The terminal summary: 120 columns, whatever the names it has to show."""

from __future__ import annotations

import unicodedata

from ocrbench import results, terminal

from test_plots import Fake, fabricate


def columns(line: str) -> int:
    """Display columns: an East Asian wide character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_long_and_wide_dataset_names_still_fit_and_names_stay_whole() -> None:
    """A folder name of 80 characters and one in Japanese: every line fits 120 columns, the
    columns line up under their headers, and a configuration name is not cut to pieces."""
    long = "d" * 80
    japanese = "発票データセット（請求書）スキャン第二版"
    frame = fabricate(Fake(dataset=long), Fake(corrector="lexicon", fix=0.5, dataset=long),
                      Fake(dataset=japanese),
                      Fake(corrector="lexicon", fix=0.5, dataset=japanese), samples=12)  # fmt: skip
    shown = terminal.text(results.summary(frame))
    table = shown.split("\n\n")[0].splitlines()
    assert all(columns(line) <= terminal.WIDTH for line in table), max(map(columns, table))
    assert any("tesseract + lexicon" in line for line in table)
    # The CER column starts at the same display column on every row that has one.
    starts = {columns(line[: line.index("0.")]) for line in table[1:] if "0." in line}
    assert len(starts) == 1, starts
