"""Train/test splits that do not leak: samples of one group (a document's lines, a book's pages)
land on the same side, and the same seed always gives the same split.

Groups are shuffled with the seed, then, in that order, each is taken into the test part, whole,
when that brings the test part nearer the asked share of the samples (so a document ten times the
size of the others does not make a 30% split a 60% one); everything else is the training part.
`write` makes the two parts datasets of their own, `DEST/train` and `DEST/test`, each holding its
images the way `datasets.convert` does (hard links where the filesystem allows, else copies), so
each part moves as one folder and passes `datasets.load`'s inside-the-folder check.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ocrbench import datasets
from ocrbench.cache import file_hash
from ocrbench.errors import ConfigError, DatasetError
from ocrbench.types import Sample

GROUP = datasets.GROUP  # the meta key converters fill in: a sample's document, book or folder
PARTS = ("train", "test")
OUTSIDE = "outside"  # where a part places images that lay outside the source folder


def default_group_by(samples: Sequence[Sample]) -> str | None:
    """`meta.group` when every sample has one (a converter's), else None: each sample alone."""
    if samples and all(sample.meta.get(GROUP) is not None for sample in samples):
        return f"meta.{GROUP}"
    return None


def group_of(sample: Sample, group_by: str | None) -> str:
    """The sample's group: `meta.KEY` names a meta field; None groups by the sample itself."""
    if group_by is None:
        return sample.id
    key = group_by.removeprefix("meta.")
    value = sample.meta.get(key)
    if value is None:
        raise ConfigError(f"sample {sample.id!r} has no meta.{key} to group by")
    return str(value)


def _check_share(test: float) -> None:
    if not 0 < test < 1:
        raise ConfigError(f"the test share must be between 0 and 1 (e.g. 0.3), not {test}")


def _check_group_key(samples: Sequence[Sample], group_by: str | None) -> None:
    """One line for a grouping key the samples lack, naming what they have instead."""
    if group_by is None:
        return
    key = group_by.removeprefix("meta.")
    lacking = [sample for sample in samples if sample.meta.get(key) is None]
    if not lacking:
        return
    if len(lacking) == len(samples):
        keys = sorted({name for sample in samples for name in sample.meta})
        have = ", ".join(f"meta.{name}" for name in keys) or "none"
        raise ConfigError(f"no sample has meta.{key} to group by (their meta keys: {have})")
    raise ConfigError(
        f"{len(lacking)} of {len(samples)} samples have no meta.{key} to group by "
        f"(e.g. {lacking[0].id!r})"
    )


def assign(
    samples: Sequence[Sample], test: float, seed: int, group_by: str | None
) -> tuple[list[Sample], list[Sample]]:
    """(train, test), each in the dataset's order."""
    _check_share(test)
    _check_group_key(samples, group_by)
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(group_of(sample, group_by), []).append(sample)
    if len(groups) < 2:
        raise ConfigError(
            f"{len(samples)} samples in {len(groups)} group(s): a split needs at least two groups"
        )
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    target = test * len(samples)
    chosen: set[str] = set()
    count = 0
    for name in order:
        size = len(groups[name])
        if abs(count + size - target) < abs(count - target) and len(chosen) < len(groups) - 1:
            chosen.add(name)
            count += size
    if not chosen:  # every group alone overshoots: the smallest one, rather than no test part
        chosen.add(min(order, key=lambda name: len(groups[name])))
    in_test = {id(s) for name in chosen for s in groups[name]}
    return [s for s in samples if id(s) not in in_test], [s for s in samples if id(s) in in_test]


@dataclass(frozen=True)
class Part:
    """One side of a written split: its folder, and how many samples and groups it holds."""

    root: Path
    samples: int
    groups: int


@dataclass(frozen=True)
class Split:
    group_by: str | None  # "meta.KEY", or None: each sample its own group
    train: Part
    test: Part


def write(
    src: str | Path,
    dest: str | Path,
    *,
    test: float,
    seed: int,
    group_by: str | None = None,
    allow_outside: bool = False,
) -> Split:
    """Split the dataset at `src` into `dest/train` and `dest/test`.

    `group_by` None means `meta.group` when every sample has one, else each sample alone. Nothing is
    written before the split is known good: bad input leaves `dest` untouched.
    """
    _check_share(test)
    source = datasets.load(src, allow_outside=allow_outside)
    dest = Path(dest)
    roots = {part: (dest / part).resolve() for part in PARTS}
    if source.root in roots.values():
        raise ConfigError(f"{dest}: a part of the split would overwrite the source {source.root}")
    if dest.exists() and not dest.is_dir():
        raise DatasetError(f"{dest} is a file, not a folder: give a folder for the split")
    group_by = group_by if group_by is not None else default_group_by(source.samples)
    train, tested = assign(source.samples, test, seed, group_by)
    try:
        for part, chosen in zip(PARTS, (train, tested), strict=True):
            placed = [_placed(sample, source.root, roots[part]) for sample in chosen]
            datasets.write(roots[part], placed)
    except OSError as error:
        raise DatasetError(
            f"cannot write the split into {dest}: {error.strerror or error}"
        ) from None
    train_part, test_part = (
        Part(roots[part], len(chosen), len({group_of(s, group_by) for s in chosen}))
        for part, chosen in zip(PARTS, (train, tested), strict=True)
    )
    return Split(group_by, train_part, test_part)


def _placed(sample: Sample, source: Path, root: Path) -> Sample:
    """The sample with its image placed under `root` at its path under the source folder."""
    if sample.image is None:
        return sample  # text-only: the manifest carries everything
    image = Path(sample.image)
    if image.is_relative_to(source):
        target = root / image.relative_to(source)
    else:  # allowed outside: a name that two images of the same name cannot share
        target = root / OUTSIDE / f"{file_hash(image)[:16]}-{image.name}"
    datasets.place(image, target)
    return replace(sample, image=target)
