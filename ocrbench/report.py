"""Reports on a finished run: one self-contained `index.html` (summary, the best configuration per
time budget, every chart as an embedded PNG, worst samples with their differences marked, the
manifest; no external URL at all) and `summary.md` for a README or a pull request comment.

Everything that comes from data (sample ids, texts, configuration names, the manifest) is
HTML-escaped.

A run with a training set also shows what each corrector learned from it (the manifest's `fits`:
the most frequent confusions, OCR -> truth, with their counts and costs) and how often each was
used in this run's corrections (found in the rows' `changes`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ocrbench import glossary, results, rundir
from ocrbench.correctors.channel import edited_runs
from ocrbench.errors import OcrbenchError
from ocrbench.sample_tables import (  # noqa: F401  (SHOWN_CHARS, diff_html, MARKS: the report's too)
    LEGEND,
    MARKS,
    SHOWN_CHARS,
    PageImages,
    diff_html,
    hurt_samples,
    worst_samples,
)

if TYPE_CHECKING:  # matplotlib loads only when a chart is drawn: printing a table stays quick
    from matplotlib.figure import Figure

BUDGETS: tuple[float | None, ...] = (0.1, 0.5, 1.0, 5.0, None)  # seconds per sample; None: any
# Most of a report's cost is in parts drawn from the rows alone: the charts (matplotlib and seven
# PNGs) and the sample tables' marked differences. They are kept in the run folder, keyed by the
# rows' content, and made again only when that changes; the rest of the page is always made fresh.
# Bump REPORT_FORMAT when the code of those parts (here or in plots) changes.
REPORT_CACHE = results.REPORT_CACHE
REPORT_FORMAT = 5  # 3: per-dataset rankings, stacked panels, thumbnails; 4: made-worse counts;
# 5: configurations sharing a label told apart by their ids in the charts
SECTIONS = ("charts", "worst", "hurt")
CONFUSIONS_SHOWN = 20  # per trained configuration: the most frequent of what it learned


def _number(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _signed(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:+.4f}"


def _ci(value: Any, low: Any, high: Any) -> str:
    if pd.isna(value):
        return "n/a"
    return f"{value:.4f} [{_number(low)}, {_number(high)}]"


def _layers(requested: Any, effective: Any) -> str:
    if pd.isna(requested):
        return ""
    ran = "?" if pd.isna(effective) else str(int(effective))
    return f"{int(requested)}/{ran}"


def _offload(summary: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """GPU layers requested and effective, as numbers (NaN where a configuration has none)."""
    if "gpu_layers" not in summary:
        nothing = pd.Series(float("nan"), index=summary.index)
        return nothing, nothing
    requested = pd.to_numeric(summary["gpu_layers"], errors="coerce")
    return requested, pd.to_numeric(summary["gpu_layers_effective"], errors="coerce")


def offload_not_effective(summary: pd.DataFrame) -> pd.DataFrame:
    """The configurations that asked for GPU layers and ran none on a GPU."""
    requested, effective = _offload(summary)
    return summary[requested.notna() & (requested != 0) & (effective == 0)]


def offload_unverified(summary: pd.DataFrame) -> pd.DataFrame:
    """The configurations that asked for GPU layers and did not say how many ran on a GPU."""
    requested, effective = _offload(summary)
    return summary[requested.notna() & (requested != 0) & effective.isna()]


def _optional(summary: pd.DataFrame, name: str) -> pd.Series:
    """A summary column results from before it existed lack, shown as "n/a"."""
    if name not in summary:
        return pd.Series("n/a", index=summary.index)
    return summary[name].map(_number)


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with readable columns, as printed, put in Markdown and in HTML."""
    table = pd.DataFrame(
        {
            "dataset": summary["dataset"],
            "config": summary["config"],
            "samples": summary["samples"],
            "CER [95% CI]": [_ci(r.cer, r.cer_low, r.cer_high) for r in summary.itertuples()],
            "raw CER": summary["raw_cer"].map(_number),
            "WER [95% CI]": [_ci(r.wer, r.wer_low, r.wer_high) for r in summary.itertuples()],
            "mean CER": _optional(summary, "mean_cer"),
            "BoW error": _optional(summary, "bow_error"),
            "flex. char. accuracy": _optional(summary, "flex_accuracy"),
            "s/sample": summary["seconds_per_sample"].map(lambda v: _number(v, 3)),
            "OCR s": summary["ocr_seconds_per_sample"].map(lambda v: _number(v, 3)),
            "correct s": summary["correct_seconds_per_sample"].map(lambda v: _number(v, 3)),
            "p95 s": summary["p95_seconds"].map(lambda v: _number(v, 3)),
        }
    )
    if "grapheme_cer" in summary and (summary["grapheme_cer"] - summary["cer"]).abs().max() > 1e-9:
        table["grapheme CER"] = summary["grapheme_cer"].map(_number)  # combining marks present
    if (summary["corrector"] != "identity").any() and "verdict" in summary:
        # What the corrector did to its own raw OCR, paired on the same samples.
        table["vs raw OCR [95% CI]"] = [
            "" if r.corrector == "identity"
            else f"{_signed(r.cer_change)} [{_signed(r.change_low)}, {_signed(r.change_high)}] "
            f"{r.verdict}"
            for r in summary.itertuples()
        ]  # fmt: skip
        table["samples better/worse/same"] = [
            "" if r.corrector == "identity"
            else f"{r.samples_better}/{r.samples_worse}/{r.samples_same}"
            for r in summary.itertuples()
        ]  # fmt: skip
    if (summary["corrector"] != "identity").any():
        table["fixed/broken"] = [f"{r.words_fixed}/{r.words_broken}" for r in summary.itertuples()]
        table["preference"] = summary["preference"].map(
            lambda v: "n/a" if pd.isna(v) else f"{v:+.2f}"
        )
    if "rejected" in summary and (summary["rejected"] > 0).any():
        table["samples with a reply rejected"] = summary["rejected"].map(str)
    if "quantization" in summary and summary["quantization"].notna().any():
        # "q8_0, from Q4_K_M": a file `models quantize` made from a quantized one holds that one's
        # information, whatever its name says.
        table["quantization"] = results.quantization_labels(summary)
    if "gpu_layers" in summary and summary["gpu_layers"].notna().any():
        table["GPU layers asked/ran"] = [
            _layers(r, e)
            for r, e in zip(summary["gpu_layers"], summary["gpu_layers_effective"], strict=True)
        ]
    return table


NO_CER = "no configuration has a CER (no reference text)"


def best_per_budget(
    summary: pd.DataFrame, budgets: Sequence[float | None] = BUDGETS
) -> pd.DataFrame:
    """For each dataset and time budget, the lowest-CER configuration whose mean seconds per sample
    (OCR + correction) fit the budget; "none" where nothing is that fast (or nothing has a CER)."""
    rows = []
    for dataset, group in summary.groupby("dataset", sort=False):
        scored = group[group["cer"].notna()]
        for budget in budgets:
            fits = scored if budget is None else scored[scored["seconds_per_sample"] <= budget]
            label = "unlimited" if budget is None else f"≤ {budget:g} s"
            if fits.empty:
                why = "none is this fast" if len(scored) else NO_CER
                rows.append([dataset, label, why, "", ""])
                continue
            best = fits.sort_values(["cer", "seconds_per_sample"], kind="stable").iloc[0]
            rows.append([dataset, label, best["config"], _number(best["cer"]),
                         _number(best["seconds_per_sample"], 3)])  # fmt: skip
    return pd.DataFrame(
        rows, columns=["dataset", "budget per sample", "best config", "CER", "s/sample"]
    )


def markdown_table(table: pd.DataFrame) -> str:
    def cell(value: Any) -> str:  # Markdown renderers pass HTML through: escape it too
        return html.escape(str(value), quote=False).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(map(cell, table.columns)) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def markdown(summary: pd.DataFrame) -> str:
    """The summary table in Markdown."""
    return markdown_table(summary_table(summary))


def notes(summary: pd.DataFrame, manifest: dict[str, Any]) -> list[str]:
    """What a summary's reader must know beside its table (summary.md, the notebooks): samples
    left out, seconds not measured by this run, the training sets."""
    return [
        *left_out(manifest), *results.blank_notes(summary), *seconds_notes(summary, manifest),
        *trained_on(manifest),
    ]  # fmt: skip


def seconds_notes(summary: pd.DataFrame, manifest: dict[str, Any]) -> list[str]:
    """Where some seconds were not measured by this run: read from the cache, or resumed."""
    notes = list(filter(None, [results.seconds_note(summary)]))
    resumed = (manifest.get("work") or {}).get("rows_resumed")
    if resumed:
        notes.append(f"{resumed} rows were resumed from an earlier run into this folder: their "
                     "seconds are that run's")  # fmt: skip
    return notes


def trained_on(manifest: dict[str, Any]) -> list[str]:
    """A line per training set a run's datasets were given (path, size, hash, and any overlap with
    the test set that was allowed): the table says only "trained", and which data a figure rests
    on belongs beside it."""
    entries = _trainings(manifest)
    return [
        f"{e.get('dataset')}: training set {e.get('path')} ({e.get('samples')} samples, "
        f"{_left_out(e)}sha256 {str(e.get('sha256'))[:12]})" + _overlap(e)
        for e in entries
    ]


def _left_out(entry: dict[str, Any]) -> str:
    """The training samples the fit could not use (--skip-bad: their OCR failed), which `samples`
    counts (invalid samples, skipped on load, it does not)."""
    skipped = [
        s for s in entry.get("skipped") or [] if isinstance(s, dict) and s.get("phase") == "ocr"
    ]
    if not skipped:
        return ""
    return f"{len(skipped)} of them left out: {skipped[0].get('reason')}; "


def _trainings(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in manifest.get("training") or [] if isinstance(e, dict)]


def _overlap(entry: dict[str, Any]) -> str:
    """What the manifest says of a training set's overlap with its test set."""
    from ocrbench.training import references_note

    said = ""
    if entry.get("shared_references"):
        said += "; " + references_note(entry["shared_references"], str(entry.get("shared_example")))
    if entry.get("overlap_allowed"):
        said += (f"; {entry['overlap_allowed']} of its samples are test data (allowed): these "
                 "figures are not on held-out data")  # fmt: skip
    return said


def left_out(manifest: dict[str, Any]) -> list[str]:
    """A line per dataset some of whose samples the figures do not cover: invalid samples and
    samples whose OCR failed, left out with --skip-bad (the manifest says why, sample by sample)."""
    lines = []
    for entry in results.manifest_datasets(manifest):
        skipped = [s for s in entry.get("skipped") or [] if isinstance(s, dict)]
        if not skipped:
            continue
        ids = [str(s.get("id") or f"line {s.get('line')}") for s in skipped]
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        lines.append(
            f"{len(skipped)} samples of {entry.get('name')} were left out (--skip-bad; the "
            f"manifest says why): {shown}"
        )
    return lines


def summary_markdown(summary: pd.DataFrame, title: str, notes: Sequence[str] = ()) -> str:
    """What `summary.md` holds: the summary (after `notes`: samples left out), what its columns
    mean, and the best configuration per time budget."""
    table = summary_table(summary)
    return (
        f"## ocrbench: {title}\n\n"
        + "".join(f"**{note}**\n\n" for note in notes)
        + markdown_table(table)
        + "\nWhat the columns mean:\n\n"
        + glossary.markdown_list(table.columns)
        + "\n### Best configuration per time budget\n\n"
        + markdown_table(best_per_budget(summary))
    )


def _png(figure: Figure, title: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    from ocrbench import plots

    plots.plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'


def _edited_spans(before: str, after: str) -> list[tuple[int, int, int, int]]:
    """Where `after` differs from `before`, character by character: (i1, i2, j1, j2) per edited
    span, neighbouring edits joined ("cl" -> "d" is one span, not a replace and a delete)."""
    return [(r[0][0], r[-1][1], r[0][2], r[-1][3]) for r in edited_runs(before, after)]


def _uses(before: str, after: str, span: tuple[int, int, int, int], ocr: str, truth: str) -> bool:
    """Whether an edited span is the confusion ocr -> truth undone: the confusion less what its two
    sides share at the start and the end ("tb" -> "th" edits "b" -> "h" after a "t")."""
    lead = len(os.path.commonprefix([ocr, truth]))
    tail = len(os.path.commonprefix([ocr[lead:][::-1], truth[lead:][::-1]]))
    i1, i2, j1, j2 = span
    return (
        before[i1:i2] == ocr[lead : len(ocr) - tail]
        and after[j1:j2] == truth[lead : len(truth) - tail]
        and i1 >= lead
        and before[i1 - lead : i1] == ocr[:lead]
        and before[i2 : i2 + tail] == ocr[len(ocr) - tail :]
    )


def confusions_used(changes: Sequence[Any], confusions: Sequence[tuple[str, str]]) -> list[int]:
    """How often each learned confusion (ocr, truth) was made as an edit in these rows' changes
    (each row's JSON list of [before, after] word pairs), whichever source proposed the reading:
    each edit counts once, for the most specific listed confusion that matches it ("0ve" -> "ove"
    rather than "0" -> "o" as well), so the column adds up to the edits made. Made, not
    necessarily right: a change can be wrong."""
    used = [0] * len(confusions)
    for listed in changes:
        try:
            pairs = json.loads(listed) if isinstance(listed, str) else []
        except ValueError:
            continue
        for pair in pairs if isinstance(pairs, list) else []:
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
            ):
                continue
            before, after = pair
            for span in _edited_spans(before, after):
                matching = [
                    k
                    for k, (ocr, truth) in enumerate(confusions)
                    if ocr != truth and _uses(before, after, span, ocr, truth)
                ]
                if matching:
                    most = max(matching, key=lambda k: (len(confusions[k][0]), -k))
                    used[most] += 1
    return used


def _characters(text: Any) -> str:
    """A confusion's side, escaped, with spaces visible and nothing said as such."""
    text = str(text)
    if not text:
        return '<span class="note">nothing</span>'
    return f"<code>{html.escape(text.replace(' ', '␣'))}</code>"


def learned_section(frame: pd.DataFrame, manifest: dict[str, Any]) -> str:
    """The training sets, and per trained configuration what it learned and used; "" when the run
    had no training set."""
    trainings = [t for t in manifest.get("training") or [] if isinstance(t, dict)]
    fits = [f for f in manifest.get("fits") or [] if isinstance(f, dict)]
    if not trainings and not fits:
        return ""
    sets = "".join(
        f"<tr><td>{html.escape(str(t.get('dataset', '')))}</td>"
        f"<td>{html.escape(str(t.get('path', '')))}</td>"
        f"<td>{html.escape(str(t.get('samples', '')))}</td>"
        f"<td><code>{html.escape(str(t.get('sha256', '')))}</code></td></tr>"
        for t in trainings
    )
    parts = [
        "<table><tr><th>test dataset</th><th>training set</th><th>samples</th><th>sha256</th></tr>"
        f"{sets}</table>"
    ]
    untrained = sorted({str(f.get("config", "")) for f in fits if not f.get("trained")})
    if untrained:
        parts.append(
            '<p class="note">Learned nothing from it (these correctors do not learn): '
            + ", ".join(html.escape(name) for name in untrained)
            + ".</p>"
        )
    for fit in fits:
        learned = fit.get("learned")
        if not fit.get("trained") or not isinstance(learned, dict):
            continue
        heading = (
            f"<h3>{html.escape(str(fit.get('dataset', '')))}: "
            f"{html.escape(str(fit.get('config', '')))}</h3>"
        )
        if "examples" in learned and "confusions" not in learned:  # a prompt's few-shot lines
            parts.append(
                f'{heading}<p class="note">{html.escape(str(learned.get("examples")))} few-shot '
                "examples from the training lines, up to "
                f"{html.escape(str(learned.get('per piece', '?')))} shown per piece (those most "
                "like it).</p>"
            )
            continue
        listed = [c for c in learned.get("confusions") or [] if isinstance(c, dict)]
        total = learned.get("rules") if _numeric(learned.get("rules")) else len(listed)
        shown = listed[:CONFUSIONS_SHOWN]
        rows = frame[
            (frame["dataset"].astype(str) == str(fit.get("dataset")))
            & (frame["config_id"].astype(str) == str(fit.get("config_id")))
        ]
        pairs = [(str(c.get("ocr", "")), str(c.get("truth", ""))) for c in shown]
        used = confusions_used(list(rows["changes"]) if "changes" in rows else [], pairs)
        table = "".join(
            f"<tr><td>{_characters(ocr)}</td><td>{_characters(truth)}</td>"
            f"<td>{html.escape(str(c.get('count', '')))}</td>"
            f"<td>{html.escape(_number(c.get('cost'), 2) if _numeric(c.get('cost')) else '')}</td>"
            f"<td>{n}</td></tr>"
            for (ocr, truth), c, n in zip(pairs, shown, used, strict=True)
        )
        note = (
            f"Learned from {html.escape(str(learned.get('pairs', '?')))} (OCR, reference) pairs; "
            f"{html.escape(str(learned.get('vocabulary', '?')))} words of vocabulary; "
            f"{total} confusions (learned rules), the {len(shown)} most frequent below. "
            "<em>used</em>: how "
            f"often a correction in this run's {len(rows)} rows made this edit (each edit counted "
            "once, for the most specific confusion listed; made, not necessarily right), whichever "
            "source proposed the reading: the hand-made table, a learned whole-word misreading or "
            "this rule. A reading the table also reaches keeps the lower of the two prices, so "
            "the cost shown is the most the edit cost here."
        )
        joins = learned.get("joins")
        if isinstance(joins, dict):
            note += (
                f" Tokens OCR split that make a word: {html.escape(str(joins.get('seen', '?')))}"
                f" in training, joined in the reference {html.escape(str(joins.get('right', '?')))}"
                f" times, so joins are {'proposed' if joins.get('used') else 'not proposed'}."
            )
        shaped = learned.get("abbreviations")
        if isinstance(shaped, dict):
            note += (
                " Words of 4-5 letters before a full stop that the English list lacks:"
                f" {html.escape(str(shaped.get('seen', '?')))} in training, kept as printed"
                f" {html.escape(str(shaped.get('kept', '?')))} times, so they are"
                f" {'left alone as abbreviations' if shaped.get('left alone') else 'corrected'}."
            )
        if _numeric(learned.get("prior_scale")):
            note += (
                " The hand-made table's costs, calibrated on the rules it shares with the data,"
                f" are multiplied by {_number(learned.get('prior_scale'), 2)} here."
            )
        rewrites = [r for r in learned.get("rewrites") or [] if isinstance(r, dict)]
        if rewrites:
            note += (
                " Characters the references never hold, rewritten everywhere: "
                + ", ".join(
                    f"{_characters(r.get('ocr', ''))} -> {_characters(r.get('truth', ''))}"
                    f" (right {html.escape(str(r.get('right', '?')))} of "
                    f"{html.escape(str(r.get('printed', '?')))} times)"
                    for r in rewrites
                )
                + "."
            )
        parts.append(
            f'{heading}<p class="note">{note}</p>'
            + (
                "<table><tr><th>OCR</th><th>truth</th><th>count</th><th>cost</th><th>used</th>"
                f"</tr>{table}</table>"
                if shown
                else '<p class="note">It learned no confusion.</p>'
            )
        )
    return "".join(parts)


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def slices_section(
    frame: pd.DataFrame, summary: pd.DataFrame, keys: Sequence[str], run_dir: Path
) -> str:
    """Per sample meta key: the summary per value (also written to summary-by-KEY.md) and its
    chart. A key no sample has is said in a note, not an error: the rows are still worth a page."""
    parts = []
    for key in keys:
        from ocrbench import plots  # here: a page without slices never needs matplotlib

        try:
            sliced = results.summary(frame, by=key)
        except OcrbenchError as error:
            parts.append(f'<h3>By {html.escape(key)}</h3><p class="note">{html.escape(str(error))}'
                         "</p>")  # fmt: skip
            continue
        table = summary_table(sliced)
        table.insert(2, key, sliced["slice"])
        name = key.removeprefix("meta.")
        rundir.write_text(run_dir / f"summary-by-{name}.md",
                          f"## by {key}\n\n" + markdown_table(table))  # fmt: skip
        chart = plots.by_slice(sliced, key, plots.ranking(summary))
        narrow = table[[c for c in ("dataset", "config", key, "samples", "CER [95% CI]",
                                    "raw CER", "vs raw OCR [95% CI]") if c in table]]  # fmt: skip
        parts.append(
            f"<h3>By {html.escape(key)}</h3>{_png(chart, f'CER by {key}')}"
            f"<details><summary>the table (also summary-by-{html.escape(name)}.md)</summary>"
            f"{narrow.to_html(index=False, escape=True)}</details>"
        )
    return "".join(parts)


def default_charts(frame: pd.DataFrame, summary: pd.DataFrame) -> list[tuple[str, Figure]]:
    from ocrbench import plots

    # A chart over an axis that has one value among the LLM rows (one model, one GPU setting)
    # shows a single column of points: left out. With no LLM row each says why it is empty.
    by_axis = [
        ("CER and speed by model", "repo_id", plots.by_repo),
        ("CER and speed by quantization", "quantization", plots.by_quantization),
        ("Speed by GPU layers", "gpu_layers", plots.by_gpu_layers),
    ]
    return [
        ("CER vs seconds per sample, Pareto front", plots.pareto(summary)),
        *[
            (title, chart(summary))
            for title, axis, chart in by_axis
            if plots.llm_axis_values(summary, axis) != 1
        ],  # fmt: skip
        ("Words fixed vs broken", plots.words_fixed_broken(summary)),
        ("Per-sample CER, corrected vs raw", plots.corrected_vs_raw(frame)),
        ("CER per sample", plots.cer_per_sample(frame)),
        ("CER distribution", plots.cer_histogram(frame)),
    ]


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:.85em;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;text-align:left}
th{background:#f3f3f3} pre{white-space:pre-wrap;margin:0;font-size:.85em}
table.samples td{max-width:22em;overflow-wrap:anywhere} tbody.sample{border-top:3px solid #999}
img.page{max-width:260px;margin:.5em 0;border:1px solid #ccc} td.edits{background:#f8f8ff}
del{background:#fdd;text-decoration:line-through} ins{background:#dfd;text-decoration:none}
img{max-width:100%;display:block;margin:.5em 0 1.5em} .note{color:#666;font-size:.9em}
.warn{background:#fff3cd;border:1px solid #c0392b;padding:.5em 1em;color:#7a1f14}
nav a{margin-right:1em} .scroll{overflow-x:auto}
dl.columns{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;
font-size:.85em;margin:.5em 0 1.5em} dl.columns dt{font-weight:600} dl.columns dd{margin:0}
"""


# The summary's columns shown first on the page; the rest are one click away.
AT_A_GLANCE = (
    "dataset", "config", "samples", "CER [95% CI]", "raw CER", "vs raw OCR [95% CI]",
    "samples better/worse/same", "s/sample", "OCR s", "correct s", "quantization",
    "GPU layers asked/ran",
)  # fmt: skip


def _page(run_dir: Path, frame: pd.DataFrame, summary: pd.DataFrame, sections: dict[str, str],
          manifest: dict[str, Any]) -> str:  # fmt: skip
    learned = learned_section(frame, manifest)
    if learned:
        learned = (
            '<h2 id="learned">What the correctors learned</h2>\n<p class="note">From the '
            "training set: what its OCR got wrong most often (OCR → truth), how often, the cost "
            f"the corrector gives it, and how often it was used here.</p>\n{learned}\n"
        )
    name = html.escape(run_dir.resolve().name)
    table = summary_table(summary)
    single = table["dataset"].nunique() == 1  # then named in the heading, not in every row
    glance = table[[c for c in AT_A_GLANCE if c in table and not (single and c == "dataset")]]
    of = f" of {html.escape(str(table['dataset'].iloc[0]))}" if single and len(table) else ""
    norm = ", ".join(sorted(map(str, frame["normalization"].unique())))
    ineffective, unverified = offload_not_effective(summary), offload_unverified(summary)
    notes = [*left_out(manifest), *results.blank_notes(summary), *seconds_notes(summary, manifest)]
    notes += [
        _overlap(e).removeprefix("; ") for e in _trainings(manifest) if e.get("overlap_allowed")
    ]
    warning = "".join(f'<p class="warn">{html.escape(note)}</p>' for note in notes)
    if len(ineffective):
        warning += (
            f'<p class="warn">GPU offload was not effective: {len(ineffective)} configuration(s) '
            "asked for GPU layers but ran with 0 layers on a GPU (this llama.cpp build has no GPU "
            "support). Their speeds are CPU speeds; the GPU layers chart marks them.</p>"
        )
    if len(unverified):
        warning += (
            f'<p class="warn">GPU offload unverified: {len(unverified)} configuration(s) asked '
            "for GPU layers but did not report how many ran on a GPU.</p>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ocrbench: {name}</title>
<style>{STYLE}</style></head><body>
<h1>ocrbench report: {name}</h1>
<nav><a href="#summary">Summary</a><a href="#budgets">Time budgets</a>
<a href="#charts">Charts</a><a href="#worst">Worst samples</a><a href="#hurt">Made worse</a>
{'<a href="#learned">Learned</a>' if learned else ""}<a href="#manifest">Manifest</a></nav>
<p class="note">Text normalisation: {html.escape(norm)}. "n/a": rows written before that figure
existed.</p>
{warning}
<h2 id="summary">Summary{of}, best CER first</h2>
{glance.to_html(index=False, escape=True)}
<details><summary>Every column</summary><div class="scroll">
{table.to_html(index=False, escape=True)}</div></details>
<details open><summary>What the columns mean</summary>{glossary.html_list(table.columns)}</details>
<h2 id="budgets">Best configuration per time budget</h2>
<p class="note">The lowest-CER configuration whose mean seconds per sample fit the budget.</p>
{best_per_budget(summary).to_html(index=False, escape=True)}
<h2 id="charts">Charts</h2>
<p class="note">Charts name configurations by what differs between them; the summary has full
names.</p>
{sections["charts"]}
{'<h2 id="slices">Slices</h2>' + sections["slices"] if sections.get("slices") else ""}
<h2 id="worst">Worst samples of the best configuration</h2>
{LEGEND}
{sections["worst"]}
<h2 id="hurt">Samples a corrector made worse</h2>
{sections["hurt"]}
{learned}<h2 id="manifest">Manifest</h2>
<pre>{html.escape(json.dumps(manifest, indent=2, ensure_ascii=False, default=str))}</pre>
</body></html>
"""


def rows_key(frame: pd.DataFrame) -> str | None:
    """A digest of everything the kept parts are made from: the rows' columns, their types and
    every value in order, and the report's format; None where a value cannot be hashed."""
    try:
        rows = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    except TypeError:  # a column of lists or dicts: make every part every time
        return None
    digest = hashlib.sha256(f"ocrbench report {REPORT_FORMAT}\n".encode())
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(rows.tobytes())
    return digest.hexdigest()


def _kept_sections(path: Path, key: str) -> dict[str, str] | None:
    """The parts kept for `key`, or None when the file is missing, unreadable, of another shape
    or for other rows."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError covers bad JSON and bad UTF-8
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    sections = {}
    for name in SECTIONS:
        part = entry.get(name)
        if not isinstance(part, str):
            return None
        sections[name] = part
    return sections


def _sections(
    frame: pd.DataFrame, summary: pd.DataFrame, charts: list[tuple[str, Figure]] | None,
    manifest: dict[str, Any],
) -> dict[str, str]:  # fmt: skip
    charts = default_charts(frame, summary) if charts is None else charts
    pages = PageImages(manifest, frame)
    return {
        "charts": "".join(
            f"<h3>{html.escape(heading)}</h3>{_png(figure, heading)}" for heading, figure in charts
        ),
        "worst": worst_samples(frame, images=pages),
        "hurt": hurt_samples(frame, images=pages),
    }


def render(
    run_dir: str | Path, charts: list[tuple[str, Figure]] | None = None, by: Sequence[str] = ()
) -> Path:
    """Write `index.html` and `summary.md` into a run directory; returns the HTML's path.

    The default charts and the sample tables are reused from the run folder when the rows have not
    changed; charts given by the caller are drawn as given and leave what is kept alone. `by`
    (and a sweep spec's `slices`) adds a section per sample meta key: summary and chart."""
    run_dir = Path(run_dir)
    frame = results.load(run_dir)
    manifest = results.load_manifest(run_dir)
    summary = results.summary(frame)
    spec = manifest.get("spec")
    declared = spec.get("slices") if isinstance(spec, dict) else None
    keys = list(dict.fromkeys([*by, *map(str, declared if isinstance(declared, list) else [])]))
    title = run_dir.resolve().name
    rundir.write_text(
        run_dir / "summary.md", summary_markdown(summary, title, notes(summary, manifest))
    )
    entry = None  # what to keep for the next render, when it was made here
    if charts is not None:
        sections = _sections(frame, summary, charts, manifest)
    else:
        key = rows_key(frame)
        kept = None if key is None else _kept_sections(run_dir / REPORT_CACHE, key)
        sections = kept if kept is not None else _sections(frame, summary, None, manifest)
        if key is not None and kept is None:
            entry = {"key": key, **sections}
    sections = {**sections, "slices": slices_section(frame, summary, keys, run_dir)}
    path = rundir.write_text(
        run_dir / "index.html", _page(run_dir, frame, summary, sections, manifest)
    )
    if entry is not None:  # last: the page the user asked for comes before a faster next time
        try:
            rundir.write_text(run_dir / REPORT_CACHE, json.dumps(entry))
        except OcrbenchError as error:  # the report is written; only the next one is slower
            print(f"ocrbench: warning: {error}; the next report draws its charts again",
                  file=sys.stderr)  # fmt: skip
    return path
