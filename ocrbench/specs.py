"""Sweep specs: a YAML grid of datasets x engines x correctors (x models, quantizations, GPUs).

A spec (see sweeps/default.yaml) is read and validated whole before anything heavy runs: every list
is one axis of the grid, and every problem is one `ConfigError` naming its place in the file.
`sweep.run` executes what `load` returns.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ocrbench import metrics, registry
from ocrbench.correctors.base import model_spec_of
from ocrbench.errors import ConfigError, OcrbenchError

if TYPE_CHECKING:
    from ocrbench.models import ModelSpec

TOP_KEYS = {
    "name",
    "datasets",
    "engines",
    "correctors",
    "normalization",
    "gate",
    "workers",
    "executor",
    "slices",
}
# What `dask scheduler` prints as its address: a protocol, a host (name, IPv4 or [IPv6]), a port.
SCHEDULER_ADDRESS = re.compile(r"(tcp|tls|ws|wss|ucx)://(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}")
GATE_KEYS = {"baseline", "cer_tolerance", "wer_tolerance", "allow_missing", "shared"}


@dataclass(frozen=True)
class Component:
    """One point of the grid for an engine or a corrector: a name and concrete parameters."""

    name: str
    params: tuple[tuple[str, Any], ...]
    # The model a corrector of these parameters uses (its model_spec()); None without one.
    model: ModelSpec | None = field(default=None, compare=False)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


DATASET_KEYS = {"path", "limit", "allow_outside", "train", "allow_overlap"}


@dataclass(frozen=True)
class DatasetRef:
    path: Path
    limit: int | None = None
    allow_outside: bool = False  # images may lie outside the folder (datasets.load's option)
    train: Path | None = None  # a training set the correctors learn from (`training.py`)
    allow_overlap: bool = False  # the training set may hold test data


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
    notes: tuple[str, ...] = ()  # said once when the sweep starts (an axis left out, and why)
    slices: tuple[str, ...] = ()  # sample meta keys the report also summarises by ("meta.degrade")


def _axes(params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every combination of the list-valued parameters."""
    keys = list(params)
    values = [v if isinstance(v, list) else [v] for v in params.values()]
    for combination in itertools.product(*values):
        yield dict(zip(keys, combination, strict=True))


AUTO = "auto"  # gpu_layers: auto -> 0, half and all layers where llama.cpp can offload, else 0
NO_OFFLOAD = (
    "gpu_layers: auto: this llama.cpp build has no GPU offload, so the GPU-layers axis is left "
    "out (every setting would run the same work on the CPU); 0 layers are run"
)


def _gpu_settings(point: dict[str, Any], notes: list[str]) -> Iterator[dict[str, Any]]:
    """The point, with `gpu_layers: auto` made the settings this machine can tell apart."""
    if point.get("gpu_layers") != AUTO:
        yield point
        return
    from ocrbench import models

    offload = models.gpu_offload()
    blocks = None
    if offload:
        fields = {k: point[k] for k in models.SPEC_FIELDS if k in point and k != "gpu_layers"}
        blocks = models.block_count(models.ModelSpec(**fields))
    elif NO_OFFLOAD not in notes:
        notes.append(NO_OFFLOAD)
    for layers in models.gpu_layer_settings(offload, blocks):
        yield {**point, "gpu_layers": layers}


def _components(
    kind: str,
    section: Any,
    where: str,
    known: registry.Registry[Any],
    notes: list[str] | None = None,
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
            _check_model_section(model, params, here)
            params.update(model)
        try:
            cls = known.get(name)
        except ConfigError as error:
            raise ConfigError(f"{here}: {error}") from None
        try:
            points = [
                p
                for point in _axes(params)
                for p in _gpu_settings(point, [] if notes is None else notes)
            ]
        except OcrbenchError as error:  # `auto` reads the model's layer count: it must resolve
            raise ConfigError(f"{here}.model: {error}") from None
        for point in points:
            component = registry.build(cls, point, here)
            concrete = tuple(sorted(registry.params_of(component).items()))
            grid.append(Component(name, concrete, model_spec_of(component)))
    if not grid:
        raise ConfigError(f"{where}: the grid is empty; list at least one {kind}")
    grid = list(dict.fromkeys(grid))  # the same point twice is run once
    from ocrbench.models.spec import SOURCING_FIELDS

    alike = [(c.name, tuple(p for p in c.params if p[0] not in SOURCING_FIELDS)) for c in grid]
    if len(set(alike)) < len(alike):  # one configuration, found two ways (its id leaves it out)
        raise ConfigError(
            f"{where}: allow_download takes one value for a configuration: it decides where the "
            "model file comes from, not what is computed"
        )
    return tuple(grid)


def _check_model_section(model: Mapping[str, Any], params: Mapping[str, Any], here: str) -> None:
    """`model:` holds model settings only, none of them given beside it too (one would silently
    win over the other)."""
    from ocrbench.models import SPEC_FIELDS

    for key in model:
        if key not in SPEC_FIELDS:
            raise ConfigError(
                f"{here}.model: {key} is no model setting (model: takes {', '.join(SPEC_FIELDS)})"
            )
        if key in params:
            raise ConfigError(f"{here}: {key} is given both beside and inside model: give it once")


def _check_models(correctors: Sequence[Component], where: str) -> None:
    """Every (repo, quantization) in the grid must resolve before the sweep starts."""
    seen = set()
    for component in correctors:
        spec = component.model
        if spec is None:
            continue
        from ocrbench import models

        if (spec.repo_id, spec.quantization, spec.model_dir) in seen:
            continue
        seen.add((spec.repo_id, spec.quantization, spec.model_dir))
        try:
            models.resolve(spec)
        except OcrbenchError as error:
            raise ConfigError(f"{where}.{component.name}.model: {error}") from None


def _folder(spec: Path, given: Any) -> Path:
    """A dataset folder named in a spec: relative to the spec, else to the working directory."""
    beside = (spec.parent / str(given)).resolve()
    here = Path(str(given)).resolve()
    if beside.exists() or not here.exists():  # the spec's own, wherever the command runs
        return beside
    return here


class _Twice(Exception):
    """A mapping that gives one key twice (YAML would keep the last without a word)."""

    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key, self.line = key, line


class _StrictLoader(yaml.SafeLoader):
    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """A leading zero is decimal, as on the command line (YAML 1.1 read `psm: 010` as octal 8);
        0o17 and 0x1F keep their bases."""
        text = str(self.construct_scalar(node)).replace("_", "")
        if re.fullmatch(r"[-+]?0[0-9]+", text):
            return int(text, 10)
        return int(super().construct_yaml_int(node))

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise _Twice(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(path: str | Path) -> Spec:
    """Read and validate a sweep spec; every problem is one ConfigError naming its place."""
    path = Path(path)
    try:
        source = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such sweep spec") from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path}: is a folder; give the sweep spec file, e.g. sweeps/default.yaml"
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset "
            f"{error.start}); save the sweep spec as UTF-8"
        ) from None
    except OSError as error:  # unreadable: permissions, a broken mount, ...
        raise ConfigError(
            f"{path}: cannot read the sweep spec ({error.strerror or error})"
        ) from None
    except _Twice as twice:
        raise ConfigError(
            f"{path}: line {twice.line}: {twice.key!r} is given twice in one mapping, and only the "
            "last would count; to run a corrector (or engine) with two settings, give a list of "
            "them (e.g. correctors: [{name: noisy-channel, margin: 3}, {name: noisy-channel}])"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        # A reader error (a control character) has no `problem` and a two-line str: keep one line.
        problem = str(getattr(error, "problem", None) or error).splitlines()[0]
        raise ConfigError(f"{path}:{at} malformed YAML ({problem})") from None
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
        if not isinstance(item, Mapping) or "path" not in item or set(item) - DATASET_KEYS:
            raise ConfigError(
                f"{path}: datasets[{i}]: expected a path or "
                "{path, limit, allow_outside, train, allow_overlap}"
            )
        where = _folder(path, item["path"])
        if not where.is_dir():
            raise ConfigError(f"{path}: datasets[{i}]: {item['path']} does not exist")
        train = None if item.get("train") is None else _folder(path, item["train"])
        if train is not None and not train.is_dir():
            raise ConfigError(f"{path}: datasets[{i}].train: {item['train']} does not exist")
        allow_overlap = item.get("allow_overlap", False)
        if not isinstance(allow_overlap, bool):
            raise ConfigError(f"{path}: datasets[{i}].allow_overlap must be true or false")
        if allow_overlap and train is None:
            raise ConfigError(f"{path}: datasets[{i}].allow_overlap applies with a train: set")
        limit = item.get("limit")
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise ConfigError(f"{path}: datasets[{i}].limit must be a positive integer")
        allow_outside = item.get("allow_outside", False)
        if not isinstance(allow_outside, bool):
            raise ConfigError(f"{path}: datasets[{i}].allow_outside must be true or false")
        refs.append(DatasetRef(where, limit, allow_outside, train, allow_overlap))
    if not refs:
        raise ConfigError(f"{path}: 'datasets' must be a list of paths")
    engines = _components("engine", source["engines"], f"{path}: engines", registry.engines)
    notes: list[str] = []
    correctors = _components(
        "corrector", source.get("correctors") or {"identity": {}}, f"{path}: correctors",
        registry.correctors, notes,
    )  # fmt: skip
    _check_models(correctors, f"{path}: correctors")
    norm_source = source.get("normalization") or {}
    if not isinstance(norm_source, Mapping):
        raise ConfigError(f"{path}: normalization: expected a mapping")
    norm = registry.build(metrics.Normalization, norm_source, f"{path}: normalization")
    executor = source.get("executor", "processes")
    if executor not in ("processes", "dask") and not str(executor).startswith("dask:"):
        raise ConfigError(f"{path}: executor must be 'processes', 'dask' or 'dask:ADDRESS'")
    address = str(executor).partition(":")[2]
    if address and not SCHEDULER_ADDRESS.fullmatch(address):
        raise ConfigError(
            f"{path}: executor: {address!r} is not a scheduler address; write it as "
            "dask:tcp://HOST:PORT (e.g. dask:tcp://10.0.0.5:8786)"
        )
    workers = source.get("workers")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ConfigError(f"{path}: workers must be a positive integer, not {workers!r}")
    name = source.get("name")
    if name is not None and (isinstance(name, bool) or not isinstance(name, (str, int))):
        raise ConfigError(f"{path}: name must be text, not {name!r}")
    gate = source.get("gate")
    if gate is not None and not isinstance(gate, Mapping):
        raise ConfigError(f"{path}: gate: expected a mapping with baseline and tolerance")
    for key in gate or {}:
        if key not in GATE_KEYS:
            raise ConfigError(
                f"{path}: gate: unknown key {key!r}{registry.did_you_mean(str(key), GATE_KEYS)}"
            )
    if gate is not None:
        _check_gate(gate, path)
    slices = source.get("slices") or []
    if not isinstance(slices, list) or not all(
        isinstance(key, str) and key.startswith("meta.") and len(key) > len("meta.")
        for key in slices
    ):
        raise ConfigError(f"{path}: slices: a list of sample meta keys, as in [meta.degrade]")
    return Spec(
        name=str(name if name is not None and name != "" else path.stem),
        datasets=tuple(refs),
        engines=engines,
        correctors=correctors,
        normalization=norm,
        gate=gate,
        workers=workers,
        executor=str(executor),
        source=source,
        path=path,
        notes=tuple(notes),
        slices=tuple(slices),
    )


def _check_gate(gate: Mapping[str, Any], path: Path) -> None:
    """The gate's settings, checked when the spec is read (as `ocrbench check` checks them)."""
    from ocrbench import gate as gates

    baseline = gate.get("baseline")
    if baseline is not None and not isinstance(baseline, str):
        raise ConfigError(f"{path}: gate: baseline must be a path, not {baseline!r}")
    try:
        gates.check_settings(
            gate.get("cer_tolerance", 0.002), gate.get("wer_tolerance"),
            gate.get("allow_missing", False), gate.get("shared", False),
        )  # fmt: skip
    except ConfigError as error:
        raise ConfigError(f"{path}: gate: {error}") from None


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
