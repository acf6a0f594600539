"""The summary as the terminal shows it: the columns that answer "did correction help, and at what
cost" in 120 columns, configuration names wrapped rather than cut, and what each column means under
it. `--wide` prints every column of the report's table instead."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from typing import Any

import pandas as pd

from ocrbench import glossary, report, results

WIDTH = 120
NARROW = ["dataset", "config", "samples", "CER [95% CI]", "raw CER", "vs raw", "s/sample"]
HEADERS = {"samples": "n"}  # shorter headers, for narrow columns
NUMERIC = {"samples", "raw CER", "s/sample"}


def _vs_raw(summary: pd.DataFrame) -> list[str]:
    columns = zip(summary["corrector"], summary["cer_change"], summary["verdict"], strict=True)
    return [
        "" if corrector == "identity" or change != change  # NaN: no rate
        else f"{float(change):+.4f} {str(verdict).replace(' either way', '')}"
        for corrector, change, verdict in columns
    ]  # fmt: skip


def narrow_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The narrow columns; no dataset column when there is one dataset (`text` names it above)."""
    table = report.summary_table(summary)
    if (summary["corrector"] != "identity").any():
        table["vs raw"] = _vs_raw(summary)
    single = summary["dataset"].nunique() == 1
    return table[[c for c in NARROW if c in table and not (single and c == "dataset")]]


def text(
    summary: pd.DataFrame,
    *,
    wide: bool = False,
    width: int = WIDTH,
    by: str | None = None,
    manifest: dict[str, Any] | None = None,
) -> str:
    """The summary table, then one line per column saying what it means, then the notes a reader
    needs beside it (seconds not measured here; with the run's `manifest`, rows resumed and the
    training sets); with `by` (a summary by a meta key), its values after the configuration."""
    if wide:
        table = report.summary_table(summary)
        if by:
            table.insert(2, by, summary["slice"])
        body = table.to_string(index=False)
    else:
        table = narrow_table(summary)
        if by:
            table.insert(list(table.columns).index("config") + 1, by, summary["slice"])
        body = _fixed_width(table, width)
        if "dataset" not in table:
            body = f"dataset: {summary['dataset'].iloc[0]}\n{body}"
    legend = [
        textwrap.fill(f"{HEADERS.get(name, name)}: {meaning}", width, subsequent_indent="  ")
        for name, meaning in glossary.defined(table.columns)
        if name not in ("dataset", "config")
    ]
    more = "" if wide else "\n(--wide: every column; the report defines them all)"
    notes = [] if by else results.blank_notes(summary)  # a slice's counts are not the run's
    if manifest is None:
        notes += list(filter(None, [results.seconds_note(summary)]))
    else:
        notes += [*report.seconds_notes(summary, manifest), *report.trained_on(manifest)]
    said = "".join("\n" + textwrap.fill(f"note: {note}", width) for note in notes)
    return body + "\n\n" + "\n".join(legend) + more + said


def _columns(text: str) -> int:
    """Display columns: an East Asian wide character (CJK, fullwidth) takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    space = " " * max(0, width - _columns(text))
    return space + text if right else text + space


def _wrap(name: str, width: int) -> list[str]:
    """A name in lines of at most `width` display columns, broken after a space, "(" or ","
    where it can be (the characters themselves are kept: the name reads as written)."""
    chunks = re.findall(r"[^ (,]*[ (,]?", name)
    lines = [""]
    for chunk in filter(None, chunks):
        if lines[-1].strip() and _columns(lines[-1]) + _columns(chunk.rstrip()) > width:
            lines.append("  ")  # a continuation: indented
        lines[-1] += chunk
        while _columns(lines[-1]) > width:  # one chunk longer than the column: cut it
            cut = len(lines[-1])
            while cut > 1 and _columns(lines[-1][:cut]) > width:
                cut -= 1
            lines[-1:] = [lines[-1][:cut], lines[-1][cut:]]
    return [line.rstrip() for line in lines]


CONFIG_FLOOR = 24  # columns a configuration name keeps however long the dataset's name is
WRAPPED = ("dataset", "config")  # the columns that wrap; the figures never do


def _fixed_width(table: pd.DataFrame, width: int) -> str:
    """Columns padded to their widest cell; `dataset` and `config` share what is left of `width`
    and wrap (the dataset's name first giving way, down to a third of it)."""
    cells = [[str(value) for value in row] for row in table.itertuples(index=False)]
    headers = [HEADERS.get(name, name) for name in table.columns]
    widths = [
        max([_columns(h), *(_columns(row[i]) for row in cells)]) for i, h in enumerate(headers)
    ]
    names = list(table.columns)
    wrapped = [names.index(c) for c in WRAPPED if c in names]
    fixed = sum(w for i, w in enumerate(widths) if i not in wrapped) + 2 * (len(widths) - 1)
    room = width - fixed
    if wrapped and sum(widths[i] for i in wrapped) > room:
        if "dataset" in names:
            at = names.index("dataset")
            widths[at] = min(widths[at], max(len("dataset"), room // 3))
            room -= widths[at]
        if "config" in names:
            at = names.index("config")
            widths[at] = max(min(CONFIG_FLOOR, widths[at]), min(widths[at], room))

    def lines(row: list[str]) -> list[str]:
        pieces = [_wrap(cell, widths[i]) if i in wrapped else [cell] for i, cell in enumerate(row)]
        out = []
        for depth in range(max(map(len, pieces))):
            parts = [
                _pad(piece[depth] if depth < len(piece) else "", widths[i],
                     right=table.columns[i] in NUMERIC)
                for i, piece in enumerate(pieces)
            ]  # fmt: skip
            out.append("  ".join(parts).rstrip())
        return out

    rendered = lines(headers)
    for row in cells:
        rendered += lines(row)
    return "\n".join(rendered)
