"""Datasets: a folder with a `manifest.jsonl`, one sample a line, and converters from real layouts.

A manifest line is `{"id": ..., "image": "images/a.png", "text": "ground truth"}`; a text-only
sample gives `"ocr": "the OCR text"` instead of, or beside, `"image"`; `"meta": {...}` is optional.
Image paths are relative to the folder (or absolute) and must stay inside it, symlinks followed:
an image elsewhere (`../../x.png`, `/etc/x.png`, a link out of the folder) is a bad sample unless
`load(..., allow_outside=True)` (`ocrbench run --allow-outside`, `allow_outside: true` in a sweep
spec), so a manifest cannot read files its folder does not hold without the user saying so. A
text's single trailing newline is the end of its file, not content: `load` drops it, and `write`
gives a text that ends in a newline one more, so writing what was loaded and loading it again (a
split does) gives back the same texts, to the last newline.

`load` checks everything before a run starts, images decoded in full, so a bad dataset fails in one
clear line that names the file, the line and the sample, not half an hour into a sweep.

`convert` makes self-contained datasets: the images are placed under `DEST/images/` (hard links
where the filesystem allows, copies otherwise), so a converted dataset passes that check and moves
as one folder.
"""

from __future__ import annotations

import errno
import filecmp
import hashlib
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ocrbench import pages
from ocrbench.cache import file_hash
from ocrbench.errors import ConfigError, DatasetError
from ocrbench.registry import did_you_mean
from ocrbench.types import Sample

MANIFEST = "manifest.jsonl"
IMAGES = "images"  # where `convert` places a dataset's images, under its folder
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".webp")
FORMATS = ("pairs", "icdar2017")
SPLITS = ("documents", "lines")
# The meta key converters fill in with a sample's group (an ICDAR document, a pairs folder), which
# `ocrbench datasets split` keeps on one side of a train/test split.
GROUP = "group"


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset; `skipped` lists what `skip_bad` left out: {"line", "id", "reason"}."""

    root: Path
    name: str
    samples: tuple[Sample, ...]
    skipped: tuple[dict[str, Any], ...] = ()
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)

    def content_hash(self) -> str:
        """sha256 over what a run reads: each sample's id, text, OCR text, meta and image bytes.

        Not the manifest's bytes: the same data with other image paths (a moved folder, an absolute
        path made relative) is the same dataset. Computed once.
        """
        if self._hash is None:
            digest = hashlib.sha256()
            for sample in self.samples:
                image = None if sample.image is None else file_hash(sample.image)
                item = [sample.id, sample.text, sample.ocr, dict(sample.meta), image]
                digest.update(json.dumps(item, sort_keys=True, ensure_ascii=False).encode())
                digest.update(b"\n")
            object.__setattr__(self, "_hash", digest.hexdigest())
        assert self._hash is not None
        return self._hash


class _BadSample(Exception):
    """A sample that fails validation: skipped under `skip_bad`, else a `DatasetError`."""

    def __init__(self, reason: str, sample_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.sample_id = sample_id


def load(
    path: str | Path,
    *,
    skip_bad: bool = False,
    limit: int | None = None,
    allow_outside: bool = False,
) -> Dataset:
    """Read and check a dataset folder; with `limit`, only its first `limit` good samples.

    `allow_outside` lets image paths lead out of the folder (`..`, absolute, symlinks).
    """
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"limit must be a positive number of samples, not {limit!r}")
    given = Path(path).expanduser()
    if not given.exists():
        raise DatasetError(f"dataset {given} does not exist")
    if not given.is_dir():
        raise DatasetError(
            f"dataset {given} is not a folder (a dataset is a folder with {MANIFEST})"
        )
    manifest = given / MANIFEST
    if not manifest.is_file():
        raise DatasetError(
            f"{given} has no {MANIFEST}: make one with `ocrbench datasets convert` or "
            "`ocrbench datasets synth`, or write one line per sample"
        )
    root = given.resolve()
    samples: list[Sample] = []
    skipped: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for number, line in _lines(manifest):
        if limit is not None and len(samples) >= limit:
            break
        try:
            sample = _sample(line, root, first_line, allow_outside)
        except _BadSample as bad:
            if not skip_bad:
                named = f" (sample {bad.sample_id!r})" if bad.sample_id is not None else ""
                raise DatasetError(f"{manifest}:{number}{named}: {bad.reason}") from None
            skipped.append({"line": number, "id": bad.sample_id, "reason": bad.reason})
            continue
        first_line[_same_id(sample.id)] = number
        samples.append(sample)
    if not samples:
        if skipped:  # say why at least once: the skipped list is never printed when this raises
            first = skipped[0]
            raise DatasetError(
                f"{manifest}: no samples (all {len(skipped)} were bad); "
                f"line {first['line']}: {first['reason']}"
            )
        raise DatasetError(f"{manifest}: no samples (it is empty)")
    return Dataset(root=root, name=root.name, samples=tuple(samples), skipped=tuple(skipped))


def pick(dataset: Dataset, ids: Sequence[str]) -> Dataset:
    """The dataset with only the samples named, in the order given; an unknown id, or one that
    `skip_bad` left out as invalid, is an error. Only the named samples' skipped entries stay (the
    others are not part of what was asked)."""
    by_id = {sample.id: sample for sample in dataset.samples}
    invalid = {str(entry.get("id")): entry for entry in dataset.skipped if entry.get("id")}
    for sample_id in ids:
        if sample_id not in by_id and sample_id in invalid:
            entry = invalid[sample_id]
            raise DatasetError(
                f"{dataset.root}: sample {sample_id!r} is not valid (line {entry.get('line')}: "
                f"{entry.get('reason')})"
            )
    unknown = [sample_id for sample_id in ids if sample_id not in by_id]
    if unknown:
        known = ", ".join(list(by_id)[:5]) + (", ..." if len(by_id) > 5 else "")
        raise DatasetError(
            f"{dataset.root} has no sample {unknown[0]!r}"
            + (f" (nor {len(unknown) - 1} more of those given)" if len(unknown) > 1 else "")
            + f"; its ids: {known}"
        )
    return replace(
        dataset, samples=tuple(by_id[sample_id] for sample_id in dict.fromkeys(ids)), skipped=()
    )


def _lines(manifest: Path) -> Iterator[tuple[int, str]]:
    """Numbered non-blank lines (1-based, as an editor shows them)."""
    try:
        text = manifest.read_text(encoding="utf-8-sig")  # a byte-order mark is no part of it
    except UnicodeDecodeError as error:
        raise DatasetError(_not_utf8(manifest, error)) from None
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            yield number, line


def _not_utf8(path: Path, error: UnicodeDecodeError) -> str:
    return f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"


def _same_id(sample_id: str) -> str:
    return unicodedata.normalize("NFC", sample_id)


def _sample(line: str, root: Path, first_line: dict[str, int], allow_outside: bool) -> Sample:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as error:
        raise _BadSample(f"bad JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(item, dict):
        raise _BadSample(f"expected a JSON object, got {type(item).__name__}")
    sample_id = item.get("id")
    if not isinstance(sample_id, str) or not sample_id.strip():
        raise _BadSample('"id" is missing, blank or not a string')
    if _same_id(sample_id) in first_line:  # "café" composed or not: one id to a reader
        raise _BadSample(
            f"duplicate id (first on line {first_line[_same_id(sample_id)]})", sample_id
        )
    for key in ("text", "image", "ocr"):
        if key in item and not isinstance(item[key], str):
            raise _BadSample(f'"{key}" must be a string, not {type(item[key]).__name__}', sample_id)
    if "text" not in item:
        raise _BadSample('"text" (the ground truth) is missing', sample_id)
    meta = item.get("meta", {})
    if not isinstance(meta, dict):
        raise _BadSample(f'"meta" must be an object, not {type(meta).__name__}', sample_id)
    if "image" not in item and "ocr" not in item:
        raise _BadSample('neither "image" nor "ocr": a sample needs one of them', sample_id)
    image = None
    if "image" in item:
        image = _image_path(root, item["image"], sample_id, allow_outside)
        _check_image(image, sample_id)
    ocr = item.get("ocr")
    return Sample(
        id=sample_id,
        text=_end_trimmed(item["text"]),
        image=image,
        ocr=None if ocr is None else _end_trimmed(ocr),
        meta=meta,
    )


def _image_path(root: Path, given: str, sample_id: str, allow_outside: bool) -> Path:
    """The image's resolved path (symlinks followed), which must lie in `root` unless allowed."""
    try:
        image = (root / given).resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        raise _BadSample(f"image {given} is a symlink loop", sample_id) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _BadSample(f"image {given} is a symlink loop", sample_id) from None
        raise _BadSample(f"image {given} cannot be resolved ({error})", sample_id) from None
    except ValueError as error:  # an embedded NUL byte
        raise _BadSample(f"image {given!r} is not a valid path ({error})", sample_id) from None
    if (root / given).is_symlink() and not image.exists():
        raise _BadSample(f"image {given} is a link to nothing ({image})", sample_id)
    if not allow_outside and not image.is_relative_to(root):
        raise _BadSample(
            f"image {given} is outside the dataset folder (it is {image}); to read it anyway, "
            "pass --allow-outside (or allow_outside: true on the dataset in a sweep spec)",
            sample_id,
        )
    return image


def _check_image(image: Path, sample_id: str) -> None:
    if image.is_dir():
        raise _BadSample(f"image {image} is a folder, not an image", sample_id)
    if not image.is_file():
        raise _BadSample(f"image {image} does not exist", sample_id)
    problem = pages.problem(image)
    if problem is not None:
        raise _BadSample(problem, sample_id)


def _end_trimmed(text: str) -> str:
    """Drop one trailing newline: the end of a file or line, not part of the text."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _end_kept(text: str) -> str:
    """The text as a manifest stores it: one newline more where it ends in one, which
    `_end_trimmed` drops again on load (a text that does not end in "\n" cannot end in "\r\n")."""
    return text + "\n" if text.endswith("\n") else text


def write(dest: Path, samples: Iterable[Sample]) -> Path:
    """Write `dest/manifest.jsonl` (atomically), image paths relative to `dest`; return its path.

    The images are not moved: one outside `dest` gets a `..` path, which `load` refuses unless
    `allow_outside` (the converters place their images inside first). Texts are written so that
    `load` gives them back exactly: a trailing newline gets one more, which `load` drops.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    base = dest.resolve()
    lines = []
    for sample in samples:
        item: dict[str, Any] = {"id": sample.id}
        if sample.image is not None:
            item["image"] = _relative(Path(sample.image), base)
        if sample.ocr is not None:
            item["ocr"] = _end_kept(sample.ocr)
        item["text"] = _end_kept(sample.text)
        if sample.meta:
            item["meta"] = dict(sample.meta)
        lines.append(json.dumps(item, ensure_ascii=False) + "\n")
    manifest = dest / MANIFEST
    # Written beside it, then renamed: a reader sees the old manifest or the new one, never half.
    temporary = dest / f".{MANIFEST}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as out:
            out.writelines(lines)
        os.replace(temporary, manifest)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return manifest


def _relative(image: Path, base: Path) -> str:
    """A posix path relative to `base` (with `..` if need be); absolute only across drives."""
    target = image.resolve()
    try:
        return Path(os.path.relpath(target, base)).as_posix()
    except ValueError:  # Windows: another drive has no relative path
        return target.as_posix()


def convert(fmt: str, src: Path, dest: Path, *, split: str = "documents") -> Dataset:
    """Turn a known layout into a dataset at `dest` and load it.

    "pairs": images with `NAME.gt.txt` beside them (recursively); each image is placed at
    `dest/images/` + its path under `src` (a hard link where the filesystem allows, else a copy),
    so the dataset is self-contained and passes `load`'s inside-the-folder check; images with no
    ground truth are listed in the result's `skipped`. "icdar2017": the ICDAR 2017 post-OCR files,
    as a text-only dataset, one sample per document or (`split="lines"`) per line of about 60-120
    characters. Each sample's `meta.group` says what it belongs with in a train/test split: its
    folder under `src` for pairs (a file at the top of `src` is a group of its own, named by its
    id), its source file (the document) for icdar2017. A pairs text is its `.gt.txt` file less one
    trailing newline (the file's end).
    """
    if fmt not in FORMATS:
        raise ConfigError(
            f"unknown dataset format {fmt!r}{did_you_mean(fmt, FORMATS)}; "
            f"known: {', '.join(FORMATS)}"
        )
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    src = Path(src).expanduser()
    if not src.is_dir():
        raise DatasetError(f"{src} is not a folder: give the folder that holds the {fmt} files")
    dest = Path(dest)
    if fmt == "pairs":
        if split != "documents":
            raise ConfigError("--split lines applies to icdar2017 only; pairs are one sample each")
        samples, skipped = _pairs(src, dest / IMAGES)
    else:
        samples, skipped = _icdar2017(src, split), []
    try:
        if fmt == "pairs":
            # An earlier convert's manifest must not stand beside images this one replaced, if
            # it stops part-way (a full disk, a kill): no manifest is a clear "not a dataset".
            (dest / MANIFEST).unlink(missing_ok=True)
            samples = _placed(samples, src, dest / IMAGES)
        write(dest, samples)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise DatasetError(
            f"cannot write the dataset into {dest}: {error.strerror or error}{where}"
        ) from None
    return replace(load(dest), skipped=tuple(skipped))


def _or(suffixes: Sequence[str]) -> str:
    """ ".png, .tif or .webp"."""
    return f"{', '.join(suffixes[:-1])} or {suffixes[-1]}"


def _pairs(src: Path, placed: Path) -> tuple[list[Sample], list[dict[str, Any]]]:
    """The pairs under `src` (their images where they are, to be placed under `placed`), and
    what was left out."""
    samples: list[Sample] = []
    skipped: list[dict[str, Any]] = []
    seen: dict[str, Path] = {}
    # A dest inside src (or equal to it) holds the images an earlier convert placed there, with no
    # NAME.gt.txt beside them: those are not sources with their ground truth missing.
    try:
        own: tuple[str, ...] | None = placed.resolve().relative_to(src.resolve()).parts
    except ValueError:
        own = None
    images = sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    for image in images:
        relative = image.relative_to(src)
        sample_id = relative.with_suffix("").as_posix()
        truth = image.with_name(image.stem + ".gt.txt")
        if not truth.is_file():
            if own is None or relative.parts[: len(own)] != own:
                skipped.append({"line": None, "id": sample_id, "reason": f"no {truth.name}"})
            continue
        if sample_id in seen:
            raise DatasetError(
                f"{image} and {seen[sample_id]} both give sample {sample_id!r}: rename one"
            )
        seen[sample_id] = image
        try:
            # An editor's byte-order mark (U+FEFF) is no character of the page.
            text = _end_trimmed(truth.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as error:
            raise DatasetError(_not_utf8(truth, error)) from None
        # Its folder; a file at the top of src is a group of its own (a folder of single pages).
        group = sample_id if relative.parent == Path(".") else relative.parent.as_posix()
        samples.append(Sample(id=sample_id, text=text, image=image, meta={GROUP: group}))
    # And the other way round: a ground truth with no image that is read ("l3.gif").
    pictured = {image.with_suffix("") for image in images}
    for truth in sorted(src.rglob("*.gt.txt")):
        stem = truth.name.removesuffix(".gt.txt")
        relative = truth.relative_to(src).with_name(stem)
        placed_here = own is not None and relative.parts[: len(own)] == own
        if truth.with_name(stem) not in pictured and not placed_here:
            reason = f"no image {stem}{_or(IMAGE_SUFFIXES)} beside {truth.name}"
            skipped.append({"line": None, "id": relative.as_posix(), "reason": reason})
    skipped.sort(key=lambda entry: str(entry["id"]))
    if not samples:
        found = f"{len(images)} images, none with" if images else "no images and no"
        raise DatasetError(
            f"{src}: no image/ground-truth pairs ({found} NAME.gt.txt beside it; "
            f"images are {', '.join(IMAGE_SUFFIXES)})"
        )
    return samples, skipped


def _placed(samples: list[Sample], src: Path, placed: Path) -> list[Sample]:
    """Each sample's image placed under `placed` at its path relative to `src`: done only once
    every pair is known good, so a bad source leaves dest untouched."""
    placed_samples = []
    for sample in samples:
        assert sample.image is not None
        target = placed / sample.image.relative_to(src)
        place(sample.image, target)
        placed_samples.append(replace(sample, image=target))
    return placed_samples


def place(source: Path, target: Path) -> None:
    """Put `source`'s bytes at `target`: a hard link where the filesystem allows, else a copy.

    How `convert` and `splits.write` make datasets that hold their own images. Made under a
    temporary name and renamed, so an interrupted write leaves no half image; a target that already
    holds the same bytes (a second convert) is left as it is.
    """
    if target.is_file() and (
        os.path.samefile(source, target) or filecmp.cmp(source, target, shallow=False)
    ):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # left by an earlier convert that was killed
    try:
        try:
            os.link(source, temporary)
        except OSError:  # another device, or a filesystem without hard links
            shutil.copy2(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ICDAR 2017 post-OCR: "[OCR_toInput] raw", "[OCR_aligned] ocr", "[ GS_aligned] gold", where the
# aligned pair has equal length, "@" pads an insertion or deletion and "#" marks a character whose
# gold standard is unknown. The aligned OCR (not the raw one) is the sample's OCR text, so the OCR
# and the ground truth cover the same span.
_ICDAR_PREFIXES = ("[OCR_toInput] ", "[OCR_aligned] ", "[ GS_aligned] ")
PAD, UNKNOWN = "@", "#"
# The files have no newlines: a "line" is a piece of about a printed line's length, cut at a
# position that is a space in both aligned strings, so no edit straddles a cut.
LINE_MIN = 60
LINE_MAX = 120


def _icdar2017(src: Path, split: str) -> list[Sample]:
    files = sorted(src.rglob("*.txt"))
    samples: list[Sample] = []
    for path in files:
        ocr, gold = _aligned(path)
        doc_id = path.relative_to(src).with_suffix("").as_posix()
        source = path.relative_to(src).as_posix()
        pieces = [(ocr, gold)] if split == "documents" else list(_line_pieces(ocr, gold))
        for number, (ocr_piece, gold_piece) in enumerate(pieces, start=1):
            hypothesis, reference = _unaligned(ocr_piece, gold_piece)
            if not hypothesis and not reference:
                continue  # a piece made only of unknown gold standard
            if split == "documents":
                samples.append(
                    Sample(
                        id=doc_id,
                        text=reference,
                        ocr=hypothesis,
                        meta={"source": source, GROUP: source},
                    )
                )
            else:
                samples.append(
                    Sample(
                        id=f"{doc_id}:{number:04d}",
                        text=reference,
                        ocr=hypothesis,
                        meta={"source": source, "line": number, GROUP: source},
                    )
                )
    if not samples:
        raise DatasetError(
            f"{src}: no ICDAR 2017 files (*.txt with [OCR_aligned] and [ GS_aligned])"
        )
    return samples


def _aligned(path: Path) -> tuple[str, str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(_not_utf8(path, error)) from None
    # Only \r?\n ends a line here: the texts may hold other characters str.splitlines() splits at.
    lines = [line for line in re.split(r"\r?\n", text) if line]
    if len(lines) != 3 or any(
        not line.startswith(prefix) for line, prefix in zip(lines, _ICDAR_PREFIXES, strict=False)
    ):
        raise DatasetError(
            f"{path}: not an ICDAR 2017 file (expected three lines starting "
            f"{', '.join(repr(p.strip()) for p in _ICDAR_PREFIXES)})"
        )
    ocr = lines[1][len(_ICDAR_PREFIXES[1]) :]
    gold = lines[2][len(_ICDAR_PREFIXES[2]) :]
    if len(ocr) != len(gold):
        raise DatasetError(
            f"{path}: the aligned OCR ({len(ocr)} characters) and gold standard ({len(gold)}) "
            "differ in length, so they are not aligned"
        )
    return ocr, gold


def _unaligned(ocr: str, gold: str) -> tuple[str, str]:
    """Drop positions whose gold standard is unknown, then the alignment padding on each side."""
    kept = [(o, g) for o, g in zip(ocr, gold, strict=True) if g != UNKNOWN]
    hypothesis = "".join(o for o, _ in kept if o != PAD)
    reference = "".join(g for _, g in kept if g != PAD)
    return hypothesis, reference


def _line_pieces(ocr: str, gold: str) -> Iterator[tuple[str, str]]:
    """Cut an aligned pair into pieces of about LINE_MIN-LINE_MAX gold characters.

    Each cut is at a space shared by both strings (the space itself is dropped, as a line break
    would be); the first such space after LINE_MIN characters, or the last one before LINE_MAX when
    a long word run leaves none in between.
    """
    start = 0
    while start < len(gold):
        cut = _cut(ocr, gold, start)
        if cut is None:
            yield ocr[start:], gold[start:]
            return
        yield ocr[start:cut], gold[start:cut]
        start = cut + 1


def _cut(ocr: str, gold: str, start: int) -> int | None:
    """Where the piece that begins at `start` ends, or None to take the rest."""
    length = 0  # gold characters so far, padding and unknowns not counted
    last_space = None
    for position in range(start, len(gold)):
        if ocr[position] == " " and gold[position] == " ":
            if length >= LINE_MIN:
                return position
            last_space = position
        if gold[position] not in (PAD, UNKNOWN):
            length += 1
        if length > LINE_MAX and last_space is not None and last_space > start:
            return last_space
    return None
