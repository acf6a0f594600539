"""One configuration (an engine, then a corrector) over a dataset: one row per sample.

Each step goes through the cache, keyed by its inputs' content, so a second run of the same thing
does no OCR and no correction, and a run that was interrupted picks up where it stopped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

from tqdm import tqdm

from ocrbench import metrics, registry, rowkey
from ocrbench.cache import Cache, key, text_hash
from ocrbench.correctors.base import Corrector
from ocrbench.correctors.identity import Identity
from ocrbench.datasets import Dataset
from ocrbench.engines.base import OcrEngine, read
from ocrbench.errors import OcrbenchError, SampleError
from ocrbench.models.spec import SOURCING_FIELDS
from ocrbench.registry import params_of
from ocrbench.training import UNTRAINED, Applied, row_components
from ocrbench.types import Correction, OcrResult, Sample

T = TypeVar("T")
R = TypeVar("R", OcrResult, Correction)


@dataclass
class Counts:
    """How much work a run did, and how much the cache saved."""

    ocr_run: int = 0
    ocr_cached: int = 0
    correct_run: int = 0
    correct_cached: int = 0
    fit_run: int = 0
    fit_cached: int = 0

    def add(self, other: Counts) -> None:
        for name in ("ocr_run", "ocr_cached", "correct_run", "correct_cached", "fit_run",
                     "fit_cached"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def describe(self) -> str:
        text = f"OCR: {self.ocr_cached} cached, {self.ocr_run} run"
        if self.correct_run or self.correct_cached:
            text += f"; corrections: {self.correct_cached} cached, {self.correct_run} run"
        if self.fit_run or self.fit_cached:
            text += f"; fits: {self.fit_cached} cached, {self.fit_run} run"
        return text


@dataclass
class Step:
    """An engine or corrector with what its cache keys need, computed once per run."""

    component: Any
    params: dict[str, Any] = field(init=False)
    version: str = field(init=False)
    model: dict[str, Any] | None = field(init=False)  # models.model_file: the file, its origin
    warning: str | None = field(init=False)  # what the results must say about this component

    def __post_init__(self) -> None:
        self.params = params_of(self.component)
        self.version = self.component.version()
        self.model = _model_file(self.component)
        warning = getattr(self.component, "warning", None)
        self.warning = warning() if callable(warning) else None

    @property
    def cacheable(self) -> bool:
        return bool(getattr(self.component, "cacheable", True))

    @property
    def identity(self) -> rowkey.Component:
        """(name, parameters, version): what a results row's key holds of this step."""
        return (self.component.name, self.params, self.version)

    def key(self, content: str) -> str:
        return key(self.component.name, self.params, self.version, content)


def _model_file(component: Any) -> dict[str, Any] | None:
    """The model file a corrector uses (repo, quantization, path, sha256, what it was made from);
    None for one without a model."""
    model_file = getattr(component, "model_file", None)
    return model_file() if callable(model_file) else None


def meta_json(meta: Mapping[str, Any] | None) -> str:
    """A sample's meta as a results row holds it (`report --by meta.KEY` reads it back)."""
    return json.dumps(dict(meta or {}), sort_keys=True, ensure_ascii=False, default=str)


def ocr_key(engine: Step, sample: Sample) -> str | None:
    """The cache entry of a sample's OCR by this engine; None when it is not cached."""
    if not engine.cacheable or sample.image is None:
        return None
    return engine.key(rowkey.image_sha256(sample) or "")


def correction_key(corrector: Step, ocr: OcrResult) -> str | None:
    """The cache entry of a correction of this OCR text; None when it is not cached."""
    return corrector.key(text_hash(ocr.text)) if corrector.cacheable else None


def _entry(cache: Cache, kind: str, entry: str, parse: Callable[[Any], T]) -> T | None:
    """A cache entry read back, or None: absent, or of another shape (an older layout, a damaged
    file), which is recomputed."""
    hit = cache.get(kind, entry)
    if hit is None:
        return None
    try:
        return parse(hit)
    except (KeyError, TypeError, ValueError):
        return None


def _from_cache(kind: type[R]) -> Callable[[Any], R]:
    """A cache entry parsed as `kind`, marked as read from the cache (its seconds are another
    run's)."""
    return lambda entry: replace(kind.from_json(entry), cached=True)


def cached_ocr(engine: Step, sample: Sample, cache: Cache) -> OcrResult | None:
    """The sample's OCR by this engine as the cache holds it; None when it does not."""
    entry = ocr_key(engine, sample)
    return None if entry is None else _entry(cache, "ocr", entry, _from_cache(OcrResult))


def cached_correction(corrector: Step, ocr: OcrResult, cache: Cache) -> Correction | None:
    """This corrector's correction of the OCR text as the cache holds it; None when it does not."""
    entry = correction_key(corrector, ocr)
    return None if entry is None else _entry(cache, "correct", entry, _from_cache(Correction))


def recognize(engine: Step, sample: Sample, cache: Cache, counts: Counts) -> OcrResult:
    entry = ocr_key(engine, sample)
    if entry is None:
        return read(engine.component, sample)
    found = _entry(cache, "ocr", entry, _from_cache(OcrResult))
    if found is not None:
        counts.ocr_cached += 1
        return found
    result = read(engine.component, sample)
    counts.ocr_run += 1
    cache.put("ocr", entry, asdict(result))
    return result


def correct(corrector: Step, ocr: OcrResult, cache: Cache, counts: Counts) -> Correction:
    entry = correction_key(corrector, ocr)
    if entry is None:
        return corrector.component.correct(ocr)
    found = _entry(cache, "correct", entry, _from_cache(Correction))
    if found is not None:
        counts.correct_cached += 1
        return found
    result = corrector.component.correct(ocr)
    counts.correct_run += 1
    cache.put("correct", entry, asdict(result))
    return result


def config_id(
    engine: str,
    engine_params: dict[str, Any],
    corrector: str,
    corrector_params: dict[str, Any],
    trained: bool = False,
) -> str:
    """A short stable id for an (engine, corrector) configuration, used by baselines and charts.

    Only parameters that differ from their defaults count, so a parameter added later (with a
    default) leaves every id, and the baselines that use them, as they were. A corrector that
    learned from a training set is another configuration; untrained ids are as they were."""
    steps = _registered(engine, engine_params, corrector, corrector_params)
    parts = [part for step in steps for part in step]  # engine, its changes, corrector, its
    return key(*parts, *(["trained"] if trained else []))[:12]


def label(engine: Step, corrector: Step, trained: bool = False) -> str:
    """A human name for a configuration: the parameters that differ from their defaults, and
    "trained" before a corrector that learned from a training set."""
    steps = [
        (step.component.name, _changed(step.params, _defaults_of(type(step.component))))
        for step in (engine, corrector)
    ]
    return _label(steps, trained)


def label_of(
    engine: str,
    engine_params: dict[str, Any],
    corrector: str,
    corrector_params: dict[str, Any],
    trained: bool = False,
) -> str:
    """`label` from the names and parameters a results row holds (the registered components'
    defaults), as `config_id` is: what a resumed row is called now."""
    return _label(_registered(engine, engine_params, corrector, corrector_params), trained)


def _registered(
    engine: str, engine_params: dict[str, Any], corrector: str, corrector_params: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """Each component's name and its parameters that differ from its registered defaults."""
    return [
        (engine, _changed(engine_params, _defaults(registry.engines, engine))),
        (corrector, _changed(corrector_params, _defaults(registry.correctors, corrector))),
    ]


def _label(steps: list[tuple[str, dict[str, Any]]], trained: bool) -> str:
    parts = []
    for name, changed in steps:
        args = ",".join(f"{k}={_shown(v)}" for k, v in changed.items())
        parts.append(name + (f"({args})" if args else ""))
    if trained:
        parts[1] = f"trained {parts[1]}"
    return " + ".join(parts)


def _shown(value: Any) -> str:
    """A value as a label shows it: quoted where its characters could read as the label's own
    punctuation (lang="deu,psm=6" is one parameter, not two)."""
    text = str(value)
    if isinstance(value, str) and (set(text) & set(',=()+"') or text != text.strip() or not text):
        return json.dumps(text, ensure_ascii=False)
    return text


def _changed(params: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The parameters that differ from their defaults (`_defaults_of`'s, already plain), as a
    results row's JSON holds them (a tuple as a list, a path as text): a label or id made again
    from a row is the live one."""
    plain = {k: _plain(v) for k, v in params.items() if k not in SOURCING_FIELDS}
    return {k: v for k, v in plain.items() if k not in defaults or defaults[k] != v}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@functools.cache
def _defaults(kind: registry.Registry[Any], name: str) -> dict[str, Any]:
    """Called for every results row: a plugin's lookup scans the entry points, so once a name."""
    try:
        return _defaults_of(kind.get(name))
    except OcrbenchError:  # not registered (yet): every parameter counts
        return {}


def _defaults_of(cls: type) -> dict[str, Any]:
    """A component's default parameters, plain as `_changed` compares them; made once."""
    if cls not in _DEFAULTS:
        try:
            _DEFAULTS[cls] = {k: _plain(v) for k, v in params_of(cls()).items()}
        except TypeError:  # a plugin whose parameters have no defaults
            _DEFAULTS[cls] = {}
    return _DEFAULTS[cls]


_DEFAULTS: dict[type, dict[str, Any]] = {}


def run(
    dataset: Dataset,
    engine: OcrEngine,
    corrector: Corrector | None = None,
    *,
    cache: Cache,
    norm: metrics.Normalization | None = None,
    progress: bool = True,
    counts: Counts | None = None,
    skipped: list[dict[str, Any]] | None = None,
    training: Applied | None = None,
) -> list[dict[str, Any]]:
    """Run one configuration over every sample and return its rows.

    `training`: the training set `corrector` was fitted on (`training.prepare` makes both)."""
    return list(
        iter_rows(dataset, engine, corrector, cache=cache, norm=norm, progress=progress,
                  counts=counts, skipped=skipped, training=training)
    )  # fmt: skip


def iter_rows(
    dataset: Dataset,
    engine: OcrEngine,
    corrector: Corrector | None = None,
    *,
    cache: Cache,
    norm: metrics.Normalization | None = None,
    progress: bool = True,
    counts: Counts | None = None,
    samples: Iterable[Sample] | None = None,
    ocr_results: Mapping[str, OcrResult] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    training: Applied | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows one at a time, so a caller can store each as soon as it exists.

    `ocr_results` (sample id -> result) are used as they are, not read again. With `skipped` (a
    list), a sample whose OCR fails is recorded there and left out; without it, it ends the run.
    `training` is the training set the corrector was given, recorded in each row and its key.
    """
    norm = norm or metrics.Normalization()
    counts = counts if counts is not None else Counts()
    engine_step, corrector_step = Step(engine), Step(corrector or Identity())
    todo = list(dataset.samples if samples is None else samples)
    trained = training is not None and training.trained
    bar = tqdm(todo, desc=label(engine_step, corrector_step, trained), unit="sample",
               disable=not progress)  # fmt: skip
    for sample in bar:
        ocr = (ocr_results or {}).get(sample.id)
        if ocr is None:
            try:
                ocr = recognize(engine_step, sample, cache, counts)
            except SampleError as error:
                if skipped is None:
                    raise
                skipped.append({"id": sample.id, "reason": str(error), "phase": "ocr"})
                continue
        correction = correct(corrector_step, ocr, cache, counts)
        yield make_row(
            dataset, sample, engine_step, corrector_step, ocr, correction, norm, training
        )


def make_row(
    dataset: Dataset,
    sample: Sample,
    engine: Step,
    corrector: Step,
    ocr: OcrResult,
    correction: Correction,
    norm: metrics.Normalization,
    training: Applied | None = None,
) -> dict[str, Any]:
    raw = metrics.score(sample.text, ocr.text, norm)
    final = metrics.score(sample.text, correction.text, norm)
    effect = metrics.word_effect(sample.text, ocr.text, correction.text, norm)
    model = corrector.model or {}
    effective = getattr(corrector.component, "effective_gpu_layers", None)
    components = row_components(engine.identity, corrector.identity, training)
    trained = training is not None and training.trained
    return {
        "dataset": dataset.name,
        "sample_id": sample.id,
        "image_sha256": rowkey.image_sha256(sample),  # the page read (the report checks it)
        "row_key": rowkey.row_key(str(dataset.root), sample, components, norm.name()),
        "config_id": config_id(
            engine.component.name,
            engine.params,
            corrector.component.name,
            corrector.params,
            trained,
        ),  # fmt: skip
        "config": label(engine, corrector, trained),
        "engine": engine.component.name,
        "params": json.dumps(engine.params, sort_keys=True),
        "engine_version": engine.version,
        "corrector": corrector.component.name,
        "corrector_params": json.dumps(corrector.params, sort_keys=True, default=str),
        "corrector_version": corrector.version,
        "repo_id": model.get("repo_id"),
        "quantization": model.get("quantization"),
        "made_from": model.get("made_from"),  # a file quantized from a quantized one: from what
        "gpu_layers": corrector.params.get("gpu_layers"),
        "gpu_layers_effective": effective() if callable(effective) else effective,
        "normalization": norm.name(),
        "reference": sample.text,
        "ocr_text": ocr.text,
        "hypothesis": correction.text,
        "reference_chars": raw.reference_chars,
        "reference_words": raw.reference_words,
        "raw_char_edits": raw.char_edits,
        "raw_cer": raw.cer,
        "raw_word_edits": raw.word_edits,
        "char_edits": final.char_edits,
        "cer": final.cer,
        "word_edits": final.word_edits,
        "wer": final.wer,
        "bow_errors": final.bow_errors,
        "reference_graphemes": final.reference_graphemes,
        "grapheme_edits": final.grapheme_edits,
        "flex_errors": final.flex_errors,
        "flex_chars": final.flex_chars,
        "ocr_seconds": ocr.seconds,
        "correct_seconds": correction.seconds,
        "ocr_cached": ocr.cached,  # seconds measured by an earlier run (the cache's entry)
        "correction_cached": correction.cached,
        "tokens": correction.tokens,
        "words_fixed": effect.fixed,
        "words_broken": effect.broken,
        "preference": effect.preference,
        "rejected": correction.rejected,
        "warning": corrector.warning,  # e.g. `prompt` on a base model
        "changes": json.dumps(correction.changes, ensure_ascii=False),
        "meta": meta_json(sample.meta),
        **(UNTRAINED if training is None else training.columns()),
    }
