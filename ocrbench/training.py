"""Training sets, and fitting a corrector on one: the leak-free half of the protocol.

A corrector that learns (`correctors.base.Learner`) is fitted on the (OCR text, reference) pairs of
a training set, each OCR text read by the same engine configuration as the rows it will correct, so
it learns that engine's errors. What it learned, its state, is cached (kind "fit") keyed by the
training data's content, the engine's identity and the corrector's identity, so a sweep fits once
per configuration and the next sweep not at all. Training data that overlaps the test set is
refused unless the user allows it, and a corrector that learns nothing says so.

A row a trained corrector corrected is keyed by its training set and by the corrector's identity
before it learned, not by the state: the state follows from those and the engine (also in the key),
so a sweep knows which rows it has before fitting anything.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocrbench import datasets, rowkey, splits
from ocrbench.cache import Cache, key
from ocrbench.correctors.base import Corrector, Learner, learned_anything, learns
from ocrbench.datasets import Dataset
from ocrbench.engines.base import OcrEngine
from ocrbench.errors import ConfigError, DatasetError, OcrbenchError, SampleError
from ocrbench.types import OcrResult, Sample

if TYPE_CHECKING:  # run imports this module (its rows record training sets)
    from ocrbench.run import Counts

# Bump when the same pairs could give another state (how pairs are made, how states are stored).
# 2: an entry says which training samples it was fitted without (their OCR failed, --skip-bad).
FIT_FORMAT = 2
KIND = "fit"  # the cache's kind for fitted states

# What a row records when its corrector was given no training set.
UNTRAINED = {"train": None, "train_sha256": None, "train_samples": None, "trained": False}


@dataclass(frozen=True)
class TrainingSet:
    """A training set as results and manifests name it: its folder, content hash and size."""

    path: str
    sha256: str
    samples: int

    @classmethod
    def of(cls, dataset: Dataset) -> TrainingSet:
        return cls(str(dataset.root), dataset.content_hash(), len(dataset.samples))

    def component(self, learned_by: str = "") -> rowkey.Component:
        """What a row's key holds of it, beside the engine and the corrector; `learned_by`: the
        versions of how the corrector learned from it and corrects with what it learned."""
        params = {"path": self.path, "sha256": self.sha256}
        if learned_by:
            params["learned_by"] = learned_by
        return ("train", params, str(FIT_FORMAT))

    def record(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "samples": self.samples}


@dataclass(frozen=True)
class Applied:
    """A training set as one configuration's rows used it: what they record and are keyed by.

    `untrained` is the corrector's identity before it learned (the row key's), None when it
    learned nothing from the set; `learned_by` is its `learning_version`, which its untrained
    identity does not name."""

    train: TrainingSet
    untrained: rowkey.Component | None = None
    learned_by: str = ""

    @property
    def trained(self) -> bool:
        return self.untrained is not None

    def columns(self) -> dict[str, Any]:
        return {
            "train": self.train.path,
            "train_sha256": self.train.sha256,
            "train_samples": self.train.samples,
            "trained": self.trained,
        }


def row_components(
    engine: rowkey.Component, corrector: rowkey.Component, applied: Applied | None
) -> list[rowkey.Component]:
    """The components of a row's key: the engine, the corrector (as configured, before it learned)
    and, when it was given one, the training set. Without one: exactly the keys of before."""
    if applied is None:
        return [engine, corrector]
    learned_by = applied.learned_by if applied.trained else ""
    return [engine, applied.untrained or corrector, applied.train.component(learned_by)]


def load(path: str | Path, *, skip_bad: bool = False, allow_outside: bool = False) -> Dataset:
    """Read a training set; one line for a folder that is not a dataset, an empty one, or one
    with no references to learn from."""
    given = Path(path).expanduser()
    if not given.is_dir():
        what = "it is a file" if given.exists() else "no such folder"
        raise ConfigError(f"training set {given} is not a dataset: {what}")
    manifest = given / datasets.MANIFEST
    if not manifest.is_file():
        raise ConfigError(f"training set {given} is not a dataset: it has no {datasets.MANIFEST}")
    try:
        empty = not manifest.read_bytes().strip()
    except OSError as error:
        raise ConfigError(
            f"training set {given}: cannot read {manifest} ({error.strerror})"
        ) from None
    if empty:
        raise ConfigError(f"training set {given} is empty: its {datasets.MANIFEST} has no samples")
    try:
        dataset = datasets.load(given, skip_bad=skip_bad, allow_outside=allow_outside)
    except DatasetError as error:
        raise DatasetError(f"training set: {error}") from None
    if not any(sample.text.strip() for sample in dataset.samples):
        raise ConfigError(
            f"training set {given} has no references: every sample's text is empty, and a "
            "corrector learns from (OCR, reference) pairs"
        )
    return dataset


# What makes two samples the same data (splits.same_content: the one notion, so that no split
# overlaps itself by this check's measure), as this check's message names it.
_SAID = {"image": "the same image bytes", "pair": "the same (OCR, reference) pair"}


def _content(sample: Sample) -> list[tuple[str, ...]]:
    return [(_SAID[kind], *rest) for kind, *rest in splits.same_content(sample)]


def overlap(train: Dataset, test: Dataset) -> list[tuple[str, str, str]]:
    """The training samples that hold a test sample's content: (training id, test id, what)."""
    tested: dict[tuple[str, ...], str] = {}
    for sample in test.samples:
        for content in _content(sample):
            tested.setdefault(content, sample.id)
    overlapping = []
    for sample in train.samples:
        match = next((c for c in _content(sample) if c in tested), None)
        if match is not None:
            overlapping.append((sample.id, tested[match], match[0]))
    return overlapping


def shared_references(train: Dataset, test: Dataset) -> list[str]:
    """The test set's (non-empty) references the training set holds too, read otherwise: not
    refused, since two books share their running heads ("INTRODUCTION."), but said, since a line
    read twice would put its words into the fit. A line of `_INSIDE_WORDS` words or more counts
    also inside a longer training reference (the same data cut otherwise: a document's lines
    tested, the whole document trained on)."""
    trained = [splits.same_reference(sample) for sample in train.samples]
    tested = [splits.same_reference(sample) for sample in test.samples]
    whole = set(trained)
    inside = _inside(trained, [text for text in tested if text and text not in whole])
    return list(dict.fromkeys(t for t in tested if t and (t in whole or t in inside)))


_INSIDE_WORDS = 5  # shorter lines (a running head, "Chapter I.") recur in any collection


def _inside(trained: list[str], tested: list[str]) -> set[str]:
    """The tested texts (of `_INSIDE_WORDS` words or more) that are whole words of a trained one:
    each training text's runs of words looked up against the tested texts' first words."""
    starts: dict[tuple[str, ...], list[str]] = {}
    for text in tested:
        words = text.split(" ")
        if len(words) >= _INSIDE_WORDS:
            starts.setdefault(tuple(words[:_INSIDE_WORDS]), []).append(text)
    found: set[str] = set()
    for text in trained if starts else []:
        words = text.split(" ")
        padded = f" {text} "
        for k in range(len(words) - _INSIDE_WORDS + 1):
            for candidate in starts.get(tuple(words[k : k + _INSIDE_WORDS]), ()):
                if candidate not in found and f" {candidate} " in padded:
                    found.add(candidate)
    return found


def say_shared_references(train: Dataset, test: Dataset) -> dict[str, Any]:
    """A warning and the manifest's count, where the two sets share references."""
    shared = shared_references(train, test)
    if shared:
        warn(references_note(len(shared), shared[0]))
    return {"shared_references": len(shared), "shared_example": shared[0]} if shared else {}


def references_note(count: int, example: str) -> str:
    shown = example if len(example) <= 40 else example[:39] + "…"
    return (
        f"{count} of the test set's references are in the training set too, whole or inside "
        f"a longer reference (e.g. {shown!r}): a running head is harmless, a line read twice "
        "(or a page trained on whole while its lines are tested) puts its words into the fit"
    )


def check_overlap(train: Dataset, test: Dataset, allow: str) -> None:
    """Refuse a training set that holds a test sample's content; `allow` says how to permit it."""
    overlapping = overlap(train, test)
    if overlapping:
        train_id, test_id, what = overlapping[0]
        raise ConfigError(
            f"the training set {train.root} overlaps the test set {test.root}: "
            f"{len(overlapping)} of its {len(train.samples)} samples are test data (e.g. training "
            f"sample {train_id!r} and test sample {test_id!r}: {what}); {allow} to train on it "
            "anyway"
        )


def say_if_nothing_learned(corrector: Any, state: dict[str, Any], train: Path) -> None:
    """A warning where a fit found nothing to learn (a prompt no example): the rows are labelled
    trained, as they were, but correct as the untrained corrector's."""
    if not learned_anything(corrector, state):
        warn(f"corrector {corrector.name} learned nothing from the training set {train} "
             f"({corrector.describe(state)}): its trained rows correct as untrained")  # fmt: skip


def learns_nothing(name: str, option: str) -> str:
    return f"corrector {name} learns nothing from a training set; {option} is ignored for it"


def warn(message: str) -> None:
    print(f"ocrbench: warning: {message}", file=sys.stderr)


def fit_version(learner: object) -> str:
    """The version of what a learner's `fit` returns (its FIT_VERSION), which its `version()`,
    the version of how it corrects, need not change with: part of the fit's cache key."""
    return str(getattr(learner, "FIT_VERSION", ""))


def learning_version(learner: object) -> str:
    """What a trained row depends on beyond the corrector's untrained identity: how its `fit`
    learns (FIT_VERSION) and how it corrects with what it learned (TRAINED_VERSION). A release
    that changes either, and not the untrained corrector, must not resume the old trained rows."""
    versions = (fit_version(learner), str(getattr(learner, "TRAINED_VERSION", "")))
    named = zip(("fit", "trained"), versions, strict=True)
    return " ".join(f"{name}={v}" for name, v in named if v)


def fit_key(
    train: TrainingSet, engine: rowkey.Component, corrector: rowkey.Component, fitted_by: str
) -> str:
    """The cache key of what `corrector` (its `fit` at version `fitted_by`) learns from `train`
    read by `engine`."""
    return key(
        KIND,
        FIT_FORMAT,
        train.sha256,
        [[name, dict(params), version] for name, params, version in (engine, corrector)],
        fitted_by,
    )


def cached_fit(cache: Cache, entry: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """A state fitted before, and the training samples it was fitted without ({id: why their OCR
    failed}); None when absent, or an entry of another shape: fit again."""
    hit = cache.get(KIND, entry)
    if hit is None or hit.get("format") != FIT_FORMAT or not isinstance(hit.get("state"), dict):
        return None
    left_out = hit.get("left_out")
    if not isinstance(left_out, dict):
        return None
    return hit["state"], {str(k): str(v) for k, v in left_out.items()}


def replay(left_out: Mapping[str, str], skipped: list[dict[str, Any]] | None) -> None:
    """What reading the training set said when the cached fit was made, said again: the same run
    must not depend on what the cache holds. Without --skip-bad (`skipped` None) the first
    sample's failure ends the run as it would have; with it they are recorded as left out."""
    for sample_id, reason in left_out.items():
        if skipped is None:
            raise SampleError(sample_id, f"training set: {reason}")
        skipped.append({"id": sample_id, "reason": f"training set: {reason}", "phase": "ocr"})


def pairs(samples: Sequence[Sample], read: Mapping[str, OcrResult]) -> list[tuple[str, str]]:
    """(OCR text, reference) for each training sample that was read."""
    return [(read[sample.id].text, sample.text) for sample in samples if sample.id in read]


def fit(
    learner: Learner,
    name: str,
    training_pairs: Sequence[tuple[str, str]],
    cache: Cache,
    entry: str,
    left_out: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Fit, and cache the state with the training samples it was fitted without (`left_out`).
    It goes through JSON either way, so a fresh state and a cached one are the same values (lists,
    not tuples) and a trained corrector cannot tell them apart."""
    state = learner.fit(training_pairs)
    try:
        state = json.loads(json.dumps(state, ensure_ascii=False))
    except (TypeError, ValueError) as error:
        raise OcrbenchError(f"corrector {name}: what fit learned is not JSON ({error})") from None
    if not isinstance(state, dict):
        raise OcrbenchError(f"corrector {name}: fit returned {type(state).__name__}, not a dict")
    cache.put(KIND, entry, {"format": FIT_FORMAT, "state": state, "left_out": dict(left_out or {})})
    return state


def record(
    applied: Applied, dataset: str, config_id: str, config: str, learned: dict[str, Any] | None
) -> dict[str, Any]:
    """A manifest's entry for one configuration given a training set (the report reads it)."""
    return {
        "dataset": dataset,
        "config_id": config_id,
        "config": config,
        "train": applied.train.path,
        "trained": applied.trained,
        "learned": learned,
    }


def prepare(
    train: Dataset,
    engine: OcrEngine,
    corrector: Corrector,
    *,
    cache: Cache,
    counts: Counts,
    skipped: list[dict[str, Any]] | None = None,
    option: str = "--train",
) -> tuple[Corrector, Applied, dict[str, Any] | None]:
    """One configuration's fit: (the corrector to use, what its rows record, `describe(state)`).

    The engine reads the training images through the cache (`counts` says how much); the state is
    cached. A corrector that learns nothing is returned as it is, with a warning. With `skipped`
    (a list), a training sample whose OCR fails is recorded there and left out of the fit."""
    from ocrbench.run import Step, recognize

    train_set = TrainingSet.of(train)
    if not learns(corrector):
        warn(learns_nothing(corrector.name, option))
        return corrector, Applied(train_set), None
    assert isinstance(corrector, Learner)
    engine_step, corrector_step = Step(engine), Step(corrector)
    entry = fit_key(
        train_set, engine_step.identity, corrector_step.identity, fit_version(corrector)
    )
    found = cached_fit(cache, entry)
    if found is None:
        read, left_out = {}, {}
        for sample in train.samples:
            try:
                read[sample.id] = recognize(engine_step, sample, cache, counts)
            except SampleError as error:
                if skipped is None:
                    raise SampleError(sample.id, f"training set: {error}") from error
                skipped.append(
                    {"id": sample.id, "reason": f"training set: {error}", "phase": "ocr"}
                )
                left_out[sample.id] = str(error)
        state = fit(
            corrector, corrector.name, pairs(train.samples, read), cache, entry, left_out
        )  # fmt: skip
        counts.fit_run += 1
    else:
        state, left_out = found
        replay(left_out, skipped)
        counts.fit_cached += 1
    say_if_nothing_learned(corrector, state, train.root)
    trained = corrector.trained(state)
    applied = Applied(train_set, corrector_step.identity, learning_version(corrector))
    return trained, applied, corrector.describe(state)
