"""What a sweep's workers run: the tasks of its two phases and the functions that do them.

A task carries what its work needs and nothing of the client's machine beyond that: components by
their configuration (each built once per worker process), samples with their references, and, for
a worker without the client's disk (a Dask cluster), the images' bytes instead of paths and no
cache folder: the cache entries a task makes come back with its result, for the client to store.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ocrbench import datasets, metrics, registry, training
from ocrbench.cache import Cache, RecordingCache
from ocrbench.errors import OcrbenchError, SampleError
from ocrbench.rowkey import image_sha256
from ocrbench.run import Counts, Step, iter_rows, recognize
from ocrbench.specs import Component
from ocrbench.training import TrainingSet
from ocrbench.types import OcrResult, Sample


@dataclass(frozen=True)
class OcrTask:
    """A chunk of samples for one engine configuration: the first phase."""

    dataset: int  # its index in the sweep
    engine: Component
    samples: tuple[Sample, ...]
    cache_root: str | None
    # For a worker without this machine's disk (a Dask cluster): each image's bytes, which it
    # reads from a temporary file of its own; its cache entries come back with the result.
    images: tuple[bytes | None, ...] | None = None


@dataclass(frozen=True)
class CorrectionTask:
    """A chunk of samples with their OCR results, for one corrector: the second phase."""

    dataset: datasets.Dataset  # its sweep name and folder; no samples (they travel below)
    engine: Component
    corrector: Component
    samples: tuple[Sample, ...]
    ocr: tuple[OcrResult, ...]  # one per sample
    cache_root: str | None
    norm: metrics.Normalization
    train: TrainingSet | None = None  # the dataset's training set, which its rows record
    fit: tuple[str, dict[str, Any]] | None = None  # (key, state) when the corrector learned
    remote: bool = False  # on a worker without this machine's disk: cache entries come back


_BUILT: dict[tuple[str, Component], Any] = {}


def build(kind: str, component: Component) -> Any:
    """One instance per configuration per process, so a model loads once per process."""
    found = _BUILT.get((kind, component))
    if found is None:
        known = registry.engines if kind == "engine" else registry.correctors
        found = _BUILT[(kind, component)] = known.create(component.name, component.kwargs)
    return found


_TRAINED: dict[tuple[Component, str], Any] = {}


def trained(component: Component, fit: str, state: dict[str, Any]) -> Any:
    """One trained corrector per (configuration, fitted state) per process, as `build`."""
    found = _TRAINED.get((component, fit))
    if found is None:
        found = _TRAINED[(component, fit)] = build("corrector", component).trained(state)
    return found


Written = list[tuple[str, str, dict[str, Any]]]  # cache entries a remote task made: the client's


def _task_cache(cache_root: str | None, remote: bool) -> Cache:
    return RecordingCache() if remote else Cache(Path(cache_root) if cache_root else None)


@contextlib.contextmanager
def _on_this_disk(task: OcrTask) -> Iterator[tuple[Sample, ...]]:
    """The task's samples with images this process can open: as they are, or, for a task that
    carries the bytes, written to temporary files of its own (removed afterwards)."""
    if task.images is None:
        yield task.samples
        return
    with tempfile.TemporaryDirectory(prefix="ocrbench-task-") as folder:
        samples = []
        for number, (sample, data) in enumerate(zip(task.samples, task.images, strict=True)):
            if data is not None and sample.image is not None:
                path = Path(folder) / f"{number}{sample.image.suffix}"
                path.write_bytes(data)
                sample = replace(sample, image=path)
            samples.append(sample)
        yield tuple(samples)


def on_worker(work: Any) -> Any:
    """An ocrbench error on a Dask worker names the worker and the component it was building
    (a corrector's model settings among its parameters): its models and files are its own."""

    @functools.wraps(work)
    def run(task: Any) -> Any:
        try:
            return work(task)
        except OcrbenchError as error:
            part = getattr(task, "corrector", None) or task.engine
            settings = ", ".join(f"{k}={v}" for k, v in part.params if v is not None)
            where = f"on worker {socket.gethostname()} (pid {os.getpid()}), {part.name}({settings})"
            raise OcrbenchError(f"{where}: {error}") from None

    return run


def read(task: OcrTask) -> tuple[list[tuple[str, OcrResult | str]], Counts, Written]:
    """Each sample's OCR result, or why its OCR failed (the client decides what that means)."""
    cache, counts = _task_cache(task.cache_root, task.images is not None), Counts()
    step = Step(build("engine", task.engine))
    read: list[tuple[str, OcrResult | str]] = []
    with _on_this_disk(task) as samples:
        for sample in samples:
            try:
                read.append((sample.id, recognize(step, sample, cache, counts)))
            except SampleError as error:
                read.append((sample.id, str(error)))
    return read, counts, getattr(cache, "written", [])


def correct(task: CorrectionTask) -> tuple[list[dict[str, Any]], Counts, Written]:
    cache, counts = _task_cache(task.cache_root, task.remote), Counts()
    engine = build("engine", task.engine)
    untrained = build("corrector", task.corrector)
    corrector = untrained if task.fit is None else trained(task.corrector, *task.fit)
    applied = None
    if task.train is not None:  # keyed by this process's own identity of the corrector
        before = None if task.fit is None else Step(untrained).identity
        applied = training.Applied(task.train, before, training.learning_version(untrained))
    given = {sample.id: ocr for sample, ocr in zip(task.samples, task.ocr, strict=True)}
    rows = list(
        iter_rows(task.dataset, engine, corrector, cache=cache, norm=task.norm, progress=False,
                  counts=counts, samples=task.samples, ocr_results=given, training=applied)
    )  # fmt: skip
    return rows, counts, getattr(cache, "written", [])


def with_images(task: OcrTask) -> OcrTask:
    """The task with its images' bytes (and hashes), for a worker that cannot open the files;
    read when the task is sent, so a sweep holds only the pages in flight."""
    images = []
    for sample in task.samples:
        try:
            images.append(None if sample.image is None else sample.image.read_bytes())
        except OSError as error:
            raise OcrbenchError(
                f"{sample.image}: cannot read the image ({error.strerror or error})"
            ) from None
    return replace(task, samples=hashed(task.samples), images=tuple(images))


def hashed(samples: tuple[Sample, ...]) -> tuple[Sample, ...]:
    """The samples carrying their image's sha256: a worker without the files keys rows by it."""
    return tuple(replace(s, image_sha256=image_sha256(s)) for s in samples)


def forget() -> None:
    """Close and drop this process's components (a sweep's end), their models and scoring
    contexts freed: a notebook that runs sweep after sweep holds none of them."""
    for component in [*_BUILT.values(), *_TRAINED.values()]:
        close = getattr(component, "close", None)
        if close is not None:
            close()
    _BUILT.clear()
    _TRAINED.clear()
