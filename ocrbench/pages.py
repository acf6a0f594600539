"""The page every engine reads: a dataset's image decoded once, the same pixels for each engine.

Left to themselves the engines read one file as different pages: pytesseract re-saves a Pillow
image as a lossy JPEG (quality 75) and drops its resolution and all frames but the first; the
engines that take pixels (EasyOCR, RapidOCR) ignored EXIF orientation, read transparency as black
and clipped 16-bit grey to white. So the CERs of two engines on the same data compared different
pages. Here a page is: the file's EXIF orientation applied, transparency laid over white, 16-bit
grey scaled to 8 bits. A file of several frames (a multi-page TIFF) is not one page, and is
refused rather than read in part. The thumbnails of reports show this page too.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ocrbench.errors import DatasetError

# Part of each image engine's version, so its cached readings are redone when a page's pixels
# change: 2 is the first version decoded here (before it, as each engine decoded it); 3 reads an
# uncompressed TIFF turned by a quarter right (Pillow's own decoder garbled it).
VERSION = "pages 3"

_SIXTEEN_BITS = ("I;16", "I;16L", "I;16B", "I;16N")
_WIDE = (*_SIXTEEN_BITS, "I")  # "I": 32 bits, holding 16-bit values or 8-bit ones


class PageError(DatasetError):
    """An image that is not one readable page: unreadable, several frames, too large."""


def problem(image: Path) -> str | None:
    """Why this file is not one page an engine can read (None when it is one): the dataset's
    check at load time, so a bad sample is refused before a run, in one line."""
    try:
        with _opened(image) as picture:
            picture.verify()
        # verify() checks the file's structure, not its pixels (for a JPEG, nothing at all): a
        # truncated image passes it and fails half-way through a run. Decoding it finds that now.
        page(image)
    except PageError as error:
        return str(error)
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for bad files
        return f"image {image} is unreadable or corrupt ({error})"
    return None


def page(image: Path) -> Any:
    """The page as a Pillow image (see the module's doc): in mode 1, L or RGB, or as the file holds
    it where every engine reads that alike (a palette, CMYK); one line naming the file when it is
    not one readable page."""
    from PIL import Image, ImageOps

    with _opened(image) as picture:
        _one_frame(picture, image)
        picture.load()
        upright = ImageOps.exif_transpose(picture)
        dpi = picture.info.get("dpi")
    if upright.mode in _WIDE:
        upright = _eight_bits(upright)
    elif upright.mode == "F":
        raise PageError(
            f"image {image} holds floating-point pixels (mode F): save it in 8 or 16 bits"
        )
    elif _transparent(upright):
        rgba = upright.convert("RGBA")
        upright = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    if dpi:
        upright.info["dpi"] = dpi
    return upright


def rgb(image: Path) -> Any:
    """The page as an RGB uint8 array, for engines that take pixels."""
    import numpy as np

    return np.asarray(page(image).convert("RGB"))


@contextmanager
def as_file(image: Path) -> Iterator[Path]:
    """The page as a file, for engines that read files (Tesseract): the image itself where it is
    the page already, else a lossless PNG of the page that keeps its resolution, removed after."""
    with _opened(image) as original:
        _one_frame(original, image)
        upright = original.getexif().get(_ORIENTATION, 1) == 1
        plain = original.format in _READ_AS_IS and original.mode not in _WIDE
        plain = plain and upright and not _transparent(original)
    if plain:
        yield image
        return
    picture = page(image)
    with tempfile.TemporaryDirectory(prefix="ocrbench-page-") as folder:
        copy = Path(folder) / "page.png"
        dpi = picture.info.get("dpi")
        picture.save(copy, format="PNG", compress_level=1, **({"dpi": dpi} if dpi else {}))
        yield copy


_ORIENTATION = 0x0112  # the EXIF tag
_READ_AS_IS = ("PNG", "JPEG", "TIFF", "BMP", "PPM")  # formats Tesseract (Leptonica) decodes alike


def _one_frame(picture: Any, image: Path) -> None:
    frames = getattr(picture, "n_frames", 1)
    # A camera's JPEG with a preview beside its image (MPF, "MPO" to Pillow) is one page: the first.
    if frames > 1 and picture.format != "MPO":
        raise PageError(
            f"image {image} holds {frames} pages (frames); a sample is one page: save each page "
            "as its own image, with its own reference"
        )


def _transparent(picture: Any) -> bool:
    return "A" in picture.mode or "a" in picture.mode or "transparency" in picture.info


def _eight_bits(picture: Any) -> Any:
    """16-bit grey (0-65535) as 8-bit grey (0-255), by value, not clipped; 32-bit grey ("I") the
    same where it holds values past 255, else as it is. A transparent value becomes white paper."""
    import numpy as np
    from PIL import Image

    values = np.asarray(picture).astype(np.int64)
    sixteen = picture.mode in _SIXTEEN_BITS or int(values.max(initial=0)) > 255
    grey = (values + 128) // 257 if sixteen else values
    clear = picture.info.get("transparency")
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    if isinstance(clear, int):
        grey[values == clear] = 255
    return Image.fromarray(grey, "L")


def _open(image: Path) -> Any:
    """Image.open; an uncompressed TIFF turned by a quarter (orientation 5-8) through libtiff,
    which Pillow's own decoder garbles (13.0: rows laid out at the turned width)."""
    from PIL import Image, TiffImagePlugin

    picture: Any = Image.open(image)
    if not isinstance(picture, TiffImagePlugin.TiffImageFile) or picture.use_load_libtiff:
        return picture
    if picture.tag_v2.get(_ORIENTATION, 1) not in (5, 6, 7, 8):
        return picture
    picture.close()
    default = TiffImagePlugin.READ_LIBTIFF
    TiffImagePlugin.READ_LIBTIFF = True  # read as the file is opened
    try:
        return Image.open(image)
    finally:
        TiffImagePlugin.READ_LIBTIFF = default


@contextmanager
def _opened(image: Path) -> Iterator[Any]:
    """Image.open, with a missing file, an unknown format and a page too large each one line."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # A large page (a 600 dpi poster) is a user's own data, not an attack; it is refused
            # only past Pillow's hard limit, and the warning below that limit is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(image) as picture:
                yield picture
    except FileNotFoundError:
        raise PageError(f"image {image} not found") from None
    except Image.DecompressionBombError as error:
        raise PageError(
            f"image {image} is too large to read safely ({error}); scale it down"
        ) from None
    except (UnidentifiedImageError, OSError) as error:  # not an image, truncated, no access
        raise PageError(f"image {image} is unreadable or corrupt ({error})") from None
