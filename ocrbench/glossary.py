"""What each column of a summary means: one definition, shown wherever the column appears (the
report's page, summary.md, the terminal) so that no number stands without its meaning."""

from __future__ import annotations

import html
from collections.abc import Iterable

COLUMNS = {
    "dataset": "the dataset's name",
    "config": "engine + corrector, with the parameters that differ from their defaults",
    "samples": "samples scored",
    "CER [95% CI]": "corpus CER: total character edits / total reference characters (not a mean "
    "of per-sample rates), with a 95% bootstrap interval over samples",
    "raw CER": "the corpus CER of the engine's own output, before any correction",
    "WER [95% CI]": "corpus WER: word edits / reference words, with its 95% bootstrap interval",
    "mean CER": "the plain mean of the per-sample CERs: a short line weighs as much as a page, so "
    "it can tell the opposite story to corpus CER",
    "BoW error": "bag-of-words error, reading order ignored: over the multisets of words, "
    "max(reference words not matched, output words not matched) / reference words",
    "flex. char. accuracy": "flexible character accuracy (Clausner et al. 2020): lines matched "
    "across reading orders, then 1 - character errors / reference characters",
    "grapheme CER": "CER counted over grapheme clusters (a base character with its combining "
    "marks is one); shown where it differs from CER",
    "s/sample": "mean seconds per sample: OCR + correction (one-off loads of a model or a word "
    "list left out)",
    "OCR s": "mean seconds of OCR per sample, as measured when the page was read (a page read "
    "from the cache keeps the seconds of that first reading)",
    "correct s": "mean seconds of correction per sample, one-off loads of a model or a word list "
    "left out (they happen once per process, on whichever page comes first); a correction from "
    "the cache keeps the seconds of the run that made it (its process's share of the cores)",
    "p95 s": "the 95th percentile of seconds per sample",
    "vs raw OCR [95% CI]": "the change of corpus CER against the configuration's own raw OCR on "
    "the same samples, a paired 95% bootstrap interval, and the verdict: better (all of it "
    "below 0), worse (above), or no evidence either way",
    "vs raw": "the change of corpus CER against its own raw OCR, and the paired verdict",
    "samples better/worse/same": "samples whose character edits the corrector lowered / raised / "
    "left as they were",
    "fixed/broken": "reference words wrong in the raw OCR that the corrector made right / right "
    "ones it made wrong",
    "preference": "mean over samples of +1 (fewer character edits than the raw OCR), -1 (more) "
    "or 0 (as many): how often correction helps, whatever the size",
    "samples with a reply rejected": "samples where a guard kept (part of) the text as read "
    "because the model's reply changed too much or ran too long (prompt's max_edit_ratio, "
    "max_length_ratio): correction that was tried and thrown away, not correction that found "
    "nothing",
    "quantization": 'the model file\'s quantization; "q8_0, from Q4_K_M": made from a quantized '
    "file, so it holds no more than Q4_K_M's information",
    "GPU layers asked/ran": "layers asked to go on the GPU / layers llama.cpp put there",
}


def defined(columns: Iterable[str]) -> list[tuple[str, str]]:
    """(column, definition) for each column given that has one, in the given order."""
    return [(name, COLUMNS[name]) for name in columns if name in COLUMNS]


def html_list(columns: Iterable[str]) -> str:
    items = "".join(
        f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>"
        for name, text in defined(columns)
    )
    return f'<dl class="columns">{items}</dl>'


def markdown_list(columns: Iterable[str]) -> str:
    return "\n".join(f"- **{name}**: {text}" for name, text in defined(columns)) + "\n"
