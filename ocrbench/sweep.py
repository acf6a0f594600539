"""Sweeps: the grid of a spec (`specs.py`) run over its datasets, resumable at any point.

Execution happens in two phases so that each engine configuration reads each image once, whatever
the correctors and with or without a cache: first OCR, whose results come back to this process,
then corrections, each task carrying the OCR results it corrects, in chunks spread over local
processes or a Dask cluster (`executors.py` picks; `tasks.py` is what runs there). On a cluster
the workers share neither disk nor cache with this process: it looks the cache up before sending,
and stores what comes back. Finished rows are appended to the journal (`journal.py`) as they
arrive, so a sweep killed at any point, even by SIGKILL, resumes with only what is missing; a row
is reused only when its key (`rowkey.py`: the sample's content, the normalisation, every
component's version) is the one it would have now. `results.parquet` is written from the journal
at the end. One run at a time holds the run folder (`rundir.py`).

A dataset with a training set (`train:` in the spec) adds its training samples to the OCR phase,
so each engine reads each training image once too; then, on this process and before any
correction, each corrector that learns is fitted once per (training set, engine configuration),
its state taken from the cache when it is there (`training.py`). Correction tasks carry the state;
a worker builds the trained corrector from it once per process.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ocrbench import datasets, provenance, results, rundir, training
from ocrbench import tasks as worker
from ocrbench.cache import Cache
from ocrbench.correctors.base import learns
from ocrbench.errors import ConfigError, OcrbenchError, SampleError
from ocrbench.executors import open_executor
from ocrbench.journal import KEY, Journal
from ocrbench.rowkey import Component as Identity
from ocrbench.rowkey import row_key
from ocrbench.run import (
    Counts,
    Step,
    cached_correction,
    cached_ocr,
    config_id,
    label,
    label_of,
    meta_json,
)
from ocrbench.specs import Component, DatasetRef, Spec
from ocrbench.training import TrainingSet
from ocrbench.types import OcrResult, Sample

JOURNAL = "rows.jsonl"


def _cached_ocr(
    step: Step, samples: list[Sample], cache: Cache, found: dict[str, OcrResult], counts: Counts
) -> list[Sample]:
    """The samples whose OCR this machine's cache lacks; the others' results go into `found`."""
    missing = []
    for sample in samples:
        hit = cached_ocr(step, sample, cache)
        if hit is None:
            missing.append(sample)
        else:
            found[sample.id] = hit
            counts.ocr_cached += 1
    return missing


def _split_cached(
    step: Step, samples: list[Sample], ocr: dict[str, OcrResult], cache: Cache
) -> tuple[list[Sample], list[Sample]]:
    """(samples to correct on a worker, samples whose correction this machine's cache holds)."""
    missing: list[Sample] = []
    kept: list[Sample] = []
    for sample in samples:
        hit = cached_correction(step, ocr[sample.id], cache)
        (missing if hit is None else kept).append(sample)
    return missing, kept


def _store(cache: Cache, written: worker.Written) -> None:
    """What a remote task computed, into this machine's cache."""
    for kind, entry, value in written:
        cache.put(kind, entry, value)


def _chunks(samples: Sequence[Sample], size: int) -> Iterator[tuple[Sample, ...]]:
    for start in range(0, len(samples), size):
        yield tuple(samples[start : start + size])


def dataset_names(
    roots: Sequence[Path],
    limits: Sequence[int | None],
    trains: Sequence[Path | None] | None = None,
) -> list[str]:
    """A readable name per dataset of a sweep, unique within it: the folder's name, with as many
    parent folders as it takes to tell folders of the same name apart ("a/inv", "b/inv"), and,
    when one folder is listed twice, the limit, and the training set where theirs differ."""
    trains = list(trains) if trains is not None else [None] * len(roots)
    names = _shortest(roots)
    given = list(dict.fromkeys(t for t in trains if t is not None))
    train_names = dict(zip(given, _shortest(given), strict=True))
    qualified = []
    for name, limit, train in zip(names, limits, trains, strict=True):
        alike = [i for i, other in enumerate(names) if other == name]
        if len(alike) == 1:
            qualified.append(name)
            continue
        trains_differ = len({trains[i] for i in alike}) > 1
        parts = []
        if not trains_differ or len({limits[i] for i in alike}) > 1:
            parts.append(f"limit {limit or 'none'}")
        if trains_differ:
            parts.append("no train" if train is None else f"train: {train_names[train]}")
        qualified.append(f"{name} ({', '.join(parts)})")
    names = qualified
    # Still the same (one folder listed twice with the same limit): number them.
    return [
        f"{n} #{names[:i].count(n) + 1}" if names.count(n) > 1 else n for i, n in enumerate(names)
    ]


def _shortest(paths: Sequence[Path]) -> list[str]:
    """Each path by its folder's name, with as many parent folders as it takes to tell it from the
    others ("a/inv", "b/inv")."""
    names = []
    for path in paths:
        others = {other for other in paths if other != path}
        depth = 1
        while depth < len(path.parts) and any(
            other.parts[-depth:] == path.parts[-depth:] for other in others
        ):
            depth += 1
        names.append(Path(*path.parts[-depth:]).as_posix())
    return names


@dataclass
class _Plan:
    """What a sweep has to do, given what its journal already holds."""

    # Per result row, in the order of the grid: (dataset index, row key, sample id).
    order: list[tuple[int, str, str]] = field(default_factory=list)
    # Per entry, the index its pages are read under: a folder listed twice (without and with
    # `train:`, with two limits) is read once, under its first entry's index.
    readers: list[int] = field(default_factory=list)
    # Per (reading index, engine): the samples some missing row needs read.
    to_read: dict[tuple[int, Component], dict[str, Sample]] = field(default_factory=dict)
    # Per (dataset index, engine, corrector): the samples whose rows are missing.
    to_correct: dict[tuple[int, Component, Component], list[Sample]] = field(default_factory=dict)
    expected: set[str] = field(default_factory=set)  # the keys of the missing rows


def _plan(
    spec: Spec,
    loaded: Sequence[datasets.Dataset],
    trains: Sequence[TrainingSet | None],
    engines: dict[Component, Identity],
    correctors: dict[Component, Identity],
    learners: dict[Component, str],
    journal: Journal,
) -> _Plan:
    norm = spec.normalization.name()
    plan = _Plan(readers=_readers(loaded))
    for index, dataset in enumerate(loaded):
        root, train = str(dataset.root), trains[index]
        for engine in spec.engines:
            for corrector in spec.correctors:
                applied = None
                if train is not None:
                    learned = correctors[corrector] if corrector in learners else None
                    applied = training.Applied(train, learned, learners.get(corrector, ""))
                components = training.row_components(
                    engines[engine], correctors[corrector], applied
                )
                for sample in dataset.samples:
                    key = row_key(root, sample, components, norm)
                    plan.order.append((index, key, sample.id))
                    if key in journal.rows or key in plan.expected:
                        continue
                    plan.expected.add(key)
                    plan.to_read.setdefault((plan.readers[index], engine), {})[sample.id] = sample
                    plan.to_correct.setdefault((index, engine, corrector), []).append(sample)
    return plan


def _readers(loaded: Sequence[datasets.Dataset]) -> list[int]:
    """Per entry, the index of the first entry of the same folder: the one its pages are read
    under."""
    first: dict[Path, int] = {}
    return [first.setdefault(dataset.root, index) for index, dataset in enumerate(loaded)]


def _failed_in(dataset: datasets.Dataset, failed: dict[Path, dict[str, str]]) -> dict[str, str]:
    """The samples of this entry whose OCR failed (a folder listed twice, with and without a
    limit, shares its failures: each entry counts only those it holds)."""
    ids = {sample.id for sample in dataset.samples}
    return {i: reason for i, reason in failed[dataset.root].items() if i in ids}


def run(
    spec: Spec,
    out: Path,
    *,
    cache: Cache,
    workers: int | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
    skip_bad: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a sweep into `out`; returns the run's manifest.

    With `skip_bad`, invalid samples and samples whose OCR fails are left out of every
    configuration of their dataset (so configurations stay comparable) and listed in the manifest;
    otherwise the first of them ends the sweep with one line, the rows finished before kept."""
    with rundir.locked(out):
        return _run(spec, out, cache, workers, progress, chunk_size, skip_bad)


def _run(
    spec: Spec,
    out: Path,
    cache: Cache,
    workers: int | None,
    progress: bool,
    chunk_size: int | None,
    skip_bad: bool,
) -> dict[str, Any]:
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ConfigError(f"workers must be a positive integer, not {workers!r}")
    workers = workers or spec.workers or os.cpu_count() or 1
    refs = list(dict.fromkeys(spec.datasets))  # the same entry twice is run once
    loaded = [
        datasets.load(ref.path, limit=ref.limit, skip_bad=skip_bad, allow_outside=ref.allow_outside)
        for ref in refs
    ]
    train_sets = _training_sets(spec, refs, loaded, skip_bad)
    shared = _shared_references(refs, loaded, train_sets)
    trains = [None if r.train is None else TrainingSet.of(train_sets[r.train]) for r in refs]
    names = dataset_names(
        [d.root for d in loaded], [r.limit for r in refs], [r.train for r in refs]
    )
    headers = [
        replace(d, name=name, samples=(), skipped=()) for d, name in zip(loaded, names, strict=True)
    ]
    # The versions that key the rows are asked here, once, of components built in this process
    # (cheap: engines and models load lazily).
    engine_steps = {e: Step(worker.build("engine", e)) for e in spec.engines}
    engines = {e: step.identity for e, step in engine_steps.items()}
    correctors = {c: Step(worker.build("corrector", c)).identity for c in spec.correctors}
    learners = {  # each learner, and the version of how it learns (training.learning_version)
        c: training.learning_version(built)
        for c in spec.correctors
        if learns(built := worker.build("corrector", c))
    }
    if train_sets:
        for name in dict.fromkeys(c.name for c in spec.correctors if c not in learners):
            training.warn(training.learns_nothing(name, "train:"))
    journal = Journal(out / JOURNAL)
    counts = Counts()
    started = time.perf_counter()
    plan = _plan(spec, loaded, trains, engines, correctors, learners, journal)
    readers = plan.readers
    cache_root = str(cache.root) if cache.root else None
    # Training sets are read like datasets, indexed after them: (index, engine) -> results.
    train_index = {root: len(loaded) + i for i, root in enumerate(train_sets)}
    states: dict[tuple[Path, Component, Component], tuple[str, dict[str, Any]]] = {}
    to_fit = []
    unread_training: dict[Path, dict[str, str]] = {root: {} for root in train_sets}
    for root, train in train_sets.items():
        for engine in spec.engines:
            for corrector in (c for c in spec.correctors if c in learners):
                entry = training.fit_key(
                    TrainingSet.of(train),
                    engines[engine],
                    correctors[corrector],
                    training.fit_version(worker.build("corrector", corrector)),
                )
                fitted = training.cached_fit(cache, entry)
                if fitted is not None:
                    state, left_out = fitted
                    skipped: list[dict[str, Any]] | None = [] if skip_bad else None
                    training.replay(left_out, skipped)  # as reading the set said then
                    for record in skipped or []:
                        reason = str(record["reason"]).removeprefix("training set: ")
                        unread_training[root].setdefault(str(record["id"]), reason)
                    states[(root, engine, corrector)] = (entry, state)
                    counts.fit_cached += 1
                else:
                    to_fit.append((root, engine, corrector, entry))
                    plan.to_read[(train_index[root], engine)] = {s.id: s for s in train.samples}
    read: dict[tuple[int, Component], dict[str, OcrResult]] = {}
    # Samples whose OCR failed, by dataset folder: left out of every configuration there.
    failed: dict[Path, dict[str, str]] = {d.root: {} for d in loaded}
    fits: list[dict[str, Any]] = []

    # On a Dask cluster the workers have neither this machine's disk nor its cache: tasks carry
    # the images' bytes, the cache is looked up here before anything is sent, and what the
    # workers compute is stored here when it comes back.
    remote = spec.executor.startswith("dask")
    executor = open_executor(spec.executor, workers)
    aborted = True
    try:
        ocr_tasks = []
        for (index, engine), samples in plan.to_read.items():
            todo = list(samples.values())
            if remote:
                found = read.setdefault((index, engine), {})
                todo = _cached_ocr(engine_steps[engine], todo, cache, found, counts)
            # Small chunks: the progress bar moves, and a slow engine's pages spread evenly.
            size = chunk_size or max(1, min(4, -(-len(todo) // (2 * workers))))
            for chunk in _chunks(todo, size):
                ocr_tasks.append(
                    worker.OcrTask(index, engine, chunk, None if remote else cache_root)
                )
        sources = [*(d.root for d in loaded), *train_sets]
        reading = worker.on_worker(worker.read) if remote else worker.read
        with tqdm(total=sum(len(t.samples) for t in ocr_tasks), desc=f"sweep {spec.name}: OCR",
                  unit="page", disable=not progress or not ocr_tasks) as bar:  # fmt: skip
            for task, (done, work, written) in executor.map_unordered(
                reading, ocr_tasks, prepare=worker.with_images if remote else None
            ):
                _store(cache, written)
                counts.add(work)
                for sample_id, result in done:
                    if isinstance(result, OcrResult):
                        read.setdefault((task.dataset, task.engine), {})[sample_id] = result
                        continue
                    is_training = task.dataset >= len(loaded)
                    if not skip_bad:
                        where = "training set: " if is_training else ""
                        raise SampleError(sample_id, f"{where}{result} (--skip-bad leaves it out)")
                    failures = unread_training if is_training else failed
                    failures[sources[task.dataset]].setdefault(sample_id, result)
                bar.update(len(done))

        for root, engine, corrector, entry in to_fit:
            train = train_sets[root]
            got = read.get((train_index[root], engine), {})
            pairs = training.pairs(train.samples, got)
            learner = worker.build("corrector", corrector)
            left_out = {
                s.id: unread_training[root].get(s.id, "not read") for s in train.samples
                if s.id not in got
            }  # fmt: skip
            states[(root, engine, corrector)] = (
                entry, training.fit(learner, corrector.name, pairs, cache, entry, left_out)
            )  # fmt: skip
            counts.fit_run += 1
        for (root, _, corrector), (_, state) in states.items():
            training.say_if_nothing_learned(worker.build("corrector", corrector), state, root)
        fits = _fit_records(refs, names, trains, engines, correctors, learners, states)

        # `here`: corrections this machine's cache holds (remote only): rows made in this process.
        tasks: list[worker.CorrectionTask] = []
        here: list[worker.CorrectionTask] = []
        for (index, engine, corrector), missing in plan.to_correct.items():
            todo = [s for s in missing if s.id not in failed[loaded[index].root]]
            size = chunk_size or max(1, min(16, -(-len(todo) // (2 * workers))))
            train_root = refs[index].train
            fit = None if train_root is None else states.get((train_root, engine, corrector))
            kept: list[Sample] = []
            if remote:
                used = worker.build("corrector", corrector) if fit is None else worker.trained(
                    corrector, *fit
                )  # fmt: skip
                todo, kept = _split_cached(Step(used), todo, read[(readers[index], engine)], cache)
            for samples_of, into, on_worker in ((todo, tasks, remote), (kept, here, False)):
                for chunk in _chunks(samples_of, size):
                    ocr = tuple(read[(readers[index], engine)][s.id] for s in chunk)
                    if on_worker:  # no image file there: the row key needs the image's hash
                        chunk = worker.hashed(chunk)
                    into.append(worker.CorrectionTask(
                        headers[index], engine, corrector, chunk, ocr,
                        None if on_worker else cache_root, spec.normalization, trains[index],
                        fit, remote=on_worker,
                    ))  # fmt: skip
        correcting = worker.on_worker(worker.correct) if remote else worker.correct
        finished = itertools.chain(
            ((task, worker.correct(task)) for task in here),  # cached: made here, nothing computed
            executor.map_unordered(correcting, tasks),
        )
        with tqdm(total=sum(len(t.samples) for t in [*here, *tasks]), desc=f"sweep {spec.name}",
                  unit="row", disable=not progress) as bar:  # fmt: skip
            for _, (rows, work, written) in finished:
                _store(cache, written)
                unexpected = [row for row in rows if row[KEY] not in plan.expected]
                if unexpected:
                    raise OcrbenchError(
                        f"a worker computed row {unexpected[0]['sample_id']!r} of "
                        f"{unexpected[0]['config']!r} under other settings than this sweep's: "
                        "its page, reference or model file changed while the sweep ran (run it "
                        "again), or the workers have other engine or corrector versions (install "
                        "the same versions everywhere)"
                    )
                journal.add(rows)
                counts.add(work)
                bar.update(len(rows))
        aborted = False
    finally:
        executor.close(abort=aborted)
        worker.forget()

    model_files = _model_files(spec)
    metas = [{s.id: s.meta for s in dataset.samples} for dataset in loaded]
    rows = [
        _with_new_columns(
            {**journal.rows[key], "dataset": names[index]},
            model_files,
            metas[index].get(sample_id, {}),
        )  # fmt: skip
        for index, key, sample_id in plan.order
        if sample_id not in failed[loaded[index].root]
    ]
    journal.rewrite(rows)
    # Rows the journal held before this run; a row two entries of one folder share was computed
    # here once and is shown under both names, resumed under neither.
    resumed = sum(
        1
        for index, key, sample_id in plan.order
        if key not in plan.expected and sample_id not in failed[loaded[index].root]
    )
    learning: dict[str, Any] = {}  # only a sweep with training sets says anything of them
    if train_sets:
        learning["training"] = [
            {**train.record(), "dataset": name, **shared[ref.train, dataset.root],
             **({"overlap_allowed": len(training.overlap(train_sets[ref.train], dataset))}
                if ref.allow_overlap else {}),
             "skipped": [*train_sets[ref.train].skipped,
                         *({"id": i, "reason": r, "phase": "ocr"}
                           for i, r in unread_training[ref.train].items())]}
            for ref, name, train, dataset in zip(refs, names, trains, loaded, strict=True)
            if train is not None and ref.train is not None
        ]  # fmt: skip
        learning["fits"] = fits
    manifest = provenance.manifest(
        sweep=spec.name,
        spec=dict(spec.source),
        datasets=[{"name": name, "path": str(d.root), "sha256": d.content_hash(),
                   "samples": len(d.samples) - len(lost := _failed_in(d, failed)),
                   "skipped": [*d.skipped, *({"id": i, "reason": r, "phase": "ocr"}
                                             for i, r in lost.items())]}
                  for d, name in zip(loaded, names, strict=True)],  # fmt: skip
        configs=len(spec.engines) * len(spec.correctors),
        models=model_files,
        normalization=spec.normalization.name(),
        workers=executor.workers,  # a remote cluster's threads, not the number asked for
        executor=spec.executor,
        work={"ocr_run": counts.ocr_run, "ocr_cached": counts.ocr_cached,
              "corrections_run": counts.correct_run, "corrections_cached": counts.correct_cached,
              "fits_run": counts.fit_run, "fits_cached": counts.fit_cached,
              "rows_resumed": resumed,
              "wall_seconds": round(time.perf_counter() - started, 3)},
        cache=cache_root,
        **learning,
    )  # fmt: skip
    if not rows:  # every page failed under skip_bad: no results to write or report
        first = next(((i, why) for found in failed.values() for i, why in found.items()), None)
        said = f" (the first, {first[0]}: {first[1]})" if first else ""
        raise OcrbenchError(f"no sample could be read{said}; nothing to report")
    results.write(out, rows, manifest)
    return manifest


def _training_sets(
    spec: Spec, refs: Sequence[DatasetRef], loaded: Sequence[datasets.Dataset], skip_bad: bool
) -> dict[Path, datasets.Dataset]:
    """Each training set of the sweep, loaded once by folder and checked against its test sets."""
    found: dict[Path, datasets.Dataset] = {}
    for ref, dataset in zip(refs, loaded, strict=True):
        if ref.train is None:
            continue
        where = f"{spec.path}: datasets[{spec.datasets.index(ref)}]"
        if ref.train not in found:
            try:
                found[ref.train] = training.load(
                    ref.train, skip_bad=skip_bad, allow_outside=ref.allow_outside
                )
            except OcrbenchError as error:
                raise type(error)(f"{where}: {error}") from None
        if not ref.allow_overlap:
            try:
                training.check_overlap(
                    found[ref.train], dataset, "set allow_overlap: true on the dataset"
                )
            except OcrbenchError as error:
                raise type(error)(f"{where}: {error}") from None
    return found


def _shared_references(
    refs: Sequence[DatasetRef],
    loaded: Sequence[datasets.Dataset],
    found: dict[Path, datasets.Dataset],
) -> dict[tuple[Path, Path], dict[str, Any]]:
    """Per (training set, test set): the references both hold, said once and counted."""
    shared: dict[tuple[Path, Path], dict[str, Any]] = {}
    for ref, dataset in zip(refs, loaded, strict=True):
        if ref.train is not None and (ref.train, dataset.root) not in shared:
            shared[ref.train, dataset.root] = training.say_shared_references(
                found[ref.train], dataset
            )
    return shared


def _fit_records(
    refs: Sequence[DatasetRef],
    names: Sequence[str],
    trains: Sequence[TrainingSet | None],
    engines: dict[Component, Identity],
    correctors: dict[Component, Identity],
    learners: dict[Component, str],
    states: dict[tuple[Path, Component, Component], tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The manifest's word on each configuration given a training set: whether its corrector
    learned from it, and what (`describe(state)`, which the report shows)."""
    records = []
    for ref, name, train in zip(refs, names, trains, strict=True):
        if train is None or ref.train is None:
            continue
        for engine in engines:
            for corrector in correctors:
                learned = corrector in learners
                applied = training.Applied(
                    train, correctors[corrector] if learned else None, learners.get(corrector, "")
                )
                engine_step = Step(worker.build("engine", engine))
                corrector_step = Step(worker.build("corrector", corrector))
                described = None
                if learned:
                    _, state = states[(ref.train, engine, corrector)]
                    described = corrector_step.component.describe(state)
                records.append(training.record(
                    applied, name,
                    config_id(engine.name, engine_step.params, corrector.name,
                              corrector_step.params, learned),
                    label(engine_step, corrector_step, learned), described,
                ))  # fmt: skip
    return records


def _with_new_columns(
    row: dict[str, Any], model_files: list[dict[str, Any]], meta: Any = None
) -> dict[str, Any]:
    """A journaled row with what the code and the disk say now of what it was computed from (its
    key holds the components and the model file's sha256, so only names can differ): its label
    and config id as made today (values quoted since, a parameter left out of ids), what its model
    file was made from as the file's note says (a row from before notes had none). One from before
    rows recorded training sets had none, and no warning (only `prompt` warns, whose version
    changed). Else one configuration would be summarised as two."""
    row = {**row, **{k: v for k, v in training.UNTRAINED.items() if k not in row}}
    named = re.search(r"sha256:([0-9a-f]{64})", str(row.get("corrector_version", "")))
    made_from = {entry["sha256"]: entry["made_from"] for entry in model_files}
    if named and named.group(1) in made_from:
        row["made_from"] = made_from[named.group(1)]
    row.setdefault("made_from", None)
    if {"engine", "params", "corrector", "corrector_params"} <= set(row):
        row["config_id"], row["config"] = _named(
            row["engine"], row["params"], row["corrector"], row["corrector_params"],
            bool(row["trained"]),
        )  # fmt: skip
    row.setdefault("warning", None)
    # The sample's meta as the dataset holds it now: it takes no part in what a row computes (nor
    # in its key), so a resumed row is sliced as the data now says.
    row["meta"] = meta_json(meta)
    return row


@functools.cache  # every row of a configuration asks the same: once each
def _named(
    engine: str, params: str, corrector: str, corrector_params: str, trained: bool
) -> tuple[str, str]:
    """A configuration's id and label as today's code makes them from a row's JSON columns."""
    described = (engine, json.loads(params), corrector, json.loads(corrector_params), trained)
    return config_id(*described), label_of(*described)


def _model_files(spec: Spec) -> list[dict[str, Any]]:
    from ocrbench import models

    found = []
    for component in spec.correctors:
        entry = models.model_file(component.model)
        if entry is not None and entry not in found:
            found.append(entry)
    return found
