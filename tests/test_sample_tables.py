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


def test_each_ocr_line_is_beside_the_reference_line_it_reads() -> None:
    assert aligned_lines("a\nab", "a\nac", "a\nab") == [("a", "a", "a"), ("ab", "ac", "ab")]
    # Blank lines left out; a line the OCR made up stands alone, the lines after still pair.
    assert aligned_lines("Total\nB line\nC", "Total\n\nB lime\nzzzzzzzz\nC",
                         "Total\n\nB line\nzzzzzzzz\nC") == [
        ("Total", "Total", "Total"), ("B line", "B lime", "B line"),
        ("", "zzzzzzzz", "zzzzzzzz"), ("C", "C", "C"),
    ]  # fmt: skip
    # A reference line the OCR lost.
    assert aligned_lines("one\ntwo\nthree", "one\nthree", "one\nthree") == [
        ("one", "one", "one"), ("two", "", ""), ("three", "three", "three"),
    ]  # fmt: skip
    # A corrector that joined lines leaves no pairing: the whole texts.
    assert aligned_lines("a\nb", "a\nb", "a b") == [("a\nb", "a\nb", "a b")]


def test_each_line_shows_the_corrector_edits_beside_the_errors() -> None:
    table = sample_rows(pd.DataFrame([row("Total: 10\nDue", "Tota1: 10\nDue", "Total: 10\nDue")]))
    assert table.count("<tr>") == 1 + 2  # the header, then a row per line
    first, second = table.split("</tr>")[1:3]
    assert '<td class="edits"><pre>Tota<del>1</del><ins>l</ins>: 10</pre></td>' in first
    assert "<td><pre>Tota<del>l</del><ins>1</ins>: 10</pre></td>" in first  # raw OCR's error
    assert '<td class="edits"><pre></pre></td>' in second  # nothing edited on that line
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


def test_a_sample_the_corrector_left_alone_says_so_once() -> None:
    table = sample_rows(pd.DataFrame([row("a\nb", "a\nc", "a\nc")]))
    assert table.count("— no edit") == 1


def test_a_page_changed_since_the_run_is_not_shown_as_the_one_read(tmp_path: Path) -> None:
    """The thumbnail is found through the dataset's folder as it is now; an image replaced since
    the run is not the page its row's text was read from, so it is left out."""
    from ocrbench import datasets, rowkey

    data = make_dataset(tmp_path / "data", ["Invoice No: 12345"])
    sample = datasets.load(data).samples[0]
    read = rowkey.image_sha256(sample)
    assert read is not None
    rows = pd.DataFrame([row("Invoice No: 12345", "Invoice N0: 12345", "Invoice No: 12345",
                             dataset="data", image_sha256=read)])  # fmt: skip
    manifest = {"dataset": {"name": "data", "path": str(data)}}
    assert '<img class="page"' in sample_rows(rows, PageImages(manifest, rows))
    assert sample.image is not None
    other = make_dataset(tmp_path / "other", ["Something else entirely"])
    Path(sample.image).write_bytes(Path(datasets.load(other).samples[0].image or "").read_bytes())
    assert '<img class="page"' not in sample_rows(rows, PageImages(manifest, rows))
    # Rows from before the column existed keep their picture (nothing to check it against).
    assert '<img class="page"' in sample_rows(
        rows.drop(columns=["image_sha256"]),
        PageImages(manifest, rows.drop(columns=["image_sha256"])),
    )


def test_rows_record_the_image_they_were_read_from(tmp_path: Path) -> None:
    from dataclasses import replace

    from ocrbench import datasets, rowkey, run
    from ocrbench.cache import Cache
    from ocrbench.registry import engines

    loaded = datasets.load(make_dataset(tmp_path / "data", ["Invoice No: 12345"]))
    dataset = replace(loaded, samples=(replace(loaded.samples[0], ocr="Invoice N0: 12345"),))
    (found,) = run.run(dataset, engines.create("given"), cache=Cache(None), progress=False)
    assert found["image_sha256"] == rowkey.image_sha256(dataset.samples[0])


def test_samples_made_worse_name_their_dataset_when_there_are_several() -> None:
    """One folder listed twice ("test (limit 5)", "test (limit none)"): the same sample made worse
    under each is told apart by its dataset."""
    from test_plots import Fake

    frame = fabricate(Fake(dataset="a"), Fake(corrector="lexicon", harm=0.3, dataset="a"),
                      Fake(dataset="b"), Fake(corrector="lexicon", harm=0.3, dataset="b"))  # fmt: skip
    table = report.hurt_samples(frame)
    assert "<small>a: tesseract + lexicon</small>" in table
    assert "<small>b: tesseract + lexicon</small>" in table
    single = report.hurt_samples(frame[frame["dataset"] == "a"])
    assert "<small>tesseract + lexicon</small>" in single


def test_samples_made_worse_say_how_many_are_shown_of_how_many() -> None:
    """16 samples made worse showed 10, with nothing saying 6 were left out."""
    from test_plots import Fake

    frame = fabricate(Fake(), Fake(corrector="lexicon", harm=0.4), samples=16)
    worse = frame[
        (frame["corrector"] != "identity") & (frame["char_edits"] > frame["raw_char_edits"])
    ]
    assert len(worse) > 3
    table = report.hurt_samples(frame, n=3)
    assert (
        f"{len(worse)} (configuration, sample) pairs made worse; the 3 that gained most edits"
        in table
    )
    assert "the 3 that" not in report.hurt_samples(frame, n=len(worse))
