"""The results store: `results.parquet` (one row per configuration and sample) and `manifest.json`
beside it, and the per-configuration summary everything else reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ocrbench import metrics, rundir
from ocrbench.errors import OcrbenchError

RESULTS = "results.parquet"
MANIFEST = "manifest.json"


# What describes the results beside it: gone before new results land, so that a run with
# --no-report, or one killed between its results and its manifest, leaves nothing that describes
# other results (the report writes its own files again; `load_manifest` of none is {}).
# (The report's cache of charts and tables stays: it is keyed by the rows' content, so it serves
# only results the same as those it was drawn from, and saves a re-run its drawing.)
REPORT_CACHE = ".report-cache.json"
DESCRIBING = (MANIFEST, "index.html", "summary.md", "summary-by-*.md")


def write(out: Path, rows: Sequence[dict[str, Any]], manifest: dict[str, Any]) -> Path:
    rundir.prepare(out)
    frame = pd.DataFrame(list(rows))
    for pattern in DESCRIBING:
        for stale in out.glob(pattern):
            stale.unlink(missing_ok=True)
    rundir.replace_atomically(out / RESULTS, lambda p: frame.to_parquet(p, index=False))
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    rundir.write_text(out / MANIFEST, text + "\n")
    return out / RESULTS


def inputs(frame: pd.DataFrame) -> pd.Series:
    """Each row's input, as compared between runs: its page image by sha256, or, for the `given`
    engine (whose OCR text is the input), that text's; None where rows do not say (rows from
    before they recorded `image_sha256`, text-only samples read by another engine)."""
    images = frame["image_sha256"] if "image_sha256" in frame else [None] * len(frame)
    found: list[str | None] = []
    for image, engine, ocr in zip(images, frame["engine"], frame["ocr_text"], strict=True):
        if isinstance(image, str):
            found.append(f"page image {image[:16]}")
        elif engine == "given" and isinstance(ocr, str):
            found.append(f"OCR text given {hashlib.sha256(ocr.encode()).hexdigest()[:16]}")
        else:
            found.append(None)
    return pd.Series(found, index=frame.index, dtype=object)


# Columns every results file has held since the first: what the summaries, the gate and compare
# read (columns added later are read as missing where old rows lack them).
ROW_COLUMNS = (
    "dataset", "sample_id", "config_id", "config", "engine", "params", "corrector",
    "corrector_params", "normalization", "reference", "ocr_text", "hypothesis",
    "reference_chars", "char_edits", "raw_char_edits", "reference_words", "word_edits",
    "raw_word_edits", "cer", "ocr_seconds", "correct_seconds", "tokens", "words_fixed",
    "words_broken", "preference",
)  # fmt: skip


def load(run_dir: str | Path) -> pd.DataFrame:
    """The rows of a finished run as a DataFrame."""
    path = Path(run_dir) / RESULTS
    if path.is_dir():
        raise OcrbenchError(f"{path} is a folder, not a run's results")
    if not path.is_file():
        raise OcrbenchError(f"{run_dir}: no {RESULTS} here; run `ocrbench run` or `ocrbench sweep`")
    again = "run the command that made it again (a sweep rebuilds it from its journal, rows.jsonl)"
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise OcrbenchError(
            f"{path} is damaged ({str(error).splitlines()[0][:120]}); {again}"
        ) from None
    if frame.empty:
        raise OcrbenchError(f"{path} holds no rows; {again}")
    missing = [column for column in ROW_COLUMNS if column not in frame]
    if missing:
        raise OcrbenchError(
            f"{path} is not an ocrbench run's rows (no {', '.join(missing[:4])}"
            f"{', ...' if len(missing) > 4 else ''}); {again}"
        )
    return frame


def manifest_datasets(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The datasets a manifest names: a run's one (`dataset`), a sweep's (`datasets`)."""
    entries = [manifest["dataset"]] if isinstance(manifest.get("dataset"), dict) else []
    return entries + [d for d in manifest.get("datasets", []) if isinstance(d, dict)]


def load_manifest(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise OcrbenchError(f"{path}: not valid JSON ({error})") from None
    except OSError as error:  # a folder, unreadable
        raise OcrbenchError(f"{path}: cannot be read ({error.strerror or error})") from None
    if not isinstance(manifest, dict):
        raise OcrbenchError(f"{path}: not an ocrbench manifest (a JSON object)")
    return manifest


def _column(group: pd.DataFrame, name: str) -> pd.Series:
    """A column rows from before it existed lack: NaN, so its rate is NaN, not 0."""
    return group[name] if name in group else pd.Series(float("nan"), index=group.index)


def _flag(group: pd.DataFrame, name: str) -> pd.Series:
    """A yes/no column rows from before it existed lack: no."""
    return (
        group[name].fillna(False).astype(bool)
        if name in group
        else pd.Series(False, index=group.index)
    )


def seconds_note(summary: pd.DataFrame) -> str | None:
    """What the summaries say when some seconds were not measured by this run (None when all
    were): a cached reading keeps the seconds of the run that made it, under that run's settings."""
    cached = int(summary["seconds_cached"].sum()) if "seconds_cached" in summary else 0
    if not cached:
        return None
    rows = int(summary["samples"].sum())
    return (
        f"the seconds of {cached} of {rows} rows were read from the cache (their OCR's, their "
        "correction's or both): "
        "measured when the entry was made (by an earlier run, or earlier in this one for the "
        "same text), under those settings (machine, threads, load); "
        "--no-cache into a new --out measures them all in this run"
    )


def blank_notes(summary: pd.DataFrame) -> list[str]:
    """Per dataset with samples that have no reference text, where a configuration read something
    there: those characters are all edits in its corpus CER's numerator, over no reference
    characters, so one blank page can make most of a CER. Said with the largest such share."""
    if "empty_references" not in summary:
        return []
    notes = []
    for dataset, group in summary.groupby("dataset", sort=False):
        worst = group.sort_values("empty_reference_edits", ascending=False, kind="stable").iloc[0]
        if not worst["empty_reference_edits"]:
            continue
        blank, samples = int(worst["empty_references"]), int(worst["samples"])
        share = (
            f"{int(worst['empty_reference_edits'])} of its {int(worst['char_edits_total'])} "
            "character edits"
        )
        notes.append(
            f"{dataset}: {blank} of {samples} samples {'has' if blank == 1 else 'have'} no "
            f"reference text; what a configuration reads there counts whole as edits "
            f"({worst['config']}: {share})"
        )
    return notes


def _accuracy(error: float | None) -> float | None:
    return None if error is None else 1 - error


def summarize(group: pd.DataFrame, *, seed: int = 0) -> dict[str, Any]:
    """Corpus figures for one configuration's rows (edits over reference lengths, not a mean)."""
    seconds = group["ocr_seconds"].fillna(0) + group["correct_seconds"].fillna(0)
    cer_low, cer_high = metrics.bootstrap_ci(
        group["char_edits"].tolist(), group["reference_chars"].tolist(), seed=seed
    )
    wer_low, wer_high = metrics.bootstrap_ci(
        group["word_edits"].tolist(), group["reference_words"].tolist(), seed=seed
    )
    # Paired against the configuration's own raw OCR, on the same samples.
    paired = metrics.paired_change(
        group["char_edits"].tolist(), group["raw_char_edits"].tolist(),
        group["reference_chars"].tolist(), seed=seed,
    )  # fmt: skip
    return {
        "samples": len(group),
        "cer": metrics.rate(group["char_edits"], group["reference_chars"]),
        "cer_low": cer_low,
        "cer_high": cer_high,
        "raw_cer": metrics.rate(group["raw_char_edits"], group["reference_chars"]),
        "cer_change": paired.change,
        "change_low": paired.low,
        "change_high": paired.high,
        "verdict": paired.verdict,
        "samples_better": paired.better,
        "samples_worse": paired.worse,
        "samples_same": paired.same,
        "wer": metrics.rate(group["word_edits"], group["reference_words"]),
        # Beside the corpus rates, labelled as what they are (metrics.py defines each):
        "mean_cer": float(group["cer"].mean()) if group["cer"].notna().any() else float("nan"),
        "bow_error": metrics.rate(_column(group, "bow_errors"), group["reference_words"]),
        "grapheme_cer": metrics.rate(
            _column(group, "grapheme_edits"), _column(group, "reference_graphemes")
        ),  # fmt: skip
        "flex_accuracy": _accuracy(
            metrics.rate(_column(group, "flex_errors"), _column(group, "flex_chars"))
        ),
        "wer_low": wer_low,
        "wer_high": wer_high,
        "seconds_per_sample": float(seconds.mean()),
        "ocr_seconds_per_sample": float(group["ocr_seconds"].mean()),
        "correct_seconds_per_sample": float(group["correct_seconds"].mean()),
        "p50_seconds": float(np.percentile(seconds, 50)),
        "p95_seconds": float(np.percentile(seconds, 95)),
        # Rows whose OCR or correction came from the cache: their seconds are an earlier run's.
        "seconds_cached": int(
            (_flag(group, "ocr_cached") | _flag(group, "correction_cached")).sum()
        ),
        "tokens": int(group["tokens"].sum()),
        # Pages without reference text: whatever is read there is all edits (see blank_notes).
        "empty_references": int((group["reference_chars"] == 0).sum()),
        "empty_reference_edits": int(group.loc[group["reference_chars"] == 0, "char_edits"].sum()),
        "char_edits_total": int(group["char_edits"].sum()),
        "words_fixed": int(group["words_fixed"].sum()),
        "words_broken": int(group["words_broken"].sum()),
        "preference": float(group["preference"].mean()),
        # Samples where a guard kept (part of) the text as read instead of the model's reply.
        "rejected": int(group["rejected"].map(_said).sum()) if "rejected" in group else 0,
    }


def _said(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


CONFIG_COLUMNS = [
    "dataset", "config_id", "config", "engine", "params", "corrector", "corrector_params",
    "repo_id", "quantization", "made_from", "gpu_layers", "gpu_layers_effective",
]  # fmt: skip


def summary(frame: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """One row per (dataset, configuration), sorted by corpus CER; with `by` ("meta.degrade"),
    one row per (dataset, configuration, value of that meta key) instead, the value in `slice`."""
    if by is not None:
        frame = frame.assign(slice=slice_values(frame, by))
    # Effective GPU layers are known only where the model was loaded (not for rows the cache
    # served, nor for samples a corrector left alone): a fact about the configuration, not a key.
    keys = [c for c in CONFIG_COLUMNS if c in frame.columns and c != EFFECTIVE]
    keys += ["slice"] if by else []
    rows = []
    for values, group in frame.groupby(keys, dropna=False, sort=False):
        found = {**dict(zip(keys, values, strict=True)), **summarize(group)}
        if EFFECTIVE in group:
            found[EFFECTIVE] = _known(group[EFFECTIVE])
        rows.append(found)
    table = pd.DataFrame(rows)
    # metrics.rate's "no rate" (None) is a table's missing value, NaN, in a float column.
    rates = ["cer", "raw_cer", "cer_change", "wer", "bow_error", "grapheme_cer", "flex_accuracy"]
    table[rates] = table[rates].astype(float)
    if not by:
        return table.sort_values(["dataset", "cer"], kind="stable", ignore_index=True)
    rank = {value: i for i, value in enumerate(slice_order(table["slice"]))}
    table = table.assign(slice_rank=table["slice"].map(rank))
    table = table.sort_values(["dataset", "slice_rank", "cer"], kind="stable", ignore_index=True)
    return table.drop(columns="slice_rank")


EFFECTIVE = "gpu_layers_effective"


def _known(values: pd.Series) -> float:
    """The one value a configuration's rows know (NaN where none does, or they disagree)."""
    known = set(values.dropna())
    return float(known.pop()) if len(known) == 1 else float("nan")


def slice_order(values: Iterable[str]) -> list[str]:
    """A meta key's distinct values in reading order: by number where they all read as numbers
    (5, 10, 20; not "10", "20", "5"), else as text; "(none)" last."""
    distinct = sorted(set(values) - {NO_VALUE})
    try:
        ordered = sorted(distinct, key=float)
    except ValueError:
        ordered = distinct
    return ordered + ([NO_VALUE] if NO_VALUE in set(values) else [])


def quantization_labels(table: pd.DataFrame) -> list[str]:
    """Each row's quantization as results show it: "q8_0", or "q8_0, from Q4_K_M" for a file
    `models quantize` made from a quantized one ("" for a corrector without a model)."""
    from ocrbench.models.files import quantization_label

    quantizations = _column(table, "quantization")
    made_from = _column(table, "made_from")
    return [
        "" if pd.isna(q) else quantization_label(str(q), None if pd.isna(m) else str(m))
        for q, m in zip(quantizations, made_from, strict=True)
    ]


def slice_values(frame: pd.DataFrame, by: str) -> list[str]:
    """Each row's value of a meta key ("meta.degrade"), as text; "(none)" where a sample has none.
    A key no sample has, or results from before rows carried meta, are one clear error."""
    key = by.removeprefix("meta.")
    if not by.startswith("meta.") or not key:
        raise OcrbenchError(f"--by takes a sample meta key, as in meta.degrade, not {by!r}")
    if "meta" not in frame:
        raise OcrbenchError("these results predate rows carrying sample meta: run them again")
    metas = [json.loads(text) if isinstance(text, str) else {} for text in frame["meta"]]
    if not any(key in meta for meta in metas):
        known = sorted({k for meta in metas for k in meta})
        raise OcrbenchError(
            f"no sample has meta.{key}; their meta keys: {', '.join(known) or 'none'}"
        )
    return [str(meta[key]) if key in meta else NO_VALUE for meta in metas]


NO_VALUE = "(none)"  # a sample without the meta key a summary is sliced by
