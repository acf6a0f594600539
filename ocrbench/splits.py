"""Train/test splits that do not leak: samples of one group (a document's lines, a book's pages)
land on the same side, and the same seed always gives the same split.

Groups that hold the same content, which `ocrbench run --train` refuses on both sides (the same
image bytes, or the same (OCR, reference) pair once both are NFC with whitespace collapsed), are
merged into one first (union-find), so a split never overlaps itself; where no two groups share
content the groups, and so the split, are what they were without this step.

Groups are shuffled with the seed, then, in that order, each is taken into the test part, whole,
when that brings the test part nearer the asked share of the samples; the same pass that never
takes a group larger than the share is chosen instead where it lands nearer (so a document holding
58% of the samples does not make a 30% split a 58% one); everything else is the training part.
`write` makes the two parts datasets of their own, `DEST/train` and `DEST/test`, each holding its
images the way `datasets.convert` does (hard links where the filesystem allows, else copies), so
each part moves as one folder and passes `datasets.load`'s inside-the-folder check.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ocrbench import datasets, rowkey
from ocrbench.cache import file_hash
from ocrbench.errors import ConfigError, DatasetError
from ocrbench.metrics import Normalization
from ocrbench.types import Sample

GROUP = datasets.GROUP  # the meta key converters fill in: a sample's document, book or folder
ID = "id"  # `--group-by id`: each sample a group of its own, whatever its meta
PARTS = ("train", "test")
OUTSIDE = "outside"  # where a part places images that lay outside the source folder
# Two samples are the same data when their images have the same bytes or their (OCR, reference)
# pairs are equal once both are NFC with whitespace collapsed: what the training overlap check
# compares (training.check_overlap), so no split it refuses is made.
SAME = "the same image bytes or (OCR, reference) pair"
_SAME_TEXT = Normalization()  # the default: NFC, whitespace collapsed, as the metrics compare


def default_group_by(samples: Sequence[Sample]) -> str | None:
    """`meta.group` when the samples have one (a converter's), None when none has: each sample
    alone. Some without it is one line: splitting each sample alone would let the documents of all
    the others straddle train and test."""
    having = sum(sample.meta.get(GROUP) is not None for sample in samples)
    if not having:
        return None
    if having < len(samples):
        lacking = next(sample for sample in samples if sample.meta.get(GROUP) is None)
        raise ConfigError(
            f"{len(samples) - having} of {len(samples)} samples have no meta.{GROUP} to group by "
            f"(e.g. {lacking.id!r}); give them one, or --group-by id to split each sample alone"
        )
    return f"meta.{GROUP}"


def group_of(sample: Sample, group_by: str | None) -> str:
    """The sample's group: `meta.KEY` names a meta field; None or "id" groups by the sample."""
    if group_by is None or group_by == ID:
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
    if group_by is None or group_by == ID:
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


def same_content(sample: Sample) -> list[tuple[str, ...]]:
    """What makes two samples the same data: their image's bytes, or their (OCR, reference) pair
    as every metric reads it (NFC, whitespace collapsed); `training.check_overlap` uses it too."""
    found: list[tuple[str, ...]] = []
    image = rowkey.image_sha256(sample)
    if image is not None:
        found.append(("image", image))
    if sample.ocr is not None:
        found.append(("pair", _SAME_TEXT.apply(sample.ocr), same_reference(sample)))
    return found


def same_reference(sample: Sample) -> str:
    """A sample's reference as every metric reads it (NFC, whitespace collapsed)."""
    return _SAME_TEXT.apply(sample.text)


@dataclass(frozen=True)
class Grouping:
    """The samples' groups with those that share content merged: `groups` each named by the first
    (in sorted order) of the groups given that it holds, `names` the given group names, each with
    the name of the group it is in now; `merged` of them were merged with others, into
    `merged_into` groups."""

    groups: dict[str, list[Sample]]
    names: dict[str, str]
    merged: int = 0
    merged_into: int = 0

    @property
    def given(self) -> int:
        return len(self.names)


def grouping(samples: Sequence[Sample], group_by: str | None) -> Grouping:
    """Group the samples by `group_by`, then merge the groups that hold the same content."""
    given: dict[str, list[Sample]] = {}
    for sample in samples:
        given.setdefault(group_of(sample, group_by), []).append(sample)
    parent = {name: name for name in given}  # union-find; a root is its set's smallest name

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    holder: dict[tuple[str, ...], str] = {}
    for name in sorted(given):
        for sample in given[name]:
            for content in same_content(sample):
                one, other = root(holder.setdefault(content, name)), root(name)
                if one != other:
                    parent[max(one, other)] = min(one, other)
    members: dict[str, list[str]] = {}
    for name in sorted(given):
        members.setdefault(root(name), []).append(name)
    joined = [names for names in members.values() if len(names) > 1]
    return Grouping(
        {first: [s for name in names for s in given[name]] for first, names in members.items()},
        {name: root(name) for name in sorted(given)},
        sum(map(len, joined)),
        len(joined),
    )


def assign(
    samples: Sequence[Sample], test: float, seed: int, group_by: str | None
) -> tuple[list[Sample], list[Sample]]:
    """(train, test), each in the dataset's order; groups with the same content merged first."""
    _check_share(test)
    _check_group_key(samples, group_by)
    return _assign(samples, grouping(samples, group_by), test, seed, group_by)


def _assign(
    samples: Sequence[Sample], grouped: Grouping, test: float, seed: int, group_by: str | None
) -> tuple[list[Sample], list[Sample]]:
    _check_two(samples, grouped, group_by)
    groups = grouped.groups
    # The given groups are shuffled, as they always were, and a merged group comes up where the
    # first of its given groups does: where nothing was merged, the split is the one it was.
    shuffled = sorted(grouped.names)
    random.Random(seed).shuffle(shuffled)
    order = list(dict.fromkeys(grouped.names[name] for name in shuffled))
    target = test * len(samples)
    sizes = {name: len(groups[name]) for name in order}
    chosen = _nearer(order, sizes, target)
    # A group larger than the target drawn early is "nearer" than nothing (ICDAR 2017's monograph,
    # 58% of its lines, made a 30% split 58/42): the pass that never takes one, where it is nearer.
    small = _nearer([name for name in order if sizes[name] <= target], sizes, target)
    if small and _off(small, sizes, target) < _off(chosen, sizes, target):
        chosen = small
    if not chosen:  # every group alone overshoots: the smallest one, rather than no test part
        chosen.add(min(order, key=sizes.__getitem__))
    in_test = {id(s) for name in chosen for s in groups[name]}
    return [s for s in samples if id(s) not in in_test], [s for s in samples if id(s) in in_test]


def _nearer(order: Sequence[str], sizes: dict[str, int], target: float) -> set[str]:
    """The groups taken in order, each where it brings the count nearer the target (one group
    always left for training)."""
    chosen: set[str] = set()
    count = 0
    for name in order:
        if abs(count + sizes[name] - target) < abs(count - target) and len(chosen) < len(sizes) - 1:
            chosen.add(name)
            count += sizes[name]
    return chosen


def _off(chosen: set[str], sizes: dict[str, int], target: float) -> float:
    return abs(sum(sizes[name] for name in chosen) - target)


def _check_two(samples: Sequence[Sample], grouped: Grouping, group_by: str | None) -> None:
    """One line where no split can be made, naming what would make one."""
    if grouped.given < 2:
        if group_by is None or group_by == ID:  # one sample (or one id given every sample)
            raise ConfigError(
                f"{len(samples)} sample(s) in 1 group: a split needs at least two groups"
            )
        key = group_by.removeprefix("meta.")
        value = samples[0].meta.get(key)
        again = ""
        if key == GROUP and value == ".":  # a pairs folder converted when its top was one group
            again = "; or convert the pairs folder again, which makes each file at its top a group"
        raise ConfigError(
            f"{len(samples)} samples in 1 group (every one's meta.{key} is {value!r}): a split "
            "needs at least two groups; --group-by meta.KEY groups by another meta key, "
            f"--group-by {ID} puts each sample alone (where samples are independent){again}"
        )
    if len(grouped.groups) < 2:
        raise ConfigError(
            f"{len(samples)} samples in {grouped.given} groups that hold identical content ({SAME}"
            "): any split would put the same data on both sides; remove the duplicates first"
        )


@dataclass(frozen=True)
class Part:
    """One side of a written split: its folder, and how many samples and groups it holds."""

    root: Path
    samples: int
    groups: int


@dataclass(frozen=True)
class Split:
    group_by: str | None  # "meta.KEY", or None or "id": each sample its own group
    train: Part
    test: Part
    merged: int = 0  # groups merged with others because they hold the same content
    merged_into: int = 0  # the groups they became

    def merged_note(self) -> str | None:
        """A line on the groups merged for holding the same content, or None where none were."""
        if not self.merged:
            return None
        return (
            f"{self.merged} groups holding identical content ({SAME}) merged into "
            f"{self.merged_into}: each kept on one side"
        )


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

    `group_by` None means `meta.group` when every sample has one, else each sample alone ("id"
    says each sample alone whatever its meta); groups with the same content are merged. Nothing is
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
    _check_group_key(source.samples, group_by)
    grouped = grouping(source.samples, group_by)
    train, tested = _assign(source.samples, grouped, test, seed, group_by)
    # An earlier split's parts go first, and this one's if it fails: one part of each, which
    # overlap, must never be left to load as a split.
    manifests = [roots[part] / datasets.MANIFEST for part in PARTS]
    try:
        for manifest in manifests:
            manifest.unlink(missing_ok=True)
        for part, chosen in zip(PARTS, (train, tested), strict=True):
            placed = [_placed(sample, source.root, roots[part]) for sample in chosen]
            datasets.write(roots[part], placed)
    except OSError as error:
        for manifest in manifests:
            with contextlib.suppress(OSError):  # where it could not be written, it is not there
                manifest.unlink(missing_ok=True)
        raise DatasetError(
            f"cannot write the split into {dest}: {error.strerror or error}"
        ) from None
    train_part, test_part = (
        Part(roots[part], len(chosen), len({group_of(s, group_by) for s in chosen}))
        for part, chosen in zip(PARTS, (train, tested), strict=True)
    )
    return Split(group_by, train_part, test_part, grouped.merged, grouped.merged_into)


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
