from __future__ import annotations

import unicodedata
from pathlib import Path

import jiwer
import pytest
from PIL import Image

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
