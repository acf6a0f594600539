"""Synthetic invoices and receipts, rendered with Pillow, with ground truth that is exactly what was
drawn: one line per printed line, the columns of a row joined by single spaces in reading order.

Pages are degraded at three levels so a corrector has errors to fix: `clean` (crisp, black on
white), `mild` (slight blur, tilt, speckles, a little lower resolution) and `heavy` (low resolution,
blur, noise, tilt and JPEG artefacts). `mixed` cycles through the three.

Every random choice comes from `random.Random` and `numpy.random.default_rng`, seeded from the seed
and the page's index: the same seed gives the same bytes (with the same fonts and Pillow), and page
k is the same page whatever `n` is.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ocrbench import datasets
from ocrbench.errors import ConfigError, DatasetError, OcrbenchError
from ocrbench.types import Sample

LEVELS = ("clean", "mild", "heavy")
DEGRADE_CHOICES = (*LEVELS, "mixed")
FONT_PACKAGES = "fonts-dejavu-core fonts-liberation"
IMAGES = "images"
_OURS = re.compile(r"^\d{3,}-(invoice|receipt)\.(png|jpg)$")  # what `generate` writes in images/
_OUR_ID = re.compile(r"^\d{3,}-(invoice|receipt)$")  # and the ids it gives them
EDGE = 16  # px of white every drawn text keeps from the page's edges (see `_invoice`'s table)
MIN_GAP = 16  # px between an invoice's columns, at the least (about two spaces)

# Family -> (regular, bold) files, as Debian's fonts-dejavu-core and fonts-liberation name them.
INVOICE_FONTS = {
    "DejaVu Sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "DejaVu Serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "Liberation Sans": ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    "Liberation Serif": ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf"),
}
RECEIPT_FONTS = {
    "DejaVu Sans Mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
    "Liberation Mono": ("LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf"),
    "DejaVu Sans Condensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
}
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
)
BUILTIN_FONT = "Pillow built-in"

# Invented vocabulary: no real companies, people or addresses.
COMPANY_FIRST = (
    "Northwind", "Bramble", "Copperfield", "Harbourside", "Silverline", "Oakridge", "Bluestone",
    "Kestrel", "Meadowbank", "Ironbridge", "Larkspur", "Redfern", "Westmoor", "Ashgrove",
    "Fairhaven", "Pinecrest", "Thornbury", "Highgate", "Marlow", "Juniper",
)  # fmt: skip
COMPANY_TRADE = (
    "Supplies", "Engineering", "Print Works", "Trading", "Logistics", "Office Systems",
    "Hardware", "Catering", "Electrical", "Design Studio", "Timber", "Plumbing", "Labs",
    "Joinery", "Textiles",
)  # fmt: skip
COMPANY_FORM = ("Ltd", "Ltd.", "LLC", "& Co.", "Inc.", "GmbH", "plc")
SHOP_NAMES = (
    "Greenleaf Market", "Corner Pantry", "Daily Harvest", "The Bread Basket", "Fresh Fields",
    "Hilltop Grocers", "Riverside Deli", "Maple Store", "Sunrise Foods", "Village Larder",
)  # fmt: skip
FIRST_NAMES = (
    "Jane", "Tomas", "Priya", "Oliver", "Amara", "Lukas", "Sofia", "Daniel", "Mei", "Samuel",
    "Hannah", "Kofi", "Elena", "Marcus", "Ingrid", "Rafael", "Chloe", "Arjun", "Nadia", "Felix",
)  # fmt: skip
LAST_NAMES = (
    "Porter", "Okafor", "Lindqvist", "Marsh", "Delgado", "Whitaker", "Nakamura", "Brennan",
    "Castell", "Holloway", "Achebe", "Fontaine", "Rasmussen", "Quill", "Petrov", "Sandoval",
)  # fmt: skip
STREETS = (
    "Harbour Street", "Mill Lane", "Station Road", "Church Walk", "Queensway", "Elm Avenue",
    "Kingfisher Close", "Market Square", "Foundry Row", "Willow Drive", "Bridge End",
    "Orchard Way", "Canal Wharf", "Beacon Hill", "Tannery Yard", "Linden Grove",
)  # fmt: skip
TOWNS = (
    "Northfield", "Eastbury", "Westbridge", "Ashford Vale", "Kingsmere", "Redhaven", "Millbrook",
    "Stonehurst", "Larkhill", "Oakham Cross", "Brightwater", "Hollowmead",
)  # fmt: skip
SERVICES = (
    ("Copper pipe fittings (box of 50)", 8, 40), ("A4 copy paper, 5 reams", 15, 30),
    ("Toner cartridge TN-2420", 35, 90), ("Site visit and inspection", 60, 180),
    ("Labour (hours)", 25, 65), ("Stainless hinges 100 mm", 2, 9),
    ("Design consultation", 80, 400), ("LED panel 600 x 600", 18, 55),
    ("Delivery charge", 5, 35), ("Oak shelving board 1.8 m", 20, 70),
    ("Cable ties, pack of 200", 3, 12), ("Annual software licence", 120, 900),
    ("Printer service and repair", 45, 150), ("Safety gloves (pair)", 2, 8),
    ("Ethernet cable 5 m", 3, 11), ("Wall plugs 8 mm (100)", 2, 7),
    ("Circuit breaker 16A", 6, 24), ("Brass door handle set", 12, 48),
    ("Logo artwork, two drafts", 150, 600), ("Pallet of paving slabs", 90, 260),
    ("Extension lead 4-way", 7, 19), ("Catering for 20 guests", 180, 520),
)  # fmt: skip
GROCERIES = (
    ("Oat milk 1L", 1.1, 2.2), ("Sourdough loaf", 2.2, 4.5), ("Free range eggs x6", 1.8, 3.4),
    ("Bananas", 0.9, 1.9), ("Cheddar 400g", 2.8, 5.2), ("Coffee beans 250g", 3.9, 8.5),
    ("Tomatoes", 1.0, 2.6), ("Pasta fusilli 500g", 0.8, 1.9), ("Olive oil 500ml", 3.5, 7.9),
    ("Dish soap", 1.2, 2.8), ("Apples Gala", 1.5, 3.1), ("Orange juice 1L", 1.4, 2.9),
    ("Greek yoghurt", 1.6, 3.3), ("Basmati rice 1kg", 2.1, 4.2), ("Dark chocolate", 1.3, 2.9),
    ("Paper towels", 2.0, 4.4), ("Butter 250g", 1.9, 3.2), ("Green tea x40", 2.3, 4.1),
    ("Carrots 1kg", 0.7, 1.4), ("Frozen peas", 1.1, 2.3),
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
CURRENCIES = ("$", "£", "EUR ")


@dataclass(frozen=True)
class Fonts:
    """One family at the sizes a page uses."""

    family: str
    body: ImageFont.FreeTypeFont | ImageFont.ImageFont
    bold: ImageFont.FreeTypeFont | ImageFont.ImageFont
    heading: ImageFont.FreeTypeFont | ImageFont.ImageFont
    title: ImageFont.FreeTypeFont | ImageFont.ImageFont
    size: int


def generate(dest: Path, n: int, seed: int, degrade: str = "mixed") -> datasets.Dataset:
    """Render `n` pages into `dest` (images/ and manifest.jsonl) and load the result."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be a positive number of pages, not {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, not {seed!r}")
    if degrade not in DEGRADE_CHOICES:
        raise ConfigError(f"degrade must be one of {', '.join(DEGRADE_CHOICES)}, not {degrade!r}")
    dest = Path(dest)
    try:
        _prepare(dest)
    except OSError as error:  # a read-only or full disk, a file on the way
        raise DatasetError(_cannot_write(dest, error)) from None
    samples = []
    try:
        for index in range(n):
            level = LEVELS[index % len(LEVELS)] if degrade == "mixed" else degrade
            samples.append(render_page(dest, index, seed, level))
        datasets.write(dest, samples)
    except BaseException as error:  # a fault, Ctrl-C, SIGTERM: the folder can be made again
        with contextlib.suppress(OSError):
            _clear(dest)
        if isinstance(error, (OSError, OcrbenchError)):
            raise DatasetError(_cannot_write(dest, error)) from None
        raise
    return datasets.load(dest)


def _cannot_write(dest: Path, error: Exception) -> str:
    why = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return f"cannot write the synthetic pages into {dest}: {why}"


def _prepare(dest: Path) -> None:
    """Make `dest/images`, clearing pages an earlier run left; refuse a folder of other data: one
    without a manifest, or whose manifest holds a sample that is not a page synth wrote."""
    if dest.exists() and not dest.is_dir():
        raise DatasetError(f"{dest} is a file: give a folder for the synthetic dataset")
    manifest = dest / datasets.MANIFEST
    if dest.is_dir() and any(dest.iterdir()) and not manifest.exists() and not _only_ours(dest):
        raise DatasetError(
            f"{dest} is not empty and holds no {datasets.MANIFEST}: give an empty or new folder"
        )
    if manifest.exists():
        others = _not_ours(manifest)
        if others:
            raise DatasetError(
                f"{manifest} holds {others}: synth replaces only its own pages, and these would "
                f"be lost; give an empty or new folder"
            )
    # The old manifest goes first: a run that fails after the old pages went must not leave
    # their references beside new images, a dataset that loads and scores wrong.
    manifest.unlink(missing_ok=True)
    _clear(dest)
    (dest / IMAGES).mkdir(parents=True, exist_ok=True)


def _only_ours(dest: Path) -> bool:
    """Whether `dest` holds only pages synth wrote (as a killed synth leaves it: no manifest)."""
    images = dest / IMAGES
    others = [p.name for p in dest.iterdir() if p.name != IMAGES and not p.name.startswith(".")]
    return (
        images.is_dir()
        and not others
        and all(
            _OURS.match(p.name) and p.is_file()
            for p in images.iterdir()
            if not p.name.startswith(".")
        )
    )  # hidden names: a killed write's temporary manifest, a desktop's .DS_Store


def _clear(dest: Path) -> None:
    """Remove the pages synth wrote (and their folder, once empty)."""
    images = dest / IMAGES
    if not images.is_dir():
        return
    for old in images.iterdir():
        if _OURS.match(old.name):
            old.unlink()
    if not any(images.iterdir()):
        images.rmdir()


def _not_ours(manifest: Path) -> str:
    """What in `manifest` is not pages synth wrote ("" if nothing): how many lines, the first."""
    try:
        lines = manifest.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError:
        return "text that is not UTF-8"
    except OSError as error:
        return f"what synth cannot read ({error.strerror})"
    others = [
        (n, line) for n, line in enumerate(lines, start=1) if line.strip() and not _ours(line)
    ]
    if not others:
        return ""
    number, line = others[0]
    try:
        sample_id = json.loads(line).get("id")
    except (json.JSONDecodeError, AttributeError):
        sample_id = None
    named = f", id {sample_id!r}" if isinstance(sample_id, str) else ""
    plural = "s" if len(others) > 1 else ""
    return f"{len(others)} sample{plural} synth did not make (the first on line {number}{named})"


def _ours(line: str) -> bool:
    """Whether a manifest line is a page as `generate` writes it: its id, image path and meta."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError:
        return False
    if not isinstance(item, dict) or set(item) != {"id", "image", "text", "meta"}:
        return False
    sample_id, meta = item["id"], item["meta"]
    kind = _OUR_ID.match(sample_id) if isinstance(sample_id, str) else None
    return (
        kind is not None
        and item["image"] in {f"{IMAGES}/{sample_id}.png", f"{IMAGES}/{sample_id}.jpg"}
        and isinstance(item["text"], str)
        and isinstance(meta, dict)
        and set(meta) == {"kind", "degrade", "font"}
        and meta["kind"] == kind.group(1)
        and meta["degrade"] in LEVELS
        and isinstance(meta["font"], str)
    )


def render_page(dest: Path, index: int, seed: int, level: str) -> Sample:
    """Draw page `index` (an invoice or a receipt), degrade it, save it; return its sample."""
    rng = _rng(seed, index)
    noise = np.random.default_rng([seed, index])
    kind, fonts, image, lines = _draw(rng, index)
    image, suffix = _degrade(image, level, fonts.size, rng, noise)
    sample_id = f"{index:03d}-{kind}"
    path = dest / IMAGES / f"{sample_id}{suffix}"
    if suffix == ".jpg":
        image.save(path, format="JPEG", quality=rng.randint(22, 34))
    else:
        image.save(path, format="PNG", optimize=True)
    meta = {"kind": kind, "degrade": level, "font": fonts.family}
    return Sample(id=sample_id, text="\n".join(lines), image=path, meta=meta)


def _rng(seed: int, index: int) -> random.Random:
    """Page `index`'s own random choices: the same for a seed whatever `n` is."""
    return random.Random(f"ocrbench-synth/{seed}/{index}")


def _draw(rng: random.Random, index: int) -> tuple[str, Fonts, Image.Image, list[str]]:
    """Page `index` as drawn, before degradation: its kind, fonts, image and lines."""
    kind = ("invoice", "receipt")[(index // len(LEVELS)) % 2]
    families = INVOICE_FONTS if kind == "invoice" else RECEIPT_FONTS
    family = rng.choice(sorted(families))
    if kind == "invoice":
        fonts = _fonts(family, families, rng.randint(22, 26))
        image, lines = _invoice(rng, fonts)
    else:
        fonts = _fonts(family, families, rng.randint(21, 24))
        image, lines = _receipt(rng, fonts)
    return kind, fonts, image, lines


# -- fonts ----------------------------------------------------------------------------------------


@functools.cache
def _font_files() -> dict[str, Path]:
    """TrueType files in the usual font folders, by file name."""
    found: dict[str, Path] = {}
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            for path in sorted(root.rglob("*.ttf")):
                found.setdefault(path.name, path)
    return found


def _fonts(family: str, families: dict[str, tuple[str, str]], size: int) -> Fonts:
    """`family` at `size`; if its files are missing, another installed family (with a warning),
    and if none is installed, Pillow's built-in font (with a louder one)."""
    files = _font_files()
    available = [name for name in sorted(families) if all(f in files for f in families[name])]
    if family not in available:
        _warn_missing(tuple(sorted(set(families) - set(available))))
    if not available:

        def load(bold: bool, pixels: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
            return ImageFont.load_default(pixels)

        family = BUILTIN_FONT
    else:
        if family not in available:  # a stand-in picked by position, so still deterministic
            family = available[sorted(families).index(family) % len(available)]
        regular, bold_file = families[family]

        def load(bold: bool, pixels: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
            return ImageFont.truetype(str(files[bold_file if bold else regular]), pixels)

    return Fonts(
        family=family,
        body=load(False, size),
        bold=load(True, size),
        heading=load(True, round(size * 1.3)),
        title=load(True, round(size * 1.75)),
        size=size,
    )


@functools.cache
def _warn_missing(missing: tuple[str, ...]) -> None:
    warnings.warn(
        f"fonts not found: {', '.join(missing)}; pages use the installed ones (or Pillow's own "
        f"font if none), so they differ from pages made where these are installed "
        f"(Debian: apt-get install {FONT_PACKAGES})",
        stacklevel=4,
    )


# -- page layout ----------------------------------------------------------------------------------


class _Page:
    """A canvas with a cursor: each `row` draws one printed line and records its ground truth."""

    def __init__(self, width: int, fonts: Fonts, ink: int, margin: int):
        self.image = Image.new("L", (width, 4000), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = fonts
        self.ink = ink
        self.margin = margin
        self.width = width
        self.y = margin
        self.lines: list[str] = []

    def row(self, *cells: tuple[str, int, str], style: str = "body") -> None:
        """Cells (text, x, "l"|"r"|"m" for left/right/middle at x), given left to right."""
        font = getattr(self.fonts, style)
        self.y += round(font.size * 1.25)
        for text, x, align in cells:
            self.draw.text((x, self.y), text, font=font, fill=self.ink, anchor=align + "s")
        self.lines.append(" ".join(text for text, _, _ in cells))
        self.y += round(font.size * 0.35)

    def centred(self, text: str, style: str = "body") -> None:
        self.row((text, self.width // 2, "m"), style=style)

    def space(self, pixels: int) -> None:
        self.y += pixels

    def rule(self, x0: int, x1: int, dashed: bool = False) -> None:
        """A horizontal line, drawn, not text: it is in no ground truth."""
        self.y += 8
        if dashed:
            for x in range(x0, x1, 12):
                self.draw.line((x, self.y, min(x + 8, x1), self.y), fill=self.ink, width=2)
        else:
            self.draw.line((x0, self.y, x1, self.y), fill=self.ink, width=2)
        self.y += 4

    def finish(self, min_height: int = 0) -> tuple[Image.Image, list[str]]:
        height = max(self.y + self.margin, min_height)
        return self.image.crop((0, 0, self.width, height)), self.lines


def _ink_past(texts: list[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    """How far right of its x a right-aligned text's ink reaches, at most (0: not past it)."""
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    return max(0, *(math.ceil(draw.textbbox((0, 0), t, font=font, anchor="rs")[2]) for t in texts))


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _date(rng: random.Random) -> str:
    year, month, day = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    style = rng.randrange(4)
    if style == 0:
        text = f"{day:02d}/{month:02d}/{year}"
    elif style == 1:
        text = f"{year}-{month:02d}-{day:02d}"
    elif style == 2:
        text = f"{MONTHS[month - 1]} {day}, {year}"
    else:
        text = f"{day} {MONTHS[month - 1][:3]} {year}"
    return text


def _postcode(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXY"
    if rng.random() < 0.5:
        return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(1, 19)} " + (
            f"{rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
        )
    return f"{rng.randint(10000, 99899)}"


def _phone(rng: random.Random) -> str:
    return f"0{rng.randint(1200, 1999)} {rng.randint(100, 999)} {rng.randint(100, 999)}"


def _address(rng: random.Random) -> tuple[str, str]:
    street = f"{rng.randint(1, 240)} {rng.choice(STREETS)}"
    return street, f"{rng.choice(TOWNS)} {_postcode(rng)}"


def _invoice(rng: random.Random, fonts: Fonts) -> tuple[Image.Image, list[str]]:
    width, margin = 1000, 70
    page = _Page(width, fonts, ink=rng.randint(0, 40), margin=margin)
    name = f"{rng.choice(COMPANY_FIRST)} {rng.choice(COMPANY_TRADE)} {rng.choice(COMPANY_FORM)}"
    page.row((name, margin, "l"), style="title")
    street, town = _address(rng)
    page.row((street, margin, "l"))
    page.row((town, margin, "l"))
    domain = name.split()[0].lower()
    page.row((f"Tel: {_phone(rng)}", margin, "l"))
    page.row((f"accounts@{domain}.example", margin, "l"))
    page.space(30)
    page.row(("INVOICE", margin, "l"), style="title")
    year = rng.randint(2019, 2025)
    number = rng.choice((f"INV-{year}-{rng.randint(1, 9999):04d}", f"{rng.randint(10000, 99999)}"))
    page.row((f"Invoice No: {number}", margin, "l"))
    issued = _date(rng)
    page.row((f"Date: {issued}", margin, "l"))
    page.row((f"Payment terms: {rng.choice((14, 30, 60))} days", margin, "l"))
    account = f"{rng.randint(10, 99)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}"
    page.row((f"Bank: sort code {account}, account {rng.randint(10**7, 10**8 - 1)}", margin, "l"))
    page.space(24)
    page.row(("Bill to:", margin, "l"), style="bold")
    page.row((f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", margin, "l"))
    if rng.random() < 0.6:
        company = f"{rng.choice(LAST_NAMES)} & {rng.choice(('Sons', 'Partners', 'Daughters'))}"
        page.row((company, margin, "l"))
    street, town = _address(rng)
    page.row((street, margin, "l"))
    page.row((town, margin, "l"))
    page.space(30)
    items = []
    for description, low, high in rng.sample(SERVICES, rng.randint(3, 7)):
        quantity = rng.choice((1, 1, 1, 2, 3, 4, 5, 6, 10, 12, 20, 25))
        price = round(rng.uniform(low, high), 2)
        items.append((description, str(quantity), _money(price), round(quantity * price, 2)))
    subtotal = round(sum(item[3] for item in items), 2)
    rate = rng.choice((0, 5, 10, 19, 20))
    tax = round(subtotal * rate / 100, 2)
    total = f"{rng.choice(CURRENCIES)}{_money(subtotal + tax)}"
    # Columns as wide as their contents, a short gap apart: wide gaps make Tesseract's page
    # segmentation read each column as a block of its own, out of row order.
    gap = rng.randint(36, 60)

    def widest(texts: list[str], style: str = "body") -> int:
        return round(max(page.draw.textlength(t, font=getattr(fonts, style)) for t in texts))

    columns = (
        widest([item[0] for item in items]),
        widest(["Qty"], "bold"),
        widest(["Unit price"], "bold"),
        max(widest(["Amount", total], "bold"), widest([_money(subtotal)])),
    )
    # The table may reach into the right margin, but no nearer the edge than EDGE: where long
    # contents in a large font would run further, the gaps shrink to fit (only then: every other
    # page is drawn as it always was). The right-aligned amounts' ink may end a pixel past their x.
    amounts = [_money(value) for value in (*(item[3] for item in items), subtotal, tax)]
    right = (
        width - EDGE - max(_ink_past(["Amount", total], fonts.bold), _ink_past(amounts, fonts.body))
    )
    gap = min(gap, (right - margin - sum(columns)) // 3)
    if gap < MIN_GAP:
        raise RuntimeError(f"an invoice's table is too wide for the page ({fonts.family})")
    qty_x = margin + columns[0] + gap + columns[1]
    price_x = qty_x + gap + columns[2]
    amount_x = price_x + gap + columns[3]
    page.row(
        ("Description", margin, "l"), ("Qty", qty_x, "r"), ("Unit price", price_x, "r"),
        ("Amount", amount_x, "r"), style="bold",
    )  # fmt: skip
    page.rule(margin, amount_x)
    for description, quantity_text, price_text, amount in items:
        page.row(
            (description, margin, "l"), (quantity_text, qty_x, "r"), (price_text, price_x, "r"),
            (_money(amount), amount_x, "r"),
        )  # fmt: skip
    page.rule(margin, amount_x)
    # Totals under the table, labels in the price column's place: a row with a wide gap, or a
    # label block alone on the right, would be read out of order too.
    label_x = qty_x - widest(["Qty"], "bold")
    page.row(("Subtotal", label_x, "l"), (_money(subtotal), amount_x, "r"))
    page.row((f"Tax {rate}%", label_x, "l"), (_money(tax), amount_x, "r"))
    page.row(("Total", label_x, "l"), (total, amount_x, "r"), style="bold")
    # Nothing below the totals: Tesseract reads a footer under a table as the table's neighbour
    # and puts it right after the header, out of order.
    return page.finish(min_height=round(width * 1.414))


def _receipt(rng: random.Random, fonts: Fonts) -> tuple[Image.Image, list[str]]:
    margin = 36
    # About 28 figures wide, as a till roll is: wide gaps between columns split them apart.
    width = round(fonts.body.getlength("0") * 28) + 2 * margin
    page = _Page(width, fonts, ink=rng.randint(0, 50), margin=margin)
    right = width - margin
    page.centred(rng.choice(SHOP_NAMES).upper(), style="heading")
    street, town = _address(rng)
    page.centred(street)
    page.centred(town)
    page.centred(f"Tel {_phone(rng)}")
    page.space(14)
    page.centred(rng.choice(("RECEIPT", "SALES RECEIPT", "TAX RECEIPT")), style="bold")
    date = _date(rng)
    page.row(
        (date, margin, "l"), (f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}", right, "r")
    )
    page.row((f"Till {rng.randint(1, 8)}", margin, "l"),
             (f"Cashier: {rng.choice(FIRST_NAMES)}", right, "r"))  # fmt: skip
    page.rule(margin, right, dashed=True)
    total, count = 0.0, 0
    for item, low, high in rng.sample(GROCERIES, rng.randint(4, 10)):
        quantity = rng.choice((1, 1, 1, 1, 2, 2, 3))
        price = round(rng.uniform(low, high), 2)
        amount = round(quantity * price, 2)
        total, count = total + amount, count + quantity
        page.row((item, margin, "l"), (_money(amount), right, "r"))
        if quantity > 1:
            page.row((f"{quantity} x {_money(price)}", margin + 30, "l"))
    page.rule(margin, right, dashed=True)
    page.row(("TOTAL", margin, "l"), (_money(total), right, "r"), style="bold")
    if rng.random() < 0.5:
        paid = float(int(total // 10 + 1) * 10)
        page.row(("CASH", margin, "l"), (_money(paid), right, "r"))
        page.row(("CHANGE", margin, "l"), (_money(paid - total), right, "r"))
    else:
        page.row((f"CARD **** {rng.randint(1000, 9999)}", margin, "l"), (_money(total), right, "r"))
    page.row((f"Items: {count}", margin, "l"))
    page.space(16)
    page.centred(rng.choice(("Thank you for shopping with us", "Thank you, come again")))
    page.centred(f"VAT no. GB {rng.randint(100, 999)} {rng.randint(1000, 9999)} 21")
    return page.finish()


# -- degradation ----------------------------------------------------------------------------------


def _degrade(
    image: Image.Image, level: str, font_size: int, rng: random.Random, noise: np.random.Generator
) -> tuple[Image.Image, str]:
    """The page as a scan or phone photo of that quality might give it, and its file suffix."""
    if level == "clean":
        return image, ".png"
    heavy = level == "heavy"
    # Low resolution, as the size the body text ends up at: about 14 px is where Tesseract starts
    # to stumble without reading garbage.
    scale = (rng.uniform(14.0, 16.0) if heavy else rng.uniform(18.0, 21.0)) / font_size
    angle = rng.uniform(0.8, 1.8) if heavy else rng.uniform(0.2, 0.7)
    angle *= rng.choice((-1, 1))
    blur = rng.uniform(0.7, 1.0) if heavy else rng.uniform(0.4, 0.7)
    image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(blur))
    size = (round(image.width * scale), round(image.height * scale))
    image = image.resize(size, Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float64)
    if heavy:
        pixels = pixels + noise.normal(0.0, rng.uniform(10, 16), pixels.shape)
    specks = noise.random(pixels.shape) < (0.004 if heavy else 0.0015)
    pixels[specks] = noise.uniform(0, 120, int(specks.sum()))
    result = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return result, ".jpg" if heavy else ".png"
