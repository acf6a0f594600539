"""Charts people read at a glance.

Each function takes the results DataFrame (`frame`, one row per configuration and sample) or its
summary (`summary`, one row per dataset and configuration, from `results.summary`) and returns a
matplotlib Figure; `save(figure, path)` writes PNG or SVG by the path's suffix. Every chart copes
with what a real run has: one configuration, no corrector, no LLM, CERs that are NaN (empty
references). When there is nothing to draw, the chart says why in its axes instead of failing.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # charts are files; never ask for a screen

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ocrbench import metrics  # noqa: E402
from ocrbench.results import quantization_labels, slice_order  # noqa: E402

NO_LLM = "no LLM corrector in this run"
NO_CORRECTOR = "no corrector in this run (identity only)"
MAX_LINES = 10  # more configurations than this in one line chart is unreadable
FRONT = "#c0392b"
GOOD, BAD = "#2e8b57", "#c0392b"


def save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


# --- small helpers --------------------------------------------------------------------------------


def _plain(text: Any, width: int = 0) -> str:
    """Text from data as matplotlib should show it: '$' would start mathtext."""
    text = str(text).replace("$", r"\$")
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False)) if width else text


def _message(axis: Axes, text: str) -> None:
    axis.text(0.5, 0.5, text, ha="center", va="center", transform=axis.transAxes, color="#555")
    axis.set_xticks([])
    axis.set_yticks([])


def _nothing(figure: Figure, text: str) -> Figure:
    """A chart with nothing to draw: says why, in a strip rather than a page of white."""
    for axis in figure.axes:
        _message(axis, text)
    figure.set_size_inches(figure.get_figwidth(), 1.6)
    return figure


def _legend(axis: Axes, **options: Any) -> None:
    """A legend only when something is labelled (matplotlib warns on an empty one)."""
    if axis.get_legend_handles_labels()[0]:
        axis.legend(**{"fontsize": 7, **options})


NUMERIC = [
    "cer", "raw_cer", "cer_low", "cer_high", "wer", "seconds_per_sample", "gpu_layers",
    "ocr_seconds_per_sample", "correct_seconds_per_sample",
    "gpu_layers_effective", "words_fixed", "words_broken", "char_edits", "reference_chars",
]  # fmt: skip


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers as floats: a column of CERs that are all None (empty references) is `object`."""
    present = [c for c in NUMERIC if c in table]
    return table.assign(**{c: pd.to_numeric(table[c], errors="coerce") for c in present})


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    return table[name] if name in table else pd.Series([None] * len(table), index=table.index)


def _llm(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows whose corrector runs a language model (it has a model repo or a quantization)."""
    has_model = _column(summary, "repo_id").notna() | _column(summary, "quantization").notna()
    return summary[has_model]


def llm_axis_values(summary: pd.DataFrame, column: str) -> int:
    """How many values an axis takes among the LLM rows (a quantization made from another file
    counts as its own value: "q8_0" and "q8_0, from Q4_K_M" differ)."""
    llm = _llm(summary)
    if column == "quantization":
        return len(set(quantization_labels(llm)))
    return int(_column(llm, column).dropna().astype(str).nunique())


def _corrected(table: pd.DataFrame) -> pd.DataFrame:
    return table[_column(table, "corrector").fillna("identity") != "identity"]


def _short(value: Any) -> str:
    """'Qwen/Qwen2.5-3B-Instruct-GGUF' -> 'Qwen2.5-3B-Instruct-GGUF': the org rarely tells apart."""
    text = str(value)
    return text.rsplit("/", 1)[-1] if "/" in text and not text.startswith(("/", ".")) else text


def _described(row: Any) -> dict[str, Any]:
    """Everything that makes a configuration: dataset, engine and its parameters, corrector and
    its parameters."""
    fields: dict[str, Any] = {"dataset": getattr(row, "dataset", None)}
    fields["engine"] = getattr(row, "engine", None)
    for key, value in json.loads(getattr(row, "params", None) or "{}").items():
        fields[f"{fields['engine']}.{key}"] = value
    fields["corrector"] = getattr(row, "corrector", None)
    fields.update(json.loads(getattr(row, "corrector_params", None) or "{}"))
    return fields


def series_labels(table: pd.DataFrame, leave_out: Sequence[str]) -> list[str]:
    """Name each row by what tells it apart from the others, once `leave_out` is ignored.

    Rows that share a name belong to one series (a line over quantizations, over GPU layers).
    """
    described = [
        {k: v for k, v in _described(row).items() if k not in leave_out}
        for row in table.itertuples(index=False)
    ]
    keys = list(dict.fromkeys(key for fields in described for key in fields))
    varying = [  # among the rows that have the key: a lexicon has no quantization to compare
        key
        for key in keys
        if len({json.dumps(f[key], default=str) for f in described if key in f}) > 1
    ]
    bare = {"dataset", "engine", "corrector"}
    labels = []
    for fields in described:
        parts = [
            _short(fields[k]) if k in bare else f"{k}={_short(fields[k])}"
            for k in varying
            if k in fields  # a lexicon has no quantization: say nothing rather than "None"
        ]
        labels.append(", ".join(parts) or str(fields.get("corrector") or "all"))
    return labels


def names(table: pd.DataFrame) -> list[str]:
    """A short display name per row: what tells its configuration apart from the others in the
    table (e.g. "prompt, quantization=q8_0" vs "lexicon"), or the full label when there is one."""
    keys = [c for c in ("dataset", "config_id") if c in table] or ["config"]
    distinct = table.drop_duplicates(keys)
    full = [str(c) for c in distinct["config"]]
    if "dataset" in distinct and distinct["dataset"].nunique() > 1:
        full = [f"{c} [{d}]" for c, d in zip(full, distinct["dataset"], strict=True)]
    if len(set(full)) < len(full) and "config_id" in distinct:  # a label is not an identity
        full = [f"{c} [{i}]" for c, i in zip(full, distinct["config_id"], strict=True)]
    short = series_labels(distinct, []) if len(distinct) > 1 else full
    chosen = short if len(set(short)) == len(short) else full
    by_key = dict(zip(distinct[keys].itertuples(index=False), chosen, strict=True))
    return [by_key[k] for k in table[keys].itertuples(index=False)]


def _bits(quantization: str) -> tuple[float, str]:
    """Order quantizations from fewest bits to most: q2_k < q4_k_m < q8_0 = int8 < f16 < f32."""
    found = re.search(r"\d+", quantization)
    return (float(found.group()) if found else math.inf, quantization)


def _best_configs(frame: pd.DataFrame, limit: int) -> tuple[list[tuple[str, pd.DataFrame]], int]:
    """The `limit` configurations with the lowest corpus CER (a line each), and how many exist.
    CERs of different datasets are not on one scale, so each dataset's best come in turn: its
    first, then each one's second, and so on."""
    frame = frame.assign(plot_name=names(frame))
    groups = list(frame.groupby("plot_name", sort=False))

    def cer(group: pd.DataFrame) -> float:
        found = metrics.rate(group["char_edits"], group["reference_chars"])
        return math.inf if found is None else found

    def dataset(group: pd.DataFrame) -> str:
        return str(group["dataset"].iloc[0]) if "dataset" in group else ""

    groups.sort(key=lambda item: (cer(item[1]), item[0]))
    places: Counter[str] = Counter()
    ranked = []
    for name, group in groups:
        ranked.append((places[dataset(group)], str(name), group))
        places[dataset(group)] += 1
    ranked.sort(key=lambda item: item[0])  # stable: within a place, by CER
    return [(name, group) for _, name, group in ranked[:limit]], len(groups)


# --- the Pareto front -----------------------------------------------------------------------------


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats, when lower is better on both coordinates.

    A point is dominated when another is no worse on both and better on one; exact duplicates do
    not dominate each other, so both stay. Points with a NaN are never on the front. The indices
    come ordered by the first coordinate (seconds), as the front is drawn.
    """
    finite = [i for i, (x, y) in enumerate(points) if math.isfinite(x) and math.isfinite(y)]
    front: list[int] = []
    lowest = math.inf
    for i in sorted(finite, key=lambda i: (points[i][0], points[i][1])):
        if points[i][1] < lowest or (front and tuple(points[i]) == tuple(points[front[-1]])):
            front.append(i)
            lowest = points[i][1]
    return front


def pareto(summary: pd.DataFrame) -> Figure:
    """Corpus CER against seconds per sample, every configuration; the front marked and named.

    One panel per dataset: configurations are only comparable on the same samples.
    """
    summary = _numeric(summary)
    datasets = list(dict.fromkeys(summary["dataset"])) if len(summary) else [""]
    # One above the other: the names listed right of a panel would lie under a panel beside it.
    figure, axes = plt.subplots(len(datasets), 1, figsize=(11, 5 * len(datasets)), squeeze=False)
    figure.suptitle("CER vs seconds per sample (Pareto front in red: nothing is faster and better)")
    for axis, dataset in zip(axes.flat, datasets, strict=True):
        table = summary[summary["dataset"] == dataset] if len(summary) else summary
        table = table[table["cer"].notna()] if len(table) else table
        axis.set_title(_plain(dataset), fontsize=10)
        if table.empty:
            _message(axis, "no CER to plot (no configuration has a reference text)")
            continue
        table = table.sort_values(["cer", "seconds_per_sample"], kind="stable")
        seconds = table["seconds_per_sample"].astype(float).to_numpy()
        cer = table["cer"].astype(float).to_numpy()
        low = np.nan_to_num(cer - _column(table, "cer_low").astype(float).to_numpy(), nan=0.0)
        high = np.nan_to_num(_column(table, "cer_high").astype(float).to_numpy() - cer, nan=0.0)
        front = pareto_front(list(zip(seconds, cer, strict=True)))
        others = [i for i in range(len(table)) if i not in front]
        # Every point's 95% interval: a gap between points far smaller than it is no difference.
        axis.errorbar(seconds, cer, yerr=[low.clip(0), high.clip(0)], fmt="none",
                      ecolor="#95a5a6", elinewidth=1, capsize=2, zorder=1)  # fmt: skip
        if others:
            axis.scatter(
                seconds[others], cer[others], color="#7f8c8d", alpha=0.7, label="dominated"
            )
        axis.step(seconds[front], cer[front], where="post", color=FRONT, alpha=0.5)
        axis.scatter(seconds[front], cer[front], color=FRONT, zorder=3, label="Pareto front")
        labels = names(table)
        # Every point numbered (best CER first); the numbers are named beside the panel.
        # Four places round a point, in turn from left to right, so that the numbers of points
        # close together do not run into each other.
        turn = {int(i): k % 4 for k, i in enumerate(np.argsort(seconds, kind="stable"))}
        for number, (x, y) in enumerate(zip(seconds, cer, strict=True), start=1):
            color = FRONT if number - 1 in front else "#555555"
            offset = [(4, 3), (-12, -10), (4, -10), (-12, 3)][turn[number - 1]]
            axis.annotate(str(number), (x, y), xytext=offset, textcoords="offset points",
                          fontsize=7, color=color)  # fmt: skip
        legend = [f"{n}. {_plain(label, 60)}" for n, label in enumerate(labels, start=1)]
        axis.text(1.02, 1.0, "\n".join(legend), transform=axis.transAxes, va="top",
                  fontsize=7, family="monospace")  # fmt: skip
        positive = seconds[seconds > 0]
        if len(positive) == len(seconds) and positive.max() / positive.min() > 30:
            axis.set_xscale("log")  # from a lexicon's milliseconds to an LLM's seconds
        axis.margins(x=0.08, y=0.08)
        axis.set_xlabel("seconds per sample (OCR + correction, mean)")
        bottom = axis.get_ylim()[0]
        axis.set_ylabel(
            "corpus CER, 95% interval"
            + (f"\n(axis from {bottom:.3g}, not 0)" if bottom > 0 else "")
        )  # fmt: skip
        axis.grid(alpha=0.3)
        _legend(axis, loc="upper right")
    return figure


# --- by model settings ----------------------------------------------------------------------------


def by_quantization(summary: pd.DataFrame) -> Figure:
    """Corpus CER (with its 95% interval) and seconds per sample for each quantization, one line
    per LLM configuration that differs in anything else."""
    summary = _numeric(summary)
    figure, (cer_axis, speed_axis) = plt.subplots(1, 2, figsize=(11, 4))
    figure.suptitle("CER and speed by quantization (LLM correctors)")
    llm = _llm(summary)
    llm = llm[llm["quantization"].notna()] if len(llm) else llm
    if llm.empty:
        return _nothing(figure, NO_LLM)
    # A q8_0 made from a Q4_K_M is its own point ("q8_0, from Q4_K_M"), never a q8_0.
    llm = llm.assign(quantization_label=quantization_labels(llm))
    ladder = sorted(llm["quantization_label"].unique(), key=_bits)
    llm = llm.assign(plot_series=series_labels(llm, ["quantization", "made_from"]))
    for series, group in llm.groupby("plot_series"):
        group = group.sort_values("quantization_label", key=lambda q: q.map(ladder.index))
        x = group["quantization_label"].map(ladder.index).to_numpy()
        cer = group["cer"].astype(float).to_numpy()
        low = np.nan_to_num(cer - _column(group, "cer_low").astype(float).to_numpy(), nan=0.0)
        high = np.nan_to_num(_column(group, "cer_high").astype(float).to_numpy() - cer, nan=0.0)
        label = _plain(series, 60)
        cer_axis.errorbar(
            x, cer, yerr=[low.clip(0), high.clip(0)], marker="o", capsize=3, label=label
        )
        _speed(speed_axis, x, group, label)
    ticks = [_plain(q).replace(", ", "\n") for q in ladder]
    return _cer_and_speed(figure, ticks, "quantization (fewer bits to the left)")


SPEED_LABEL = "seconds per sample:\ncorrection (o, solid), OCR (x, dashed)"


def _speed(axis: Axes, x: Any, group: pd.DataFrame, label: str, **style: Any) -> None:
    """Correction and OCR seconds per sample apart, in one colour: a slow engine's seconds would
    otherwise hide what the corrector's settings change."""
    (line,) = axis.plot(x, _column(group, "correct_seconds_per_sample").astype(float).to_numpy(),
                        marker="o", label=label, **style)  # fmt: skip
    axis.plot(x, _column(group, "ocr_seconds_per_sample").astype(float).to_numpy(), marker="x",
              color=line.get_color(), alpha=0.6,
              **{"linestyle": "--", **style})  # fmt: skip


def _cer_and_speed(figure: Figure, ticks: list[str], xlabel: str) -> Figure:
    """The two panels' axes: categories on x, corpus CER and seconds per sample from 0 up."""
    cer_axis, speed_axis = figure.axes
    for axis in (cer_axis, speed_axis):
        axis.set_xticks(range(len(ticks)), ticks)
        axis.set_xlim(-0.5, len(ticks) - 0.5)
        axis.set_xlabel(xlabel)
        axis.grid(alpha=0.3)
    cer_axis.set_ylabel("corpus CER (95% interval)")
    speed_axis.set_ylabel(SPEED_LABEL)
    cer_axis.set_ylim(bottom=0)
    speed_axis.set_ylim(bottom=0)
    _legend(speed_axis, loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure


def by_repo(summary: pd.DataFrame) -> Figure:
    """Corpus CER (with its 95% interval) and seconds per sample for each model repo, one line per
    LLM configuration that differs in anything else than the model; each point names its
    quantization ("q8_0, from Q4_K_M" for a file quantized from a quantized one)."""
    summary = _numeric(summary)
    figure, (cer_axis, speed_axis) = plt.subplots(1, 2, figsize=(11, 4))
    figure.suptitle("CER and speed by model (LLM correctors)")
    llm = _llm(summary)
    llm = llm[_column(llm, "repo_id").notna()] if len(llm) else llm
    if llm.empty:
        return _nothing(figure, NO_LLM)
    repos = list(dict.fromkeys(llm["repo_id"].astype(str)))
    labels = quantization_labels(llm)
    # A repo's quantizations side by side around its tick, fewest bits to the left.
    spread = {
        (repo, label): repos.index(repo) + (k - (len(found) - 1) / 2) * 0.3
        for repo in repos
        for found in [
            sorted(
                {lb for r, lb in zip(llm["repo_id"], labels, strict=True) if r == repo}, key=_bits
            )
        ]  # fmt: skip
        for k, label in enumerate(found)
    }
    llm = llm.assign(
        plot_x=[spread[(str(r), lb)] for r, lb in zip(llm["repo_id"], labels, strict=True)],
        plot_series=series_labels(llm, ["repo_id", "quantization", "made_from"]),
        quantization_label=labels,
    )
    for series, group in llm.groupby("plot_series"):
        group = group.sort_values("plot_x", kind="stable")
        cer = group["cer"].astype(float).to_numpy()
        low = np.nan_to_num(cer - _column(group, "cer_low").astype(float).to_numpy(), nan=0.0)
        high = np.nan_to_num(_column(group, "cer_high").astype(float).to_numpy() - cer, nan=0.0)
        label = _plain(series, 60)
        cer_axis.errorbar(group["plot_x"], cer, yerr=[low.clip(0), high.clip(0)], marker="o",
                          capsize=3, linestyle="none", label=label)  # fmt: skip
        _speed(speed_axis, group["plot_x"].to_numpy(), group, label, linestyle="none")
        for axis, values in ((cer_axis, cer), (speed_axis, group["correct_seconds_per_sample"])):
            for x, y, text in zip(
                group["plot_x"], values, group["quantization_label"], strict=True
            ):
                axis.annotate(_plain(text).replace(", ", "\n"), (x, y), xytext=(4, 3),
                              textcoords="offset points",
                              fontsize=7)  # fmt: skip
    return _cer_and_speed(figure, [_plain(_short(r), 18) for r in repos], "model repo")


def _layers_name(value: float) -> str:
    return "all (-1)" if value < 0 else str(int(value))


def by_gpu_layers(summary: pd.DataFrame) -> Figure:
    """Seconds per sample for each number of GPU layers asked for.

    What was asked is not always what ran: where the effective count is 0 while layers were
    requested (a CPU-only llama.cpp build), the points get a red cross and the chart says so in
    words, because such a chart otherwise suggests offload made no difference.
    """
    summary = _numeric(summary)
    figure, axis = plt.subplots(figsize=(9, 4.2))
    axis.set_title("Speed by GPU layers requested (LLM correctors): correction and OCR apart")
    llm = _llm(summary)
    llm = llm[_column(llm, "gpu_layers").notna()] if len(llm) else llm
    if llm.empty:
        return _nothing(figure, NO_LLM)
    requested = llm["gpu_layers"].astype(float)
    effective = _column(llm, "gpu_layers_effective").astype(float)
    # -1 (llama.cpp's "all layers") goes to the right end, where it belongs by meaning.
    order = sorted(requested.unique(), key=lambda v: (v < 0, v))
    position = requested.map(order.index)
    llm = llm.assign(plot_series=series_labels(llm, ["gpu_layers"]), plot_x=position)
    for series, group in llm.groupby("plot_series"):
        group = group.sort_values("plot_x")
        _speed(axis, group["plot_x"].to_numpy(), group, _plain(series, 60))
    not_effective = llm[(requested != 0) & (effective == 0)]
    unknown = llm[(requested != 0) & effective.isna()]
    if len(not_effective):
        axis.scatter(
            not_effective["plot_x"],
            not_effective["correct_seconds_per_sample"],
            marker="x",
            s=120,
            color=BAD,
            zorder=4,
            label="offload not effective (0 layers ran on a GPU)",
        )
    points = zip(
        llm["plot_x"], llm["correct_seconds_per_sample"], requested, effective, strict=True
    )  # fmt: skip
    for x, seconds, asked, ran in points:
        if not math.isnan(ran) and ran != asked:
            axis.annotate(
                f"{int(ran)} on GPU",
                (x, seconds),
                xytext=(5, -12),
                textcoords="offset points",
                fontsize=7,
                color=BAD,
            )
    notes = []
    if len(not_effective):
        notes.append(
            f"Offload not effective: {len(not_effective)} of {len(llm)} configurations asked for"
            " GPU layers\nbut ran with 0 on a GPU (CPU-only llama.cpp build): these are CPU speeds."
        )
    if len(unknown):
        notes.append(
            f"{len(unknown)} configuration{'s' if len(unknown) > 1 else ''} did not report how"
            " many layers ran on a GPU: offload unverified."
        )
    if notes:
        axis.text(
            0.5,
            0.97,
            "\n".join(notes),
            transform=axis.transAxes,
            ha="center",
            va="top",
            fontsize=8,
            color=BAD,
            bbox={"boxstyle": "round", "facecolor": "#fff3cd", "edgecolor": BAD},
        )
    axis.set_xticks(range(len(order)), [_layers_name(v) for v in order])
    axis.set_xlabel("GPU layers requested")
    axis.set_ylabel(SPEED_LABEL)
    highest = max(float(llm["correct_seconds_per_sample"].max()),
                  float(llm["ocr_seconds_per_sample"].max()), 1e-9)  # fmt: skip
    axis.set_ylim(0, highest * (1.6 if notes else 1.1))
    axis.grid(alpha=0.3)
    _legend(axis, loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure


# --- what the correctors did ----------------------------------------------------------------------


def words_fixed_broken(summary: pd.DataFrame) -> Figure:
    """Words each corrector configuration fixed (wrong in the OCR, right after) and broke (right
    in the OCR, wrong after), best net effect on top."""
    summary = _numeric(summary)
    table = _corrected(summary)
    figure, axis = plt.subplots(figsize=(9, 1.2 + 0.45 * max(len(table), 2)))
    axis.set_title("Words fixed vs broken per corrector configuration")
    if table.empty:
        return _nothing(figure, NO_CORRECTOR)
    table = table.assign(
        plot_name=names(table), plot_net=table["words_fixed"] - table["words_broken"]
    )
    table = table.sort_values(
        ["plot_net", "plot_name"], ascending=[True, False]
    )  # barh draws bottom-up
    y = np.arange(len(table))
    fixed = axis.barh(y + 0.2, table["words_fixed"], 0.4, color=GOOD, label="fixed")
    broken = axis.barh(y - 0.2, table["words_broken"], 0.4, color=BAD, label="broken")
    axis.bar_label(fixed, fontsize=7, padding=2)
    axis.bar_label(broken, fontsize=7, padding=2)
    axis.set_yticks(y, [_plain(name, 50) for name in table["plot_name"]], fontsize=7)
    axis.set_xlabel("words (over all samples)")
    axis.set_xlim(0, max(1, int(table[["words_fixed", "words_broken"]].to_numpy().max())) * 1.15)
    axis.grid(alpha=0.3, axis="x")
    _legend(axis, loc="lower right")
    return figure


def corrected_vs_raw(frame: pd.DataFrame) -> Figure:
    """Each sample's CER after correction (y) against raw OCR (x): below the diagonal the
    corrector helped, above it hurt. The legend counts both, per configuration."""
    frame = _numeric(frame)
    figure, axis = plt.subplots(figsize=(7, 6))
    axis.set_title("Per-sample CER: corrected vs raw OCR")
    table = _corrected(frame)
    if table.empty:
        return _nothing(figure, NO_CORRECTOR + ": corrected text = raw OCR")
    scored = table[table["cer"].notna() & table["raw_cer"].notna()]
    left_out = len(table) - len(scored)
    if left_out:
        axis.set_title(
            "Per-sample CER: corrected vs raw OCR "
            f"({left_out} rows with an empty reference left out)"
        )
    if scored.empty:
        return _nothing(figure, "no sample has a reference text to score")
    groups, total = _best_configs(scored, MAX_LINES)
    for name, group in groups:
        raw, cer = group["raw_cer"].astype(float), group["cer"].astype(float)
        better, worse = int((cer < raw).sum()), int((cer > raw).sum())
        same = len(group) - better - worse
        axis.scatter(
            raw,
            cer,
            s=18,
            alpha=0.7,
            label=f"{_plain(name, 50)}\n"
            f"{better} better (below), {worse} worse (above), {same} same",
        )
    top = max(float(scored["raw_cer"].max()), float(scored["cer"].max()), 0.01) * 1.05
    axis.plot(
        [0, top], [0, top], color="#555", linestyle="--", linewidth=1, label="unchanged (y = x)"
    )
    axis.set_xlim(0, top)
    axis.set_ylim(0, top)
    axis.set_aspect("equal")
    axis.set_xlabel("CER of the raw OCR")
    axis.set_ylabel("CER after correction")
    axis.grid(alpha=0.3)
    if total > len(groups):
        axis.text(0.02, 0.98, f"the {len(groups)} best of {total} configurations", va="top",
                  transform=axis.transAxes, fontsize=8)  # fmt: skip
    _legend(axis, loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure


# --- per-sample views -----------------------------------------------------------------------------


def cer_per_sample(frame: pd.DataFrame) -> Figure:
    """Each sample's CER, worst first, one line per configuration (at most 60 samples and the
    best 10 configurations shown). Samples without a reference (NaN CER) are left out."""
    frame = _numeric(frame)
    figure, axis = plt.subplots(figsize=(9, 3.6))
    groups, total = _best_configs(frame, MAX_LINES)
    shown = f" (the {len(groups)} best of {total} configurations)" if total > len(groups) else ""
    axis.set_title("CER per sample" + shown)
    if frame["cer"].notna().sum() == 0:
        return _nothing(figure, "no sample has a reference text to score")
    for name, group in groups:
        ordered = group["cer"].dropna().sort_values(ascending=False).head(60)
        axis.plot(range(len(ordered)), ordered.to_numpy(), marker="o", ms=3, label=_plain(name, 60))
    axis.set_xlabel("samples, worst first")
    axis.set_ylabel("CER")
    axis.grid(alpha=0.3)
    _legend(axis, loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure


def cer_histogram(frame: pd.DataFrame) -> Figure:
    """How per-sample CERs spread, one histogram per configuration (the best 10)."""
    frame = _numeric(frame)
    figure, axis = plt.subplots(figsize=(7, 3.6))
    groups, total = _best_configs(frame, MAX_LINES)
    shown = f" (the {len(groups)} best of {total} configurations)" if total > len(groups) else ""
    axis.set_title("Distribution of per-sample CER" + shown)
    cers = frame["cer"].dropna()
    if cers.empty:
        return _nothing(figure, "no sample has a reference text to score")
    bins = np.linspace(0, max(float(cers.max()), 0.01), 21).tolist()
    # Outlines, not filled bars: ten filled histograms on top of each other hide one another.
    style = {"histtype": "step", "linewidth": 1.5} if len(groups) > 1 else {"alpha": 0.7}
    for name, group in groups:
        axis.hist(group["cer"].dropna(), bins=bins, label=_plain(name, 60), **style)
    axis.set_xlabel("CER per sample")
    axis.set_ylabel("samples")
    _legend(axis, loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure


# --- slices ---------------------------------------------------------------------------------------


def ranking(summary: pd.DataFrame) -> dict[str, list[str]]:
    """Per dataset, its configurations best first (a summary is sorted by CER within a dataset;
    CERs of two datasets are not on one scale)."""
    return {str(d): list(group["config"]) for d, group in summary.groupby("dataset", sort=False)}


SLICE_CONFIGS = 8  # lines per panel: the configurations with the lowest corpus CER on its dataset


def by_slice(
    sliced: pd.DataFrame,
    key: str,
    order: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
) -> Figure:
    """Corpus CER (with its 95% interval) per value of a sample meta key ("meta.degrade"), one
    line per configuration, one panel per dataset: where in the data each one fails. `order`:
    per dataset, its configurations best first (the run's summary, `ranking`), of which the
    first few are drawn; a plain list orders every dataset alike."""
    sliced = _numeric(sliced)
    datasets = list(dict.fromkeys(sliced["dataset"])) if len(sliced) else [""]
    # One above the other: each legend lies right of its panel, where a panel beside it would be.
    figure, axes = plt.subplots(len(datasets), 1, figsize=(9, 4.2 * len(datasets)), squeeze=False)
    figure.suptitle(f"CER by {key} (95% intervals)")
    for axis, dataset in zip(axes.flat, datasets, strict=True):
        table = sliced[sliced["dataset"] == dataset] if len(sliced) else sliced
        axis.set_title(_plain(dataset), fontsize=10)
        if table.empty:
            _message(axis, "no configuration to plot")
            continue
        values = slice_order(table["slice"].astype(str))
        present = list(dict.fromkeys(table["config"]))
        best = order.get(dataset, ()) if isinstance(order, Mapping) else (order or ())
        ranked = [c for c in best if c in present] + [c for c in present if c not in best]
        shown = ranked[:SLICE_CONFIGS]
        table = table.assign(plot_name=names(table))
        for config in shown:
            group = table[table["config"] == config]
            group = group.assign(plot_x=group["slice"].astype(str).map(values.index))
            group = group.sort_values("plot_x")
            cer = group["cer"].astype(float).to_numpy()
            low = np.nan_to_num(cer - group["cer_low"].astype(float).to_numpy(), nan=0.0)
            high = np.nan_to_num(group["cer_high"].astype(float).to_numpy() - cer, nan=0.0)
            axis.errorbar(group["plot_x"], cer, yerr=[low.clip(0), high.clip(0)], marker="o",
                          capsize=3, label=_plain(group["plot_name"].iloc[0], 50))  # fmt: skip
        axis.set_xticks(range(len(values)), [_plain(v, 14) for v in values])
        axis.set_xlim(-0.5, len(values) - 0.5)
        axis.set_xlabel(key)
        axis.set_ylabel("corpus CER (95% interval)")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        more = table["config"].nunique() - len(shown)
        if more > 0:
            axis.text(0.01, 0.98, f"the {len(shown)} lowest-CER configurations; {more} more in "
                      "the table", transform=axis.transAxes, va="top", fontsize=7)  # fmt: skip
        _legend(axis, loc="upper left", bbox_to_anchor=(1.02, 1))
    return figure
