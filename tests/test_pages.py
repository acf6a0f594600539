"""Every engine reads the same page of a file: its EXIF orientation, transparency, 16-bit grey,
resolution and frames as one decoding (pages.py) gives them, never a lossy copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocrbench import datasets, pages
from ocrbench.engines import tesseract as tesseract_module
from ocrbench.engines.tesseract import Tesseract
from ocrbench.errors import DatasetError

from conftest import needs_tesseract

WORDS = "Invoice total 1,234.56"


def _text_page(size: tuple[int, int] = (900, 160)) -> Image.Image:
    """Black words on white, large enough for any engine to read."""
    picture = Image.new("L", size, 255)
    ImageDraw.Draw(picture).text((30, 40), WORDS, fill=0, font=ImageFont.load_default(size=56))
    return picture


def _tesseract_inputs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What Tesseract is handed (its input is decoded right away, before the file goes)."""
    from ocrbench.engines import tesseract

    seen: list[Any] = []
    real = tesseract._image_to_data

    def spy(page: Path, *args: Any) -> Any:
        with Image.open(page) as picture:
            seen.append((np.asarray(picture.convert("RGB")).copy(), picture.info.get("dpi")))
        return real(page, *args)

    monkeypatch.setattr(tesseract, "_image_to_data", spy)
    return seen


def test_tesseract_reads_the_jpeg_page_itself_not_a_lossy_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytesseract re-saved a Pillow image as a JPEG at quality 75: Tesseract read other pixels
    than the file's (and than EasyOCR and RapidOCR) on every JPEG page."""
    needs_tesseract()
    noisy = np.asarray(_text_page(), dtype=np.int16) + np.random.default_rng(0).integers(
        -40, 40, (160, 900)
    )
    path = tmp_path / "page.jpg"
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "L").save(path, quality=95)
    seen = _tesseract_inputs(monkeypatch)
    Tesseract(psm=7).recognize(path)
    ((given, _),) = seen
    assert not isinstance(given, Image.Image), "a Pillow image is re-encoded as a lossy JPEG"
    assert np.array_equal(given, pages.rgb(path))


def test_a_sideways_photo_is_read_upright_by_every_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs_tesseract()
    upright = _text_page().convert("RGB")
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; a viewer turns it 90 degrees clockwise
    upright.transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)
    pixels = pages.rgb(path)
    assert pixels.shape == (160, 900, 3)
    seen = _tesseract_inputs(monkeypatch)
    result = Tesseract(psm=7).recognize(path)
    assert np.array_equal(seen[0][0], pixels)
    assert "Invoice" in result.text and "total" in result.text


@pytest.mark.parametrize("kind", ["RGBA", "LA", "P"])
def test_transparency_is_laid_over_white_for_every_engine(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Black words on a transparent background: Tesseract saw them, the pixel engines a black
    page."""
    needs_tesseract()
    ink = np.asarray(_text_page()) < 128
    if kind == "P":
        picture = Image.fromarray(ink.astype(np.uint8), "P")
        picture.putpalette([0, 0, 0, 0, 0, 0])  # index 0 (paper) transparent, 1 (ink) black
        picture.info["transparency"] = 0
    else:
        alpha = Image.fromarray(np.where(ink, 255, 0).astype(np.uint8), "L")
        picture = Image.new(kind, alpha.size)
        picture.putalpha(alpha)
    path = tmp_path / "clear.png"
    picture.save(path)
    pixels = pages.rgb(path)
    assert pixels[0, 0].tolist() == [255, 255, 255]  # paper
    assert (pixels[ink] == 0).all()  # ink
    seen = _tesseract_inputs(monkeypatch)
    assert "Invoice" in Tesseract(psm=7).recognize(path).text
    assert np.array_equal(seen[0][0], pixels)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.where(np.asarray(_text_page()) < 128, 10_000, 60_000).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    pixels = pages.rgb(path)
    assert sorted(np.unique(pixels).tolist()) == [39, 233]  # 10000/257, 60000/257


def test_the_page_keeps_its_resolution_for_tesseract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy written for Tesseract carries the file's dpi (Tesseract sizes its reading by it)."""
    needs_tesseract()
    path = tmp_path / "scan.png"
    picture = _text_page().convert("LA")  # transparency makes a copy necessary
    picture.save(path, dpi=(150, 150))
    seen = _tesseract_inputs(monkeypatch)
    Tesseract(psm=7).recognize(path)
    assert seen[0][1] == pytest.approx((150, 150), abs=0.5)


def test_a_file_of_several_pages_is_refused_not_read_in_part(tmp_path: Path) -> None:
    """A two-page TIFF whose reference holds both pages was scored on its first page alone."""
    first, second = _text_page(), _text_page()
    image = tmp_path / "images" / "two.tif"
    image.parent.mkdir()
    first.save(image, save_all=True, append_images=[second])
    (tmp_path / "manifest.jsonl").write_text(
        json.dumps({"id": "two", "image": "images/two.tif", "text": WORDS + "\n" + WORDS}) + "\n"
    )
    with pytest.raises(DatasetError, match=r"two.tif holds 2 pages"):
        datasets.load(tmp_path)
    with pytest.raises(DatasetError, match=r"holds 2 pages"):
        pages.rgb(image)


def test_a_page_too_large_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "poster.png"
    _text_page().save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 900 * 160 // 4)  # Pillow refuses past twice it
    with pytest.raises(DatasetError, match=r"poster.png is too large to read safely"):
        pages.rgb(path)
    assert "too large" in (pages.problem(path) or "")


def test_image_engines_name_the_page_decoding_in_their_version() -> None:
    """Cached readings made before pages were decoded here are not served again."""
    needs_tesseract()
    assert pages.VERSION in Tesseract().version()
    tesseract_module.forget()


def test_a_camera_jpeg_with_a_preview_is_one_page(tmp_path: Path) -> None:
    """Phone cameras save a JPEG with a second, smaller image (MPF: Pillow's "MPO", 2 frames): it
    is one page, its first image, not a file of several pages to refuse."""
    path = tmp_path / "photo.jpg"
    page = _text_page().convert("RGB")
    page.save(path, format="MPO", save_all=True, append_images=[page.resize((90, 16))])
    with Image.open(path) as picture:
        assert picture.format == "MPO" and picture.n_frames == 2
    assert pages.problem(path) is None
    assert pages.rgb(path).shape == (160, 900, 3)


def test_thirty_two_bit_grey_is_not_read_as_sixteen_and_transparency_stays_white(
    tmp_path: Path,
) -> None:
    eight_bit_range = tmp_path / "wide.tif"
    Image.fromarray(np.full((20, 40), 200, dtype=np.int32), "I").save(eight_bit_range)
    assert int(pages.rgb(eight_bit_range).mean()) == 200  # not 200/257: black
    deep = tmp_path / "deep.png"
    values = np.where(np.asarray(_text_page()) < 128, 10_000, 0).astype(np.uint16)
    Image.fromarray(values).save(deep, transparency=0)
    pixels = pages.rgb(deep)
    assert pixels[0, 0].tolist() == [255, 255, 255]  # the transparent paper, on white


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_turned_tiff_is_read_upright_whatever_its_compression(
    tmp_path: Path, compression: str, orientation: int
) -> None:
    """Pillow's own decoder of uncompressed TIFF garbled a page turned by a quarter (orientation
    5-8): its rows laid out at the wrong width, so every engine read noise."""
    from PIL import TiffImagePlugin

    upright = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(upright).rectangle((10, 10, 60, 40), fill=0)
    ImageDraw.Draw(upright).rectangle((150, 70, 160, 95), fill=0)
    stored = upright.transpose(
        {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90}.get(
            orientation, Image.Transpose.ROTATE_270
        )
    )  # as a camera would store the page, with the tag that turns it back
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[0x0112] = orientation
    path = tmp_path / "turned.tif"
    stored.save(path, compression=compression, tiffinfo=tags)
    expected = np.asarray(upright.convert("RGB"))
    assert np.array_equal(pages.rgb(path), expected)
    with pages.as_file(path) as read, Image.open(read) as picture:
        assert np.array_equal(np.asarray(picture.convert("RGB")), expected)
    assert TiffImagePlugin.READ_LIBTIFF is False  # left as Pillow had it
