"""The regression gate: did accuracy drop against a committed baseline?

A baseline (`reports/baselines/*.json`) holds, per dataset and configuration id, the configuration's
label, corpus CER and WER, sample count, text normalisation and the training set its corrector
learned from (`train_sha256`, None when it learned nothing). `check` compares a run with it:
worse than the baseline by more than the tolerance fails, better by more than it is reported as an
improvement, and configurations on only one side are listed. Figures measured on different samples,
under a different normalisation or by a corrector trained on another training set (the config id
says "trained", not on what) are not comparable, so they fail with that reason. A baseline
configuration the run lacks fails too (it was not judged), unless `allow_missing` says it may.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ocrbench import metrics, results, rundir
from ocrbench.errors import ConfigError, OcrbenchError

FORMAT = 1
Key = tuple[str, str]  # (dataset, config_id)
# Per sample, as a baseline stores them (format 1 files from before may lack them).
PER_SAMPLE = ("char_edits", "reference_chars", "word_edits", "reference_words")

# Verdicts; the first four fail the gate. A baseline configuration absent from the run is MISSING
# (fails), or GONE (passes) when the caller allows missing configurations.
WORSE, NOT_COMPARABLE, MISSING_CER, MISSING = "WORSE", "NOT COMPARABLE", "NO CER", "MISSING"
BETTER, OK, NEW, GONE = "better", "ok", "new (not in baseline)", "not in this run"
FAILING = (WORSE, NOT_COMPARABLE, MISSING_CER, MISSING)


def training(group: pd.DataFrame) -> tuple[str | None, str | None]:
    """The training set one configuration's rows learned from, as (sha256, path); (None, None)
    when its corrector learned nothing: untrained, handed a set it cannot learn from (its rows say
    `trained: false` and its output does not depend on the set), or rows from before training sets.

    Only the sha256 identifies the set (the path differs between clones); the path names it."""
    if "trained" not in group or "train_sha256" not in group:
        return None, None
    learned = group[group["trained"].eq(True)]  # None and NaN are not True
    if learned.empty:
        return None, None

    def joined(column: str) -> str:  # one value per configuration in a run; more are kept apart
        return ", ".join(sorted({str(v) for v in learned[column] if isinstance(v, str)}))

    return joined("train_sha256"), (joined("train") or None) if "train" in learned else None


def trained_on(sha256: str | None, path: str | None) -> str:
    """A training set as messages name it: its path and short sha256, or "untrained"."""
    if sha256 is None:
        return "untrained"
    return f"{path} (sha256 {sha256[:12]})" if path else f"sha256 {sha256[:12]}"


def corpus(frame: pd.DataFrame) -> dict[Key, dict[str, Any]]:
    """Per (dataset, config_id): label, corpus CER and WER (edits over reference lengths),
    samples, normalisation and training set, as a baseline stores them."""
    figures = {}
    frame = frame.assign(input=results.inputs(frame))
    for (dataset, config_id), group in frame.groupby(["dataset", "config_id"], sort=True):
        columns = [group[name].astype(int) for name in PER_SAMPLE]
        sha256, path = training(group)
        figures[(str(dataset), str(config_id))] = {
            "config": str(group["config"].iloc[0]),
            "cer": metrics.rate(group["char_edits"], group["reference_chars"]),
            "wer": metrics.rate(group["word_edits"], group["reference_words"]),
            "samples": int(len(group)),
            "normalization": ", ".join(sorted(map(str, group["normalization"].unique()))),
            # The config id says "trained", not on what: this says on what (None: untrained).
            "train_sha256": sha256,
            "train": path,
            # Each sample's input (page image or given OCR text), where rows record it.
            "inputs": {
                str(sample_id): str(found)
                for sample_id, found in zip(group["sample_id"], group["input"], strict=True)
                if isinstance(found, str)
            },
            # Each sample's reference by its sha256: an edit that keeps its lengths is other data.
            "references": {
                str(sample_id): _digest(str(reference))
                for sample_id, reference in zip(group["sample_id"], group["reference"], strict=True)
            },
            # What a comparison on the samples both sides share recomputes the figures from.
            "per_sample": {
                str(sample_id): [int(v) for v in values]
                for sample_id, *values in zip(group["sample_id"], *columns, strict=True)
            },
        }
    return figures


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _on(figures: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """A configuration's figures recomputed on some of its samples (from its per-sample counts)."""
    counts = [figures["per_sample"][i] for i in ids]
    edits, chars, word_edits, words = (list(column) for column in zip(*counts, strict=True))
    return {**figures, "samples": len(ids), "cer": metrics.rate(edits, chars),
            "wer": metrics.rate(word_edits, words)}  # fmt: skip


def write_baseline(run_dir: str | Path, path: str | Path) -> Path:
    """Store a run's corpus figures as a baseline (JSON, sorted keys, stable for diffs)."""
    path = Path(path)
    configs: dict[str, dict[str, Any]] = {}
    for (dataset, config_id), figures in corpus(results.load(run_dir)).items():
        configs.setdefault(dataset, {})[config_id] = figures
    document = {"ocrbench_baseline": FORMAT, "datasets": configs}
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if path.is_dir():
        raise OcrbenchError(
            f"{path}: is a folder; give --write-baseline a file path such as {path / 'NAME.json'}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Atomically: a write that fails (a full disk) leaves the old baseline whole, not empty.
        rundir.write_text(path, text)
    except (OSError, OcrbenchError) as error:  # read-only, no space, a file for a folder, ...
        why = error.strerror if isinstance(error, OSError) else str(error)
        why = (why or str(error)).removeprefix(f"cannot write {path}: ")
        raise OcrbenchError(
            f"{path}: cannot write the baseline ({why}); choose a path in a folder you can write"
        ) from None
    return path


def _malformed(path: Path, why: str) -> OcrbenchError:
    return OcrbenchError(
        f"{path}: not an ocrbench baseline ({why}); "
        "write one with `ocrbench check RUN_DIR --write-baseline FILE`"
    )


def _number(value: Any) -> bool:
    # NaN and Infinity parse as floats but are no measurement, and every comparison with NaN is
    # False, so the gate would call them "ok". write_baseline never writes them (no references
    # give null), so they mean a damaged file: reject it as malformed, naming the figure, rather
    # than show a verdict row that looks like a comparison took place.
    if isinstance(value, bool):
        return False
    return (
        value is None
        or isinstance(value, int)
        or (isinstance(value, float) and math.isfinite(value))
    )


def read_baseline(path: str | Path) -> dict[Key, dict[str, Any]]:
    """A baseline file's figures per (dataset, config_id); one clear error for any flaw."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OcrbenchError(
            f"{path}: no such baseline; write one with `ocrbench check RUN_DIR --write-baseline "
            f"{path}`"
        ) from None
    except IsADirectoryError:
        raise OcrbenchError(
            f"{path}: is a folder, not a baseline file; give the .json file in it, e.g. "
            "reports/baselines/default.json"
        ) from None
    except OSError as error:  # unreadable: permissions, a broken mount, ...
        raise OcrbenchError(
            f"{path}: cannot read the baseline ({error.strerror or error})"
        ) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise _malformed(path, f"invalid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("ocrbench_baseline") != FORMAT:
        raise _malformed(path, f'expected an object with "ocrbench_baseline": {FORMAT}')
    datasets = document.get("datasets")
    if not isinstance(datasets, dict):
        raise _malformed(path, 'expected "datasets": {dataset: {config_id: figures}}')
    baseline = {}
    for dataset, configs in datasets.items():
        if not isinstance(configs, dict):
            raise _malformed(path, f"dataset {dataset!r}: expected {{config_id: figures}}")
        for config_id, figures in configs.items():
            where = f"{dataset}/{config_id}"
            if not isinstance(figures, dict):
                raise _malformed(path, f"{where}: expected an object of figures")
            for name in ("cer", "wer"):
                if not _number(value := figures.get(name, "missing")):
                    raise _malformed(
                        path, f"{where}: cer and wer must be numbers (or null), {name} is {value!r}"
                    )
            for name in ("inputs", "references"):  # absent in files from before they were kept
                found = figures.get(name, {})
                if not isinstance(found, dict) or not all(
                    isinstance(v, str) for v in found.values()
                ):
                    raise _malformed(path, f"{where}: {name} must map sample ids to text")
            for name, what in (("train_sha256", "a sha256 (a string)"), ("train", "a path")):
                # Absent in files from before training sets were recorded (see _training_unfit).
                if not isinstance(figures.get(name), (str, type(None))):
                    raise _malformed(path, f"{where}: {name} must be {what} or null")
            samples = figures.get("samples")
            if not isinstance(samples, int) or isinstance(samples, bool) or samples < 0:
                raise _malformed(path, f"{where}: samples must be a count")
            per_sample = figures.get("per_sample", {})
            if not isinstance(per_sample, dict) or not all(
                isinstance(v, list) and len(v) == len(PER_SAMPLE)
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v)
                for v in per_sample.values()
            ):  # fmt: skip
                raise _malformed(path, f"{where}: per_sample must map ids to {len(PER_SAMPLE)} "
                                       "counts")  # fmt: skip
            baseline[(dataset, config_id)] = figures
    return baseline


@dataclass(frozen=True)
class Comparison:
    """One configuration's figures in the baseline and in the run, and what they mean."""

    dataset: str
    config_id: str
    config: str
    baseline_cer: float | None
    run_cer: float | None
    baseline_wer: float | None
    run_wer: float | None
    verdict: str
    reason: str = ""

    @property
    def cer_delta(self) -> float | None:
        if self.baseline_cer is None or self.run_cer is None:
            return None
        return self.run_cer - self.baseline_cer

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


def _training_unfit(base: dict[str, Any], run: dict[str, Any]) -> str:
    """Why the run's configuration learned from another training set than the baseline's ("" when
    the same, or both untrained). The same config id says both were trained or both not."""
    mine = run.get("train_sha256")
    if "train_sha256" not in base:  # a baseline from before training sets were recorded
        if mine is None:  # untrained, so the baseline's (same config id) was untrained too
            return ""
        return (
            "the baseline does not record its training set (written before baselines did): "
            "write it again from a run trained on the set it should hold"
        )
    theirs = base["train_sha256"]
    if theirs == mine:
        return ""
    return (
        f"other training set: {trained_on(mine, run.get('train'))}, "
        f"baseline {trained_on(theirs, base.get('train'))}"
    )


def _shared(base: dict[str, Any], run: dict[str, Any], shared: bool) -> tuple[
    dict[str, Any], dict[str, Any], str
]:  # fmt: skip
    """Both sides' figures on the samples they share (with `shared`), and why they do not
    compare ("" when they do). Without `shared`, the same samples or nothing."""
    if "per_sample" not in base:  # a baseline from before per-sample counts: counts only
        if shared:
            return base, run, "the baseline has no per-sample counts: write it again for --shared"
        if base["samples"] != run["samples"]:
            return base, run, f"{run['samples']} samples, baseline {base['samples']}"
        return base, run, ""
    ids = sorted(set(base["per_sample"]) & set(run["per_sample"]))
    if not ids:
        return base, run, "no sample in common with the baseline"
    texts = base.get("references", {}), run.get("references", {})  # none in older baselines
    for sample_id in ids:  # a sample of the same id with another reference: other data
        lengths = base["per_sample"][sample_id][1::2], run["per_sample"][sample_id][1::2]
        digests = texts[0].get(sample_id), texts[1].get(sample_id)
        if lengths[0] != lengths[1] or None not in digests and digests[0] != digests[1]:
            return base, run, f"sample {sample_id!r} has another reference than the baseline's"
    before, now = base.get("inputs", {}), run.get("inputs", {})  # none in older baselines
    for sample_id in ids:  # the same reference over another page or OCR text: other data
        if sample_id in before and sample_id in now and before[sample_id] != now[sample_id]:
            return (
                base,
                run,
                f"sample {sample_id!r} was read from another input than the baseline's",
            )
    if not shared:
        if len(ids) == len(base["per_sample"]) == len(run["per_sample"]):
            return base, run, ""
        if base["samples"] != run["samples"]:
            return base, run, f"{run['samples']} samples, baseline {base['samples']}"
        return base, run, f"other samples than the baseline's ({len(ids)} shared; --shared)"
    return _on(base, ids), _on(run, ids), ""


def _compare(
    key: Key,
    base: dict[str, Any],
    run: dict[str, Any],
    cer_tolerance: float,
    wer_tolerance: float | None,
    shared: bool = False,
) -> Comparison:
    full = base["samples"]
    # Another training set first: what the samples would say is beside the point then.
    unfit = _training_unfit(base, run)
    if not unfit:
        base, run, unfit = _shared(base, run, shared)
    on = f"on {run['samples']} of the baseline's {full} samples" if shared and not unfit else ""

    def made(verdict: str, reason: str = "") -> Comparison:
        why = "; ".join(filter(None, [reason, on]))
        return Comparison(*key, run["config"], base["cer"], run["cer"], base["wer"], run["wer"],
                          verdict, why)  # fmt: skip

    if unfit:
        return made(NOT_COMPARABLE, unfit)
    norm = base.get("normalization")
    if norm is not None and norm != run["normalization"]:
        return made(NOT_COMPARABLE, f"normalisation {run['normalization']!r}, baseline {norm!r}")
    if (base["cer"] is None) != (run["cer"] is None):
        return made(MISSING_CER, "no reference characters on one side")
    reasons, better = [], []
    for name, tolerance in (("CER", cer_tolerance), ("WER", wer_tolerance)):
        before, after = base[name.lower()], run[name.lower()]
        if tolerance is None or before is None or after is None:
            continue
        # A hair of slack, so a rerun that reproduces the baseline never fails by rounding.
        if after - before > tolerance + 1e-12:
            reasons.append(f"{name} {shown(after - before, tolerance)} > {tolerance:g}")
        elif before - after > tolerance + 1e-12:
            better.append(f"{name} {shown(after - before, tolerance)}")
    if reasons:
        return made(WORSE, "; ".join(reasons))
    if better:
        return made(BETTER, "; ".join(better))
    return made(OK)


def shown(delta: float, tolerance: float) -> str:
    """A signed delta to 4 decimals, or to as many more (up to 8) as tell it from the tolerance:
    +0.00204 fails a tolerance of 0.002 and +0.0019996 passes it; both are +0.0020 to 4."""
    digits = 4
    while digits < 8 and round(abs(delta), digits) == round(tolerance, digits):
        digits += 1
    return f"{delta:+.{digits}f}"


@dataclass(frozen=True)
class GateResult:
    """Every configuration's comparison; the gate passes when none failed."""

    baseline: Path
    cer_tolerance: float
    wer_tolerance: float | None
    comparisons: tuple[Comparison, ...]
    allow_missing: bool = False

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.failed]

    @property
    def improvements(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.verdict == BETTER]

    @property
    def new(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.verdict == NEW]

    @property
    def missing(self) -> list[Comparison]:
        """Baseline configurations not in this run, allowed or not."""
        return [c for c in self.comparisons if c.verdict in (GONE, MISSING)]

    @property
    def passed(self) -> bool:
        return not self.failures

    def table(self) -> str:
        """A fixed-width table, one line per configuration, and a verdict line under it."""

        def cell(value: float | None, signed: bool = False) -> str:
            if value is None:
                return "-"
            return shown(value, self.cer_tolerance) if signed else f"{value:.4f}"

        header = ["config", "dataset", "baseline CER", "run CER", "delta", "verdict"]
        rows = [
            [
                c.config,
                c.dataset,
                cell(c.baseline_cer),
                cell(c.run_cer),
                cell(None if c.verdict == NOT_COMPARABLE else c.cer_delta, signed=True),
                c.verdict + (f" ({c.reason})" if c.reason else ""),
            ]
            for c in self.comparisons
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        numeric = {2, 3, 4}

        def line(row: list[str]) -> str:
            cells = [
                text.rjust(width) if i in numeric else text.ljust(width)
                for i, (text, width) in enumerate(zip(row, widths, strict=True))
            ]
            return "  ".join(cells).rstrip()

        lines = [line(header), "  ".join("-" * w for w in widths)]
        lines += [line(row) for row in rows]
        compared = len(self.comparisons) - len(self.new) - len(self.missing)
        tolerance = f"CER tolerance {self.cer_tolerance:g}" + (
            f", WER tolerance {self.wer_tolerance:g}" if self.wer_tolerance is not None else ""
        )
        of = f"{compared} configuration(s) compared with {self.baseline}"
        kinds = Counter(c.verdict.lower() for c in self.failures if c.verdict != MISSING)
        unjudged = sum(c.verdict == MISSING for c in self.failures)
        if self.passed:
            verdict = f"PASSED: {of}"
        else:
            counts = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
            parts = [f"{counts} of {of}" if counts else of]
            if unjudged:  # named first: the compared count does not include them
                parts.insert(
                    0,
                    f"{unjudged} baseline configuration(s) missing from this run (--allow-missing, "
                    "or allow_missing: true in a spec's gate, accepts that)",
                )
            verdict = "FAILED: " + "; ".join(parts)
        extra = [f"{len(self.improvements)} better"]
        if self.new:
            extra.append(f"{len(self.new)} new")
        if gone := len(self.missing) - unjudged:
            extra.append(f"{gone} missing from this run (allowed)")
        lines.append(f"{verdict} ({tolerance}; {', '.join(extra)})")
        return "\n".join(lines)


def check_settings(
    cer_tolerance: object, wer_tolerance: object, allow_missing: object, shared: object
) -> None:
    """ConfigError, in one line, for a gate setting of the wrong kind (a sweep spec's `gate:` is
    checked with this when it is read, not when `--gate` runs)."""
    for name, value in (("cer_tolerance", cer_tolerance), ("wer_tolerance", wer_tolerance)):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and not (number and 0 <= value < math.inf):  # type: ignore[operator]
            raise ConfigError(f"{name} must be a number >= 0 (e.g. 0.002), not {value!r}")
    for name, flag in (("allow_missing", allow_missing), ("shared", shared)):
        if not isinstance(flag, bool):
            raise ConfigError(f"{name} must be true or false, not {flag!r}")


def check(
    run_dir: str | Path,
    baseline_path: str | Path,
    cer_tolerance: float = 0.002,
    wer_tolerance: float | None = None,
    allow_missing: bool = False,
    shared: bool = False,
) -> GateResult:
    """Compare a run's corpus CER (and WER, when given a tolerance) with a baseline's.

    A baseline configuration the run lacks fails the gate unless `allow_missing`. With `shared`,
    each configuration is compared on the samples both sides hold (recomputed from the
    baseline's per-sample counts), and the table says on how many."""
    check_settings(cer_tolerance, wer_tolerance, allow_missing, shared)
    baseline_path = Path(baseline_path)
    baseline = read_baseline(baseline_path)
    run = corpus(results.load(run_dir))
    if not set(run) & set(baseline):
        raise OcrbenchError(
            f"baseline {baseline_path} has none of this run's configs; write one with "
            "--write-baseline FILE"
        )
    comparisons = []
    for key in sorted(set(run) | set(baseline)):
        if key not in baseline:
            figures = run[key]
            comparisons.append(Comparison(*key, figures["config"], None, figures["cer"], None,
                                          figures["wer"], NEW))  # fmt: skip
        elif key not in run:
            figures = baseline[key]
            verdict, reason = (
                (GONE, "") if allow_missing else (MISSING, "in the baseline, not in this run")
            )
            comparisons.append(Comparison(*key, str(figures.get("config", key[1])), figures["cer"],
                                          None, figures["wer"], None, verdict, reason))  # fmt: skip
        else:
            comparisons.append(
                _compare(key, baseline[key], run[key], cer_tolerance, wer_tolerance, shared)
            )
    # Failures first, then improvements, so the lines that matter lead the table.
    rank = {True: 0, False: 1}
    comparisons.sort(key=lambda c: (rank[c.failed], c.verdict != BETTER, c.dataset, c.config))
    return GateResult(
        baseline_path, float(cer_tolerance), wer_tolerance, tuple(comparisons), allow_missing
    )
