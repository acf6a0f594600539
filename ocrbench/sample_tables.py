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
from rapidfuzz.distance import Levenshtein

from ocrbench import metrics, pages
from ocrbench.cache import file_hash
from ocrbench.errors import OcrbenchError

SHOWN_CHARS = 3000  # of each text in the sample tables: a whole ICDAR document would drown the page
THUMBNAIL = (260, 360)  # pixels, at most: enough to recognise the page, small enough to embed
# diff_html's marks, coloured, for a notebook cell (the report's page has them in its stylesheet)
MARKS = "<style>del{background:#fdd} ins{background:#dfd;text-decoration:none}</style>"


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


GAP = 0.4  # the cost of a line on one side only; a pair costs its normalised edit distance


def _align(reference: list[str], raw: list[str]) -> list[tuple[int | None, int | None]]:
    """Reference and OCR lines paired by least total cost (Needleman-Wunsch over lines): a pair
    costs its normalised edit distance, a line left alone GAP, so lines unlike each other (more
    than 2 x GAP apart) are shown apart rather than side by side."""
    n, m = len(reference), len(raw)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                cost[i][j] = GAP * (i + j)
                continue
            pair = Levenshtein.normalized_distance(reference[i - 1], raw[j - 1])
            cost[i][j] = min(cost[i - 1][j - 1] + pair, cost[i - 1][j] + GAP,
                             cost[i][j - 1] + GAP)  # fmt: skip
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j:
            pair = Levenshtein.normalized_distance(reference[i - 1], raw[j - 1])
            if math.isclose(cost[i][j], cost[i - 1][j - 1] + pair):
                pairs.append((i - 1, j - 1))
                i, j = i - 1, j - 1
                continue
        if i and math.isclose(cost[i][j], cost[i - 1][j] + GAP):
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def aligned_lines(reference: str, raw: str, corrected: str) -> list[tuple[str, str, str]]:
    """(reference, raw, corrected) line by line: blank lines left out, the OCR's lines paired
    with the reference's (`_align`), "" where one side has no line. A corrector that changed the
    number of lines leaves no line pairing: then the whole texts, as one "line"."""
    ref, before, after = ([line for line in text.split("\n") if line.strip()]
                          for text in (reference, raw, corrected))  # fmt: skip
    if len(before) != len(after):
        return [(reference, raw, corrected)]
    return [
        (
            "" if i is None else ref[i],
            "" if j is None else before[j],
            "" if j is None else after[j],
        )
        for i, j in _align(ref, before)
    ]


def _sample(r: Any, images: Images, with_dataset: bool = False) -> str:
    texts = [_text(v) for v in (r.reference, r.ocr_text, r.hypothesis)]
    clipped = [_clip(text) for text in texts]
    left_out = max(count for _, count in clipped)
    lines = aligned_lines(*(text for text, _ in clipped))
    image = images.get((str(r.dataset), str(r.sample_id)), "")
    head = (
        f'<td rowspan="{len(lines)}">{html.escape(str(r.sample_id))}<br>'
        f"<small>{html.escape((f'{r.dataset}: ' if with_dataset else '') + str(r.config))}"
        "</small><br>"
        f"CER {_number(r.raw_cer)} → {_number(r.cer)}"
        + (f'<br><img class="page" alt="page {html.escape(str(r.sample_id))}" src="{image}">'
           if image else "")
        + (f'<p class="note">… {left_out} more characters</p>' if left_out else "")
        + "</td>"
    )  # fmt: skip
    rows = []
    untouched = all(raw == corrected for _, raw, corrected in lines)
    for number, (reference, raw, corrected) in enumerate(lines):
        # Only the lines the corrector changed; a dash in the first row when it changed none.
        edits = diff_html(raw, corrected) if raw != corrected else ""
        if untouched and number == 0:
            edits = '<span class="note">— no edit</span>'
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
    several = "dataset" in rows and rows["dataset"].nunique() > 1  # then each row names its own
    body = "".join(_sample(r, images or {}, several) for r in rows.itertuples())
    return f'<table class="samples">{header}{body}</table>'


LEGEND = (
    '<p class="note">Errors: <del>struck</del> is in the reference and missing here, '
    "<ins>green</ins> is wrong here. The corrector's edits: <del>struck</del> is what it removed "
    "from the raw OCR, <ins>green</ins> what it put there, on the lines it changed. Each OCR line "
    "is beside the reference line it reads (blank where one side has none). Texts are shown as "
    "written and marked character by character: the metrics count edits after the run's "
    "normalisation (NFC, whitespace collapsed; case and punctuation too where folded), so a "
    "marked space, or a marked comma under --strip-punctuation, may count nothing.</p>"
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
    said = ""
    if len(top) > n:  # say what is left out, as the worst samples do
        said = (f'<p class="note">{len(top)} (configuration, sample) pairs made worse; the {n} '
                "that gained most edits:</p>")  # fmt: skip
    return said + sample_rows(top.head(n), images)


def _thumbnail(path: Path) -> str | None:
    try:
        image = pages.page(path)  # the page the engines read: upright, transparency on white
    except (OcrbenchError, OSError, ValueError):  # gone, unreadable: no thumbnail
        return None
    image.thumbnail(THUMBNAIL)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


class PageImages:
    """Thumbnails of samples' pages, found through the datasets a run's manifest names (loaded
    when first asked for, where they still are); text-only samples and moved datasets have none,
    and nor has a page whose bytes are not those its row was read from (`image_sha256`)."""

    def __init__(self, manifest: dict[str, Any], rows: pd.DataFrame | None = None) -> None:
        from ocrbench.results import manifest_datasets

        folders = manifest_datasets(manifest)
        self._paths = {str(f.get("name")): str(f["path"]) for f in folders if f.get("path")}
        self._images: dict[str, dict[str, Path]] = {}
        self._read: dict[tuple[str, str], str] = {}
        if rows is not None and "image_sha256" in rows:
            self._read = {
                (str(r.dataset), str(r.sample_id)): str(r.image_sha256)
                for r in rows[["dataset", "sample_id", "image_sha256"]].itertuples()
                if isinstance(r.image_sha256, str)
            }

    def get(self, key: tuple[str, str], default: str = "") -> str:
        dataset, sample_id = key
        if dataset not in self._images:
            self._images[dataset] = self._load(dataset)
        path = self._images[dataset].get(sample_id)
        if path is None or not self._unchanged(key, path):
            return default
        found = _thumbnail(path)
        return default if found is None else found

    def _unchanged(self, key: tuple[str, str], path: Path) -> bool:
        """Whether the page is the one its row was read from (rows from before they recorded
        it: nothing to check against)."""
        read = self._read.get(key)
        try:
            return read is None or file_hash(path) == read
        except OSError:
            return False

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
