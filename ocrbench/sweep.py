"""Sweeps: a grid of engines x correctors (x models, quantizations, GPU layers) over datasets.

A spec is YAML (see sweeps/default.yaml). Every list is one axis of the grid; the whole grid is
validated before anything heavy runs. Execution happens in two phases so that each engine
configuration reads each image once, whatever the correctors: first OCR (into the cache), then
corrections, in chunks spread over local processes (or a Dask cluster). Finished rows are appended
to `rows.jsonl` as they arrive, so a sweep killed at any point, even by SIGKILL, resumes with only
what is missing; `results.parquet` is written from that journal at the end.
"""

from __future__ import annotations

import concurrent.futures as futures
import functools
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from ocrbench import datasets, metrics, provenance, registry, results
from ocrbench.cache import Cache
from ocrbench.errors import ConfigError, OcrbenchError
from ocrbench.run import Counts, Step, config_id, iter_rows, recognize
from ocrbench.types import Sample

JOURNAL = "rows.jsonl"
TOP_KEYS = {
    "name",
    "datasets",
    "engines",
    "correctors",
    "normalization",
    "gate",
    "workers",
    "executor",
}
GATE_KEYS = {"baseline", "cer_tolerance", "wer_tolerance"}


@dataclass(frozen=True)
class Component:
    """One point of the grid for an engine or a corrector: a name and concrete parameters."""

    name: str
    params: tuple[tuple[str, Any], ...]

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True)
class DatasetRef:
    path: Path
    limit: int | None = None


@dataclass(frozen=True)
class Spec:
    name: str
    datasets: tuple[DatasetRef, ...]
    engines: tuple[Component, ...]
    correctors: tuple[Component, ...]
    normalization: metrics.Normalization = field(default_factory=metrics.Normalization)
    gate: Mapping[str, Any] | None = None
    workers: int | None = None
    executor: str = "processes"
    source: Mapping[str, Any] = field(default_factory=dict)
    path: Path = Path("sweep.yaml")


def _axes(params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every combination of the list-valued parameters."""
    keys = list(params)
    values = [v if isinstance(v, list) else [v] for v in params.values()]
    for combination in itertools.product(*values):
        yield dict(zip(keys, combination, strict=True))


def _components(
    kind: str, section: Any, where: str, known: registry.Registry[Any]
) -> tuple[Component, ...]:
    """Parse an `engines:`/`correctors:` section into grid points, building each to validate it.

    Two shapes are accepted: a mapping name -> parameters, or a list of mappings with a `name`.
    """
    if isinstance(section, Mapping):
        entries = [(str(name), params or {}, f"{where}.{name}") for name, params in section.items()]
    elif isinstance(section, list):
        entries = []
        for i, item in enumerate(section):
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, Mapping) or "name" not in item:
                raise ConfigError(f"{where}[{i}]: expected a mapping with a 'name', got {item!r}")
            params = {k: v for k, v in item.items() if k != "name"}
            entries.append((str(item["name"]), params, f"{where}[{i}]"))
    else:
        raise ConfigError(f"{where}: expected a mapping of {kind} names to parameters")
    grid: list[Component] = []
    for name, params, here in entries:
        if not isinstance(params, Mapping):
            raise ConfigError(f"{here}: expected parameters as a mapping, got {params!r}")
        params = dict(params)
        model = params.pop("model", None)
        if model is not None:
            if not isinstance(model, Mapping):
                raise ConfigError(f"{here}.model: expected a mapping of repo_id, quantization, ...")
            params.update(model)
        try:
            cls = known.get(name)
        except ConfigError as error:
            raise ConfigError(f"{here}: {error}") from None
        for point in _axes(params):
            component = registry.build(cls, point, here)
            grid.append(Component(name, tuple(sorted(registry.params_of(component).items()))))
    if not grid:
        raise ConfigError(f"{where}: the grid is empty; list at least one {kind}")
    return tuple(dict.fromkeys(grid))  # the same point twice is run once


def _check_models(correctors: Sequence[Component], where: str) -> None:
    """Every (repo, quantization) in the grid must resolve before the sweep starts."""
    seen = set()
    for component in correctors:
        params = component.kwargs
        if "repo_id" not in params:
            continue
        from ocrbench import models

        fields = {k: params[k] for k in models.ModelSpec.__dataclass_fields__ if k in params}
        spec = models.ModelSpec(**fields)
        if (spec.repo_id, spec.quantization, spec.model_dir) in seen:
            continue
        seen.add((spec.repo_id, spec.quantization, spec.model_dir))
        try:
            models.resolve(spec)
        except OcrbenchError as error:
            raise ConfigError(f"{where}.{component.name}.model: {error}") from None


def load_spec(path: str | Path) -> Spec:
    """Read and validate a sweep spec; every problem is one ConfigError naming its place."""
    path = Path(path)
    try:
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sweep spec") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}:{at} malformed YAML ({getattr(error, 'problem', error)})"
        ) from None
    if not isinstance(source, Mapping):
        raise ConfigError(f"{path}: expected a mapping with datasets, engines and correctors")
    for key in source:
        if key not in TOP_KEYS:
            raise ConfigError(
                f"{path}: unknown key {key!r}{registry.did_you_mean(str(key), TOP_KEYS)}; "
                f"known: {', '.join(sorted(TOP_KEYS))}"
            )
    for key in ("datasets", "engines"):
        if not source.get(key):
            raise ConfigError(f"{path}: '{key}' is missing or empty")
    refs = []
    for i, item in enumerate(source["datasets"] if isinstance(source["datasets"], list) else []):
        item = {"path": item} if isinstance(item, str) else item
        if not isinstance(item, Mapping) or "path" not in item or set(item) - {"path", "limit"}:
            raise ConfigError(f"{path}: datasets[{i}]: expected a path or {{path, limit}}")
        where = (path.parent / str(item["path"])).resolve()
        if not (where / "manifest.jsonl").is_file():
            where = Path(str(item["path"])).resolve()  # relative to the working directory instead
        if not where.is_dir():
            raise ConfigError(f"{path}: datasets[{i}]: {item['path']} does not exist")
        limit = item.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"{path}: datasets[{i}].limit must be a positive integer")
        refs.append(DatasetRef(where, limit))
    if not refs:
        raise ConfigError(f"{path}: 'datasets' must be a list of paths")
    engines = _components("engine", source["engines"], f"{path}: engines", registry.engines)
    correctors = _components(
        "corrector", source.get("correctors") or {"identity": {}}, f"{path}: correctors",
        registry.correctors,
    )  # fmt: skip
    _check_models(correctors, f"{path}: correctors")
    norm_source = source.get("normalization") or {}
    if not isinstance(norm_source, Mapping):
        raise ConfigError(f"{path}: normalization: expected a mapping")
    norm = registry.build(metrics.Normalization, norm_source, f"{path}: normalization")
    executor = source.get("executor", "processes")
    if executor not in ("processes", "dask") and not str(executor).startswith("dask:"):
        raise ConfigError(f"{path}: executor must be 'processes', 'dask' or 'dask:ADDRESS'")
    workers = source.get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"{path}: workers must be a positive integer")
    gate = source.get("gate")
    if gate is not None and not isinstance(gate, Mapping):
        raise ConfigError(f"{path}: gate: expected a mapping with baseline and tolerance")
    for key in gate or {}:
        if key not in GATE_KEYS:
            raise ConfigError(
                f"{path}: gate: unknown key {key!r}{registry.did_you_mean(str(key), GATE_KEYS)}"
            )
    return Spec(
        name=str(source.get("name") or path.stem),
        datasets=tuple(refs),
        engines=engines,
        correctors=correctors,
        normalization=norm,
        gate=gate,
        workers=workers,
        executor=str(executor),
        source=source,
        path=path,
    )


# --- execution ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """A chunk of samples for one (engine, corrector) on one dataset; corrector None = OCR only."""

    dataset: datasets.Dataset
    engine: Component
    corrector: Component | None
    samples: tuple[Sample, ...]
    cache_root: str | None
    norm: metrics.Normalization


@functools.cache
def _component(kind: str, component: Component) -> Any:
    """One instance per configuration per process, so a model loads once per process."""
    known = registry.engines if kind == "engine" else registry.correctors
    return known.create(component.name, component.kwargs)


def _work(task: Task) -> tuple[list[dict[str, Any]], Counts]:
    cache, counts = Cache(Path(task.cache_root) if task.cache_root else None), Counts()
    engine = _component("engine", task.engine)
    if task.corrector is None:
        step = Step(engine)
        for sample in task.samples:
            recognize(step, sample, cache, counts)
        return [], counts
    corrector = _component("corrector", task.corrector)
    rows = list(
        iter_rows(task.dataset, engine, corrector, cache=cache, norm=task.norm, progress=False,
                  counts=counts, samples=task.samples)
    )  # fmt: skip
    return rows, counts


def _limit_threads(workers: int) -> None:
    """Give each worker process its share of the cores, not all of them."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ["OMP_THREAD_LIMIT"] = share  # Tesseract
    os.environ["OMP_NUM_THREADS"] = share  # torch (EasyOCR)
    os.environ["OCRBENCH_THREADS"] = share  # llama.cpp, read by ocrbench.models


def _chunks(samples: Sequence[Sample], size: int) -> Iterator[tuple[Sample, ...]]:
    for start in range(0, len(samples), size):
        yield tuple(samples[start : start + size])


class Journal:
    """Rows appended one JSON line at a time, flushed to disk: the sweep's memory across kills."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # the last line of a killed run may be cut short
            self.rows.setdefault(self.key(row), row)
        if text and not text.endswith("\n"):
            # End a cut line once, here, so every row appended later starts a line of its own.
            with open(path, "a", encoding="utf-8") as out:
                out.write("\n")

    @staticmethod
    def key(row: Mapping[str, Any]) -> tuple[str, str, str]:
        return (row["dataset"], row["config_id"], row["sample_id"])

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        fresh = [row for row in rows if self.key(row) not in self.rows]
        if not fresh:
            return
        with open(self.path, "a", encoding="utf-8") as out:
            for row in fresh:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        for row in fresh:
            self.rows[self.key(row)] = row


def _executor(spec: Spec, workers: int) -> tuple[futures.Executor | None, Callable[[], None]]:
    if spec.executor.startswith("dask"):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise OcrbenchError(
                'executor dask needs the dask extra: pip install "ocrbench[dask]"'
            ) from None
        address = spec.executor.partition(":")[2]
        if address:
            client = Client(address)
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
            client = Client(cluster)
        return client.get_executor(), client.close
    if workers == 1:
        return None, lambda: None
    pool = futures.ProcessPoolExecutor(workers, initializer=_limit_threads, initargs=(workers,))
    return pool, lambda: pool.shutdown(cancel_futures=True)


def run(
    spec: Spec,
    out: Path,
    *,
    cache: Cache,
    workers: int | None = None,
    progress: bool = True,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) a sweep into `out`; returns the run's manifest."""
    out.mkdir(parents=True, exist_ok=True)
    workers = workers or spec.workers or os.cpu_count() or 1
    loaded = [datasets.load(ref.path, limit=ref.limit) for ref in spec.datasets]
    journal = Journal(out / JOURNAL)
    counts = Counts()
    started = time.perf_counter()

    plan: list[Task] = []
    ocr_plan: list[Task] = []
    order: list[tuple[str, str, str]] = []
    cache_root = str(cache.root) if cache.root else None
    for dataset in loaded:
        size = chunk_size or max(1, min(16, -(-len(dataset.samples) // (2 * workers))))
        for engine in spec.engines:
            engine_missing: dict[str, Sample] = {}
            for corrector in spec.correctors:
                cid = _config_id(engine, corrector)
                missing = []
                for sample in dataset.samples:
                    order.append((dataset.name, cid, sample.id))
                    if (dataset.name, cid, sample.id) not in journal.rows:
                        missing.append(sample)
                        engine_missing[sample.id] = sample
                for chunk in _chunks(missing, size):
                    plan.append(
                        Task(dataset, engine, corrector, chunk, cache_root, spec.normalization)
                    )
            for chunk in _chunks(list(engine_missing.values()), size):
                ocr_plan.append(Task(dataset, engine, None, chunk, cache_root, spec.normalization))

    total = sum(len(t.samples) for t in plan)
    executor, shutdown = _executor(spec, workers)
    bar = tqdm(total=total, desc=f"sweep {spec.name}", unit="row", disable=not progress)
    try:
        for phase in (ocr_plan, plan):
            for rows, done in _execute(executor, phase):
                journal.add(rows)
                for name in ("ocr_run", "ocr_cached", "correct_run", "correct_cached"):
                    setattr(counts, name, getattr(counts, name) + getattr(done, name))
                bar.update(len(rows))
    finally:
        bar.close()
        shutdown()
        _component.cache_clear()

    rows = [journal.rows[key] for key in order]
    manifest = provenance.manifest(
        sweep=spec.name,
        spec=dict(spec.source),
        datasets=[{"path": str(d.root), "name": d.name, "sha256": d.content_hash(),
                   "samples": len(d.samples)} for d in loaded],  # fmt: skip
        configs=len(spec.engines) * len(spec.correctors),
        models=_model_files(spec),
        normalization=spec.normalization.name(),
        workers=workers,
        executor=spec.executor,
        work={"ocr_run": counts.ocr_run, "ocr_cached": counts.ocr_cached,
              "corrections_run": counts.correct_run, "corrections_cached": counts.correct_cached,
              "rows_resumed": len(order) - total,
              "wall_seconds": round(time.perf_counter() - started, 3)},
        cache=cache_root,
    )  # fmt: skip
    results.write(out, rows, manifest)
    return manifest


def _execute(
    executor: futures.Executor | None, tasks: Sequence[Task]
) -> Iterator[tuple[list[dict[str, Any]], Counts]]:
    if executor is None:
        for task in tasks:
            yield _work(task)
        return
    pending = [executor.submit(_work, task) for task in tasks]
    for future in futures.as_completed(pending):
        yield future.result()


def _config_id(engine: Component, corrector: Component) -> str:
    return config_id(engine.name, engine.kwargs, corrector.name, corrector.kwargs)


def _model_files(spec: Spec) -> list[dict[str, Any]]:
    from ocrbench import models

    found = []
    for component in spec.correctors:
        entry = models.model_file(component.kwargs)
        if entry is not None and entry not in found:
            found.append(entry)
    return found
