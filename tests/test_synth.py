from __future__ import annotations

import itertools
import random
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import jiwer
import pytest
from PIL import Image, ImageDraw

from ocrbench import datasets, synth
from ocrbench.errors import ConfigError, DatasetError

from conftest import BUNDLED, needs_tesseract


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_pages(tmp_path: Path) -> None:
    first = synth.generate(tmp_path / "one", n=6, seed=5)
    synth.generate(tmp_path / "two", n=6, seed=5)
    made = files(tmp_path / "one")
    assert made == files(tmp_path / "two")
    assert "manifest.jsonl" in made and len(made) == 7
    other = synth.generate(tmp_path / "three", n=6, seed=6)
    assert [s.text for s in other.samples] != [s.text for s in first.samples]


def test_a_page_does_not_depend_on_how_many_are_made(tmp_path: Path) -> None:
    few = synth.generate(tmp_path / "few", n=2, seed=9, degrade="mild")
    more = synth.generate(tmp_path / "more", n=4, seed=9, degrade="mild")
    assert few.samples[1].text == more.samples[1].text
    assert few.samples[1].image and more.samples[1].image
    assert few.samples[1].image.read_bytes() == more.samples[1].image.read_bytes()


def test_n_levels_and_meta(tmp_path: Path) -> None:
    mixed = synth.generate(tmp_path / "mixed", n=7, seed=1)
    assert len(mixed.samples) == 7
    assert [s.meta["degrade"] for s in mixed.samples] == [*synth.LEVELS * 2, "clean"]
    assert [s.meta["kind"] for s in mixed.samples] == ["invoice"] * 3 + ["receipt"] * 3 + [
        "invoice"
    ]
    for sample in mixed.samples:
        assert sample.image is not None and sample.meta["font"]
        assert sample.image.suffix == (".jpg" if sample.meta["degrade"] == "heavy" else ".png")
        assert len(sample.text.splitlines()) >= 12 and "" not in sample.text.splitlines()
    heavy = synth.generate(tmp_path / "heavy", n=2, seed=1, degrade="heavy")
    assert {s.meta["degrade"] for s in heavy.samples} == {"heavy"}
    with Image.open(mixed.samples[0].image) as clean, Image.open(heavy.samples[0].image) as low:
        assert clean.width == 1000 and low.width < clean.width * 0.8  # heavy is low resolution


def test_an_invoice_holds_what_an_invoice_has(tmp_path: Path) -> None:
    invoice, *_ = synth.generate(tmp_path, n=1, seed=3).samples
    lines = invoice.text.splitlines()
    assert "INVOICE" in lines and lines.index("Description Qty Unit price Amount") > 5
    assert any(line.startswith("Invoice No: ") for line in lines)
    assert lines[-1].startswith("Total ")


def test_regenerating_replaces_the_old_pages_and_keeps_other_files(tmp_path: Path) -> None:
    synth.generate(tmp_path, n=4, seed=2)
    (tmp_path / "README.md").write_text("notes")
    again = synth.generate(tmp_path, n=2, seed=2)
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        s.image.name for s in again.samples if s.image
    ]
    assert (tmp_path / "README.md").read_text() == "notes"


Box = tuple[float, float, float, float]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, str, Box]]:
    """Every text drawn from now on: its baseline, the text and its box."""
    texts: list[tuple[float, str, Box]] = []
    draw_text = ImageDraw.ImageDraw.text

    def record(self: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, **kw: Any) -> None:
        box = self.textbbox(xy, text, font=kw.get("font"), anchor=kw.get("anchor"))
        texts.append((xy[1], text, box))
        draw_text(self, xy, text, **kw)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)
    return texts


def check_drawn(texts: list[tuple[float, str, Box]], image: Image.Image, lines: list[str]) -> None:
    """The ground truth is what was drawn, all of it on the page: each line is one row of texts
    (one baseline) read left to right, each text `border` px or more inside the page's edges and
    `apart` px or more from its neighbours."""
    border, apart = 16, 12
    rows: dict[float, list[tuple[Box, str]]] = defaultdict(list)
    for baseline, text, box in texts:
        rows[baseline].append((box, text))
    assert [" ".join(text for _, text in sorted(row)) for _, row in sorted(rows.items())] == lines
    for row in rows.values():
        row.sort()
        for (left, top, right, bottom), text in row:
            assert border <= left and right <= image.width - border, (text, left, right)
            assert border <= top and bottom <= image.height - border, (text, top, bottom)
        for (box, text), (next_box, next_text) in itertools.pairwise(row):
            assert next_box[0] - box[2] >= apart, (text, box, next_text, next_box)


def test_every_labelled_character_is_drawn_inside_the_page(
    drawn: list[tuple[float, str, Box]],
) -> None:
    # The bundled set's pages (its command's seed: its page 43's Amount column ran off the page),
    # then the invoices of a few more seeds (a receipt's width follows its font, an invoice's not).
    pages = [(2026, index) for index in range(48)]
    pages += [(seed, index) for seed in range(5) for index in range(48) if index // 3 % 2 == 0]
    for seed, index in pages:
        drawn.clear()
        kind, _, image, lines = synth._draw(synth._rng(seed, index), index)
        try:
            check_drawn(drawn, image, lines)
        except AssertionError as error:
            raise AssertionError(f"seed {seed}, page {index} ({kind}): {error}") from None


def test_the_widest_invoice_table_fits_its_page(
    drawn: list[tuple[float, str, Box]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The longest description, on every row, at prices that make larger totals than any real
    # page's, in each invoice font at the largest size: the gaps shrink to fit, and still part
    # the columns.
    longest = max((service[0] for service in synth.SERVICES), key=len)
    monkeypatch.setattr(synth, "SERVICES", ((longest, 4000, 4000),) * 7)
    for family in synth.INVOICE_FONTS:
        fonts = synth._fonts(family, synth.INVOICE_FONTS, 26)
        for seed in range(5):
            drawn.clear()
            image, lines = synth._invoice(random.Random(seed), fonts)
            check_drawn(drawn, image, lines)


def test_a_folder_holding_other_data_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    # Another dataset: its manifest is not synth's, whatever else the folder holds.
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "manifest.jsonl").write_text(
        '{"id": "a", "ocr": "Tbe quick brown fox", "text": "The quick brown fox"}\n'
        '{"id": "b", "ocr": "", "text": "hello world"}\n',
        encoding="utf-8",
    )
    # Synth's own pages, with one sample added by hand.
    added = tmp_path / "added"
    synth.generate(added, n=2, seed=5, degrade="clean")
    with open(added / "manifest.jsonl", "a", encoding="utf-8") as manifest:
        manifest.write('{"id": "scan-1", "image": "images/scan-1.png", "text": "mine"}\n')
    Image.new("L", (20, 20), 255).save(added / "images" / "scan-1.png")
    for folder, what in ((theirs, "2 samples"), (added, "1 sample")):
        before = files(folder)
        with pytest.raises(DatasetError) as refused:
            synth.generate(folder, n=1, seed=5)
        message = str(refused.value)
        assert "\n" not in message and str(folder / "manifest.jsonl") in message
        assert f"holds {what} synth did not make (the first on line " in message
        assert message.endswith("these would be lost; give an empty or new folder")
        assert files(folder) == before


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n must be a positive"):
        synth.generate(tmp_path, n=0, seed=1)
    with pytest.raises(ConfigError, match="seed must be"):
        synth.generate(tmp_path, n=1, seed=-1)
    with pytest.raises(ConfigError, match="degrade must be one of clean, mild, heavy, mixed"):
        synth.generate(tmp_path, n=1, seed=1, degrade="awful")
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(DatasetError, match="not empty and holds no manifest.jsonl"):
        synth.generate(tmp_path, n=1, seed=1)


def test_missing_fonts_fall_back_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(synth, "_font_files", lambda: {})
    synth._warn_missing.cache_clear()
    with pytest.warns(UserWarning, match="fonts-dejavu-core fonts-liberation"):
        made = synth.generate(tmp_path, n=1, seed=4, degrade="clean")
    synth._warn_missing.cache_clear()
    assert made.samples[0].meta["font"] == synth.BUILTIN_FONT


@pytest.mark.tesseract
def test_tesseract_reads_a_clean_page_as_its_ground_truth(tmp_path: Path) -> None:
    needs_tesseract()
    from ocrbench.engines.tesseract import Tesseract

    page, *_ = synth.generate(tmp_path, n=1, seed=2026, degrade="clean").samples
    assert page.image is not None
    read = Tesseract().recognize(page.image).text

    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).split())

    assert jiwer.cer(norm(page.text), norm(read)) < 0.05


def test_the_shipped_dataset_loads_is_small_and_is_what_the_command_makes(tmp_path: Path) -> None:
    shipped = datasets.load(BUNDLED)
    assert len(shipped.samples) >= 40
    assert sum(len(b) for b in files(BUNDLED).values()) < 5 * 1024 * 1024
    assert {s.meta["degrade"] for s in shipped.samples} == set(synth.LEVELS)
    assert {s.meta["kind"] for s in shipped.samples} == {"invoice", "receipt"}
    readme = (BUNDLED / "README.md").read_text(encoding="utf-8")
    assert "ocrbench datasets synth --n 48 --seed 2026 --degrade mixed" in readme
    # Its first pages again, from the command's seed: the same ground truth (bytes depend on the
    # fonts and Pillow this machine has, so they are compared by the determinism test instead).
    again = synth.generate(tmp_path, n=3, seed=2026)
    assert [(s.id, s.text, s.meta["degrade"]) for s in again.samples] == [
        (s.id, s.text, s.meta["degrade"]) for s in shipped.samples[:3]
    ]


def _disk_full_at_page(monkeypatch: pytest.MonkeyPatch, page: int) -> None:
    """Saving page `page` fails as on a full disk."""
    import errno

    real = synth.render_page

    def render(dest: Path, index: int, *args: Any) -> Any:
        if index == page:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(dest, index, *args)

    monkeypatch.setattr(synth, "render_page", render)


def test_a_synth_that_fails_part_way_leaves_nothing_that_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second synth into the same folder deleted the old pages, kept the old manifest, saved
    its first new pages and failed: the folder loaded as a dataset of the old references and the
    new images (CER 0.60 where a real run gives 0.04)."""
    dest = tmp_path / "syn"
    synth.generate(dest, n=4, seed=2)
    _disk_full_at_page(monkeypatch, 2)
    with pytest.raises(
        DatasetError, match=r"cannot write the synthetic pages into .*syn: No space"
    ):
        synth.generate(dest, n=4, seed=1)
    with pytest.raises(DatasetError):
        datasets.load(dest)
    monkeypatch.undo()
    again = synth.generate(dest, n=4, seed=1)  # and the folder can be made again
    assert len(again.samples) == 4


def test_an_interrupted_synth_can_be_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or SIGTERM) mid-way said "run again to resume", then the same command refused the
    folder: its pages were left and no manifest. A SIGKILL, which no cleanup survives, leaves
    the same, so a folder of synth's own pages alone is taken as synth's."""
    dest = tmp_path / "syn"
    real = synth.render_page

    def interrupted_at_the_third(dest: Path, index: int, seed: int, level: str) -> Any:
        if index == 2:
            raise KeyboardInterrupt
        return real(dest, index, seed, level)

    monkeypatch.setattr(synth, "render_page", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        synth.generate(dest, n=4, seed=1)
    assert not (dest / "images").exists() or not any((dest / "images").iterdir())
    monkeypatch.undo()
    assert len(synth.generate(dest, n=4, seed=1).samples) == 4
    # as a SIGKILL leaves it: pages, no manifest (perhaps its temporary one)
    (dest / "manifest.jsonl").unlink()
    (dest / ".manifest.jsonl.4242.tmp").write_text("{")
    assert len(synth.generate(dest, n=4, seed=1).samples) == 4
    (dest / "manifest.jsonl").unlink()
    (dest / "images" / "notes.txt").write_text("mine")  # not only synth's pages: refused
    with pytest.raises(DatasetError, match="holds no manifest.jsonl"):
        synth.generate(dest, n=4, seed=1)


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match=r"^cannot write the synthetic pages into .*file/syn"):
        synth.generate(tmp_path / "file" / "syn", n=1, seed=1)
