"""The summary as the terminal shows it: the columns that answer "did correction help, and at what
cost" in 120 columns, configuration names wrapped rather than cut, and what each column means under
it. `--wide` prints every column of the report's table instead."""

from __future__ import annotations

import re
import textwrap

import pandas as pd

from ocrbench import glossary, report

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
    summary: pd.DataFrame, *, wide: bool = False, width: int = WIDTH, by: str | None = None
) -> str:
    """The summary table, then one line per column saying what it means; with `by` (a summary
    by a meta key), its values in a column after the configuration."""
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
    return body + "\n\n" + "\n".join(legend) + more


def _wrap(name: str, width: int) -> list[str]:
    """A configuration name in lines of at most `width`, broken after a space, "(" or "," where it
    can be (the characters themselves are kept: the name reads as written)."""
    chunks = re.findall(r"[^ (,]*[ (,]?", name)
    lines = [""]
    for chunk in filter(None, chunks):
        if lines[-1].strip() and len(lines[-1]) + len(chunk.rstrip()) > width:
            lines.append("  ")  # a continuation: indented
        lines[-1] += chunk
        while len(lines[-1]) > width:  # one chunk longer than the column
            lines[-1:] = [lines[-1][:width], lines[-1][width:]]
    return [line.rstrip() for line in lines]


def _fixed_width(table: pd.DataFrame, width: int) -> str:
    """Columns padded to their widest cell; `config` takes what is left of `width` and wraps."""
    cells = [[str(value) for value in row] for row in table.itertuples(index=False)]
    headers = [HEADERS.get(name, name) for name in table.columns]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    wrap = list(table.columns).index("config") if "config" in table.columns else None
    if wrap is not None:
        others = sum(w for i, w in enumerate(widths) if i != wrap) + 2 * (len(widths) - 1)
        widths[wrap] = max(len("config"), min(widths[wrap], width - others))

    def lines(row: list[str]) -> list[str]:
        pieces = [_wrap(cell, widths[i]) if i == wrap else [cell] for i, cell in enumerate(row)]
        out = []
        for depth in range(max(map(len, pieces))):
            parts = [
                (piece[depth] if depth < len(piece) else "").rjust(widths[i])
                if table.columns[i] in NUMERIC else
                (piece[depth] if depth < len(piece) else "").ljust(widths[i])
                for i, piece in enumerate(pieces)
            ]  # fmt: skip
            out.append("  ".join(parts).rstrip())
        return out

    rendered = lines(headers)
    for row in cells:
        rendered += lines(row)
    return "\n".join(rendered)
