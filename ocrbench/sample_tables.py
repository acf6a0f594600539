"""The report's sample tables: the worst samples of the best configuration and the samples a
corrector made worse, each shown line by line beside its page. For each line: the reference, the
raw OCR with its errors marked, the corrector's own edits (raw -> corrected) and the corrected text
with its errors marked, so a reader sees both what is wrong and what the corrector did about it."""

from __future__ import annotations

import base64
import difflib
import html
import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from ocrbench import metrics
from ocrbench.errors import OcrbenchError

SHOWN_CHARS = 3000  # of each text in the sample tables: a whole ICDAR document would drown the page
THUMBNAIL = (260, 360)  # pixels, at most: enough to recognise the page, small enough to embed


def diff_html(reference: str, hypothesis: str) -> str:
    """The hypothesis with what differs from the reference marked: <del> missing, <ins> wrong."""
    out = []
    matcher = difflib.SequenceMatcher(None, reference, hypothesis, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            out.append(html.escape(hypothesis[b0:b1]))
            continue
        if a1 > a0:
            out.append(f"<del>{html.escape(reference[a0:a1])}</del>")
        if b1 > b0:
            out.append(f"<ins>{html.escape(hypothesis[b0:b1])}</ins>")
    return "".join(out)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _number(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _clip(text: str) -> tuple[str, int]:
    """The start of a long text and how many characters were left out."""
    return (text, 0) if len(text) <= SHOWN_CHARS else (text[:SHOWN_CHARS], len(text) - SHOWN_CHARS)


def aligned_lines(reference: str, raw: str, corrected: str) -> list[tuple[str, str, str]]:
    """(reference, raw, corrected) line by line when the three have as many lines; else the
    whole texts as one "line" (a page whose OCR merged or split lines has no line alignment)."""
    lines = [text.split("\n") for text in (reference, raw, corrected)]
    if len({len(found) for found in lines}) == 1:
        return list(zip(*lines, strict=True))
    return [(reference, raw, corrected)]


def _sample(r: Any, images: Images) -> str:
    texts = [_text(v) for v in (r.reference, r.ocr_text, r.hypothesis)]
    clipped = [_clip(text) for text in texts]
    left_out = max(count for _, count in clipped)
    lines = aligned_lines(*(text for text, _ in clipped))
    image = images.get((str(r.dataset), str(r.sample_id)), "")
    head = (
        f'<td rowspan="{len(lines)}">{html.escape(str(r.sample_id))}<br>'
        f"<small>{html.escape(str(r.config))}</small><br>"
        f"CER {_number(r.raw_cer)} → {_number(r.cer)}"
        + (f'<br><img class="page" alt="page {html.escape(str(r.sample_id))}" src="{image}">'
           if image else "")
        + (f'<p class="note">… {left_out} more characters</p>' if left_out else "")
        + "</td>"
    )  # fmt: skip
    rows = []
    for number, (reference, raw, corrected) in enumerate(lines):
        edits = diff_html(raw, corrected) if raw != corrected else '<span class="note">—</span>'
        rows.append(
            "<tr>" + (head if number == 0 else "")
            + f"<td><pre>{html.escape(reference)}</pre></td>"
            f"<td><pre>{diff_html(reference, raw)}</pre></td>"
            f'<td class="edits"><pre>{edits}</pre></td>'
            f"<td><pre>{diff_html(reference, corrected)}</pre></td></tr>"
        )  # fmt: skip
    return '<tbody class="sample">' + "".join(rows) + "</tbody>"


def sample_rows(rows: pd.DataFrame, images: Images | None = None) -> str:
    header = (
        "<thead><tr><th>sample</th><th>reference</th><th>raw OCR (errors)</th>"
        "<th>corrector's edits (raw → corrected)</th><th>corrected (errors)</th></tr></thead>"
    )
    body = "".join(_sample(r, images or {}) for r in rows.itertuples())
    return f'<table class="samples">{header}{body}</table>'


LEGEND = (
    '<p class="note">Errors: <del>struck</del> is in the reference and missing here, '
    "<ins>green</ins> is wrong here. The corrector's edits: <del>struck</del> is what it removed "
    "from the raw OCR, <ins>green</ins> what it put there; — where it changed nothing. Lines side "
    "by side when the three texts have as many lines.</p>"
)


def worst_samples(frame: pd.DataFrame, n: int = 10, images: Images | None = None) -> str:
    """The n samples with the most character edits under each dataset's best configuration: what
    is still wrong with the best there is (samples without an error are left out)."""
    parts = []
    for dataset, group in frame.groupby("dataset", sort=False):
        rates = {
            config: metrics.rate(rows["char_edits"], rows["reference_chars"])
            for config, rows in group.groupby("config", sort=False)
        }
        best = min(rates, key=lambda config: (rates[config] is None, rates[config] or 0.0))
        rows = group[group["config"] == best]
        wrong = rows[rows["char_edits"] > 0]
        worst = wrong.sort_values(["char_edits", "sample_id"], ascending=[False, True]).head(n)
        if worst.empty:
            ids = ", ".join(html.escape(str(i)) for i in rows["sample_id"].head(n))
            more = ", …" if len(rows) > n else ""
            table = f'<p class="note">Every sample is right: {ids}{more}.</p>'
        else:
            table = (
                f'<p class="note">{len(rows) - len(wrong)} of {len(rows)} samples have no error; '
                f"the {len(worst)} with the most edits:</p>{sample_rows(worst, images)}"
            )
        parts.append(f"<h3>{html.escape(str(dataset))}: {html.escape(str(best))}</h3>{table}")
    return "".join(parts)


def hurt_samples(frame: pd.DataFrame, n: int = 10, images: Images | None = None) -> str:
    """The n (configuration, sample) pairs a corrector made worse, by how many edits it added."""
    corrected = frame[frame["corrector"] != "identity"]
    worse = corrected[corrected["char_edits"] > corrected["raw_char_edits"]]
    if worse.empty:
        if corrected.empty:
            return '<p class="note">No corrector in this run.</p>'
        return '<p class="note">No corrector made any sample worse.</p>'
    added = worse["char_edits"] - worse["raw_char_edits"]
    top = worse.assign(added=added).sort_values(["added", "sample_id"], ascending=[False, True])
    return sample_rows(top.head(n), images)


def _thumbnail(path: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.thumbnail(THUMBNAIL)
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=70)
    except (OSError, UnidentifiedImageError, ValueError):  # gone, unreadable: no thumbnail
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


class PageImages:
    """Thumbnails of samples' pages, found through the datasets a run's manifest names (loaded
    when first asked for, where they still are); text-only samples and moved datasets have none."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        folders = [manifest["dataset"]] if isinstance(manifest.get("dataset"), dict) else []
        folders += [d for d in manifest.get("datasets", []) if isinstance(d, dict)]
        self._paths = {str(f.get("name")): f.get("path") for f in folders if f.get("path")}
        self._images: dict[str, dict[str, Path]] = {}

    def get(self, key: tuple[str, str], default: str = "") -> str:
        dataset, sample_id = key
        if dataset not in self._images:
            self._images[dataset] = self._load(dataset)
        path = self._images[dataset].get(sample_id)
        found = None if path is None else _thumbnail(path)
        return default if found is None else found

    def _load(self, dataset: str) -> dict[str, Path]:
        from ocrbench import datasets

        if dataset not in self._paths:
            return {}
        try:
            loaded = datasets.load(self._paths[dataset], skip_bad=True)
        except OcrbenchError:
            return {}
        return {s.id: Path(s.image) for s in loaded.samples if s.image is not None}


# (dataset, sample id) -> an <img> data URI: a dict, or PageImages that finds them when asked
Images: TypeAlias = "Mapping[tuple[str, str], str] | PageImages"
