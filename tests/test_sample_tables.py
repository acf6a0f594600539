"""The report's sample tables: lines side by side, the corrector's own edits, the page beside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ocrbench import report, results
from ocrbench.sample_tables import PageImages, aligned_lines, sample_rows

from conftest import make_dataset
from test_plots import fabricate, records, sweep_configs


def row(reference: str, raw: str, corrected: str, **extra: object) -> dict[str, object]:
    return {"dataset": "d", "sample_id": "line0", "config": "c", "reference": reference,
            "ocr_text": raw, "hypothesis": corrected, "raw_cer": 0.1, "cer": 0.05,
            **extra}  # fmt: skip


def test_lines_are_side_by_side_when_the_three_texts_have_as_many() -> None:
    assert aligned_lines("a\nb", "a\nc", "a\nb") == [("a", "a", "a"), ("b", "c", "b")]
    assert aligned_lines("a\nb", "a b", "a b") == [("a\nb", "a b", "a b")]  # merged: whole texts


def test_each_line_shows_the_corrector_edits_beside_the_errors() -> None:
    table = sample_rows(pd.DataFrame([row("Total: 10\nDue", "Tota1: 10\nDue", "Total: 10\nDue")]))
    assert table.count("<tr>") == 1 + 2  # the header, then a row per line
    first, second = table.split("</tr>")[1:3]
    assert '<td class="edits"><pre>Tota<del>1</del><ins>l</ins>: 10</pre></td>' in first
    assert "<td><pre>Tota<del>l</del><ins>1</ins>: 10</pre></td>" in first  # raw OCR's error
    assert '<span class="note">—</span>' in second  # nothing edited on that line
    assert 'rowspan="2"' in first


def test_the_page_is_shown_beside_its_sample(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", ["Invoice No: 12345"])
    pages = PageImages({"dataset": {"name": "data", "path": str(data)}})
    table = sample_rows(pd.DataFrame([row("Invoice No: 12345", "Invoice N0: 12345",
                                          "Invoice No: 12345", dataset="data")]), pages)  # fmt: skip
    assert '<img class="page" alt="page line0" src="data:image/jpeg;base64,' in table
    gone = PageImages({"dataset": {"name": "data", "path": str(tmp_path / "moved")}})
    assert gone.get(("data", "line0")) == ""  # a moved dataset: no picture, no error


def test_a_report_of_fabricated_rows_without_images_still_renders(tmp_path: Path) -> None:
    results.write(tmp_path, records(fabricate(*sweep_configs())), {"command": "fabricated"})
    page = report.render(tmp_path).read_text(encoding="utf-8")
    assert "corrector's edits (raw → corrected)" in page and 'class="page"' not in page
