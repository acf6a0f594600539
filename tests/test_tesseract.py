from __future__ import annotations

from pathlib import Path

import pytest

from ocrbench import datasets, run
from ocrbench.cache import Cache
from ocrbench.engines import tesseract as tesseract_module
from ocrbench.engines.tesseract import Tesseract
from ocrbench.errors import DatasetError, SetupError

from conftest import needs_tesseract, shared_data

pytestmark = pytest.mark.tesseract

# The acceptance bounds, from Tesseract 5.3 on ../shared/data/tesseract-test.
CER_BOUNDS = {"phototest": 0.01, "eurotext": 0.12, "8071_093.3B": 0.12, "8087_054.3B": 0.12}


@pytest.mark.shared
@pytest.mark.slow
def test_cer_on_real_scanned_pages(tmp_path: Path) -> None:
    """The scanned pages, converted with `pairs` and run through the pipeline as a user would."""
    needs_tesseract()
    dataset = datasets.convert("pairs", shared_data("tesseract-test"), tmp_path / "tt")
    rows = run.run(dataset, Tesseract(), cache=Cache(None), progress=False)
    cer = {row["sample_id"]: row["cer"] for row in rows}
    assert set(cer) == set(CER_BOUNDS)
    for page, bound in CER_BOUNDS.items():
        assert cer[page] <= bound, (page, cer[page])
    assert all(row["ocr_seconds"] > 0 for row in rows)


def test_missing_language_pack_says_how_to_install() -> None:
    needs_tesseract()
    with pytest.raises(SetupError, match="apt-get install tesseract-ocr-klingon"):
        Tesseract(lang="eng+klingon").version()


def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    tesseract_module._installed.cache_clear()
    try:
        with pytest.raises(SetupError, match="apt-get install tesseract-ocr"):
            Tesseract().version()
    finally:
        tesseract_module._installed.cache_clear()


def test_corrupt_and_missing_images_name_the_file(tmp_path: Path) -> None:
    needs_tesseract()
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DatasetError, match="broken.png: cannot read image"):
        Tesseract().recognize(corrupt)
    with pytest.raises(DatasetError, match="nothing.png: image not found"):
        Tesseract().recognize(tmp_path / "nothing.png")


def test_layout_matches_tesseract_plain_text() -> None:
    needs_tesseract()
    import pytesseract
    from PIL import Image

    page = shared_data("tesseract-test") / "phototest.tif"
    with Image.open(page) as image:
        plain = pytesseract.image_to_string(image)
    assert Tesseract().recognize(page).text == plain.strip()
