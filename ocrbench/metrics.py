"""Edit counts, CER and WER: one sample at a time, over a corpus, and with bootstrap intervals.

Conventions, so that every number in a report means one thing:

- A character is a Unicode code point after NFC, so a decomposed "e" + combining acute is the same
  one character as a precomposed "é". NFC always comes first; the declared `Normalization` steps
  follow, and both reference and hypothesis go through the same steps.
- Under `collapse_whitespace` (the default) every run of whitespace, newlines and tabs included,
  becomes one space and the ends are trimmed: a line break counts as one character, a space. With it
  off, every whitespace character counts as written.
- Words are the whitespace-separated tokens of the normalised text.
- Edits are substitutions + deletions + insertions of a minimal alignment (jiwer's).
- An empty reference has no rate: `cer`/`wer` are None, never 0, and its edits are the hypothesis's
  length (all insertions). Corpus figures still count those edits in the numerator (a hallucinated
  line on a blank page is an error), with nothing added to the denominator. A corpus whose
  references are all empty has no corpus rate either: `corpus` reports None.
- Corpus CER is total edits over total reference characters, not a mean of per-sample rates; the
  mean is also given, under a name that says so.
- Bag-of-words errors ignore reading order: of the multisets of reference and hypothesis words,
  `matched` = the words both hold (counted with multiplicity); errors = max(reference words not
  matched, hypothesis words not matched), so a wrong word is one error, as in WER, and a page read
  in another column order has none. The rate is errors over reference words.
- Grapheme CER counts edits between sequences of grapheme clusters instead of code points: a base
  character with the combining marks (Unicode categories M*) that follow it, and characters joined
  by a zero-width joiner, are one (what dinglehopper counts). It differs from CER only where NFC
  leaves combining marks (polytonic Greek, Devanagari, ...).
- Flexible character accuracy (`flexible.py` defines it step by step) matches reference and OCR
  lines in any order, then counts character errors within the matched pairs and every character of
  an unmatched line: 1 - errors / reference characters (line breaks not counted).
"""

from __future__ import annotations

import math
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

import jiwer
import numpy as np
from rapidfuzz.distance import Levenshtein

from ocrbench import flexible

_CHARS = jiwer.ReduceToListOfListOfChars()
_WORDS = jiwer.ReduceToListOfListOfWords()


@lru_cache(maxsize=1)
def _punctuation_table() -> dict[int, None]:
    """Every code point of a Unicode punctuation category (P*), mapped to nothing."""
    return {
        code: None
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)).startswith("P")
    }


@dataclass(frozen=True)
class Normalization:
    """How texts are made comparable before counting; its `name()` goes into every result row."""

    casefold: bool = False
    collapse_whitespace: bool = True
    strip_punctuation: bool = False

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, bool):
                raise ValueError(f"{field.name} must be true or false, not {value!r}")

    def name(self) -> str:
        """E.g. "nfc+ws" (the default) or "nfc+ws+casefold+nopunct"."""
        steps = ["nfc"]
        if self.collapse_whitespace:
            steps.append("ws")
        if self.casefold:
            steps.append("casefold")
        if self.strip_punctuation:
            steps.append("nopunct")
        return "+".join(steps)

    def apply(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        if self.casefold:
            # Folding can leave text that is not NFC (e.g. "ǰ" folds to j + combining caron).
            text = unicodedata.normalize("NFC", text.casefold())
        if self.strip_punctuation:
            # Removed, not replaced by a space: "don't" and "dont" are the same word.
            text = text.translate(_punctuation_table())
        if self.collapse_whitespace:
            text = " ".join(text.split())
        return text

    def lines(self, text: str) -> list[str]:
        """The text's lines, each normalised as `apply` does a text; empty lines left out."""
        return [line for line in map(self.apply, text.splitlines()) if line.strip()]


@dataclass(frozen=True)
class Score:
    """One hypothesis against its reference, after normalisation."""

    reference_chars: int
    char_edits: int
    cer: float | None  # None when the reference is empty
    reference_words: int
    word_edits: int
    wer: float | None  # None when the reference has no words
    hypothesis_chars: int
    bow_errors: int = 0  # bag-of-words errors: reading order ignored
    reference_graphemes: int = 0
    grapheme_edits: int = 0
    flex_errors: int = 0  # flexible character accuracy's errors: lines matched in any order
    flex_chars: int = 0  # its reference characters (line breaks not counted)


# Cached (a few entries) because a run scores each (reference, text) pair again for the preference
# in `word_effect`, and aligning a long page costs seconds.
@lru_cache(maxsize=32)
def _char_edits(reference: str, hypothesis: str) -> int:
    if not reference or not hypothesis:  # all insertions or all deletions; some jiwers raise here
        return len(reference) + len(hypothesis)
    out = jiwer.process_characters(reference, hypothesis, _CHARS, _CHARS)
    return out.substitutions + out.deletions + out.insertions


def _word_alignment(reference: list[str], hypothesis: list[str]) -> jiwer.WordOutput:
    return jiwer.process_words(" ".join(reference), " ".join(hypothesis), _WORDS, _WORDS)


def _word_edits(reference: list[str], hypothesis: list[str]) -> int:
    if not reference or not hypothesis:
        return len(reference) + len(hypothesis)
    out = _word_alignment(reference, hypothesis)
    return out.substitutions + out.deletions + out.insertions


def rate(edits: Iterable[Any], lengths: Iterable[Any]) -> float | None:
    """Total edits over total length: every corpus figure (CER, WER, bag-of-words, ...) and, with
    one item each, a sample's. None, the one "no rate", where the lengths add up to 0 or a figure
    is missing (None or NaN: a result row from before that column existed)."""
    edits, lengths = list(edits), list(lengths)
    if any(value is None or value != value for value in (*edits, *lengths)):
        return None
    total = sum(lengths)
    return float(sum(edits)) / float(total) if total else None


def score(reference: str, hypothesis: str, norm: Normalization = Normalization()) -> Score:
    """Edit counts and rates of `hypothesis` against `reference`, both normalised by `norm`."""
    ref, hyp = norm.apply(reference), norm.apply(hypothesis)
    ref_words, hyp_words = ref.split(), hyp.split()
    char_edits = _char_edits(ref, hyp)
    word_edits = _word_edits(ref_words, hyp_words)
    ref_graphemes = graphemes(ref)
    flex_errors, flex_chars = flexible.errors(norm.lines(reference), norm.lines(hypothesis))
    return Score(
        reference_chars=len(ref),
        char_edits=char_edits,
        cer=rate([char_edits], [len(ref)]),
        reference_words=len(ref_words),
        word_edits=word_edits,
        wer=rate([word_edits], [len(ref_words)]),
        hypothesis_chars=len(hyp),
        bow_errors=bag_of_words_errors(ref_words, hyp_words),
        reference_graphemes=len(ref_graphemes),
        grapheme_edits=Levenshtein.distance(ref_graphemes, graphemes(hyp)),
        flex_errors=flex_errors,
        flex_chars=flex_chars,
    )


def bag_of_words_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """max(reference words the hypothesis lacks, hypothesis words the reference lacks), counted as
    multisets: the order of the words plays no part."""
    matched = sum((Counter(reference) & Counter(hypothesis)).values())
    return max(len(reference) - matched, len(hypothesis) - matched)


_JOINER = "\u200d"


def graphemes(text: str) -> list[str]:
    """The text's grapheme clusters, as far as combining marks and joiners make them: each base
    character with the marks (M*) that follow it; a zero-width joiner binds the next character."""
    clusters: list[str] = []
    for char in text:
        joined = clusters and clusters[-1].endswith(_JOINER)
        if clusters and (joined or char == _JOINER or unicodedata.category(char).startswith("M")):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _mean(rates: list[float | None]) -> float | None:
    defined = [rate for rate in rates if rate is not None]
    return sum(defined) / len(defined) if defined else None


def corpus(scores: Sequence[Score]) -> dict[str, Any]:
    """Corpus figures: `corpus_cer` = total char edits / total reference chars (likewise WER).

    Samples with an empty reference add their edits and nothing to the lengths; where the total
    length is 0 the corpus rate is None. `mean_cer`/`mean_wer` are plain means of the per-sample
    rates over samples whose reference is not empty: short lines weigh as much as full pages.
    """
    reference_chars = sum(s.reference_chars for s in scores)
    char_edits = sum(s.char_edits for s in scores)
    reference_words = sum(s.reference_words for s in scores)
    word_edits = sum(s.word_edits for s in scores)
    return {
        "samples": len(scores),
        "empty_references": sum(1 for s in scores if s.reference_chars == 0),
        "reference_chars": reference_chars,
        "char_edits": char_edits,
        "corpus_cer": rate([char_edits], [reference_chars]),
        "reference_words": reference_words,
        "word_edits": word_edits,
        "corpus_wer": rate([word_edits], [reference_words]),
        "mean_cer": _mean([s.cer for s in scores]),
        "mean_wer": _mean([s.wer for s in scores]),
    }


# Fewer samples with reference text than this get no interval (nan, nan), and so no verdict: a
# percentile bootstrap of 1 sample has no width and one of a few is far narrower than the truth
# (two pages that both improved would read "better" at 95%).
MIN_BOOTSTRAP_SAMPLES = 10


def bootstrap_ci(
    edits: Sequence[int],
    lengths: Sequence[int],
    *,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the corpus rate sum(edits) / sum(lengths).

    Samples (not characters) are resampled with replacement, since errors cluster within a page.
    Resamples whose lengths sum to 0 have no rate and are left out; where fewer than
    MIN_BOOTSTRAP_SAMPLES samples have reference text the interval is (nan, nan): none, or too
    few to bound the rate.
    """
    return _bootstrap(np.asarray(edits, dtype=np.float64), lengths, n, seed, level)


def paired_bootstrap_ci(
    edits: Sequence[int],
    baseline_edits: Sequence[int],
    lengths: Sequence[int],
    *,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the change in corpus rate, (sum(edits) - sum(baseline)) /
    sum(lengths), the same samples drawn for both sides: what two configurations did to the same
    pages, not two independent intervals (which overlap even where the paired change is clear)."""
    if len(edits) != len(baseline_edits):
        raise ValueError(
            f"edits and baseline_edits must be equally long, not {len(edits)} and "
            f"{len(baseline_edits)}"
        )
    difference = np.asarray(edits, dtype=np.float64) - np.asarray(baseline_edits, dtype=np.float64)
    return _bootstrap(difference, lengths, n, seed, level)


def _bootstrap(
    numerators: np.ndarray, lengths: Sequence[int], n: int, seed: int, level: float
) -> tuple[float, float]:
    length_array = np.asarray(lengths, dtype=np.float64)
    if numerators.shape != length_array.shape or numerators.ndim != 1:
        raise ValueError(
            f"edits and lengths must be flat and equally long, not {len(numerators)} and "
            f"{len(lengths)}"
        )
    if n < 1:
        raise ValueError(f"n (resamples) must be at least 1, not {n}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), not {level}")
    count = len(numerators)
    if np.count_nonzero(length_array) < MIN_BOOTSTRAP_SAMPLES:
        return float("nan"), float("nan")  # too few pages to say how far the rate could be off
    rng = np.random.default_rng(seed)
    # Resample in blocks so 10,000 samples x 1,000 resamples stays a few tens of MB.
    block = max(1, 2_000_000 // count)
    rates = []
    for start in range(0, n, block):
        picks = rng.integers(0, count, size=(min(block, n - start), count))
        total_edits = numerators[picks].sum(axis=1)
        total_lengths = length_array[picks].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rates.append(np.where(total_lengths > 0, total_edits / total_lengths, np.nan))
    tail = (1 - level) / 2
    low, high = np.nanquantile(np.concatenate(rates), [tail, 1 - tail])
    return float(low), float(high)


def verdict(low: float, high: float) -> str:
    """What a paired interval of a change in error rate says: "better" (all of it below 0),
    "worse" (all above), else "no evidence either way"."""
    if math.isnan(low) or math.isnan(high):
        return "no evidence either way"
    if high < 0:
        return "better"
    if low > 0:
        return "worse"
    return "no evidence either way"


@dataclass(frozen=True)
class PairedChange:
    """What one side did against another on the same samples: the change in corpus rate (None
    where there is no rate), its paired interval and verdict, and how many samples moved."""

    change: float | None
    low: float
    high: float
    verdict: str
    better: int  # samples with fewer edits than the baseline side
    worse: int
    same: int


def paired_change(
    edits: Sequence[int], baseline_edits: Sequence[int], lengths: Sequence[int], *, seed: int = 0
) -> PairedChange:
    """`edits` against `baseline_edits` on the same samples (the summary's "vs raw OCR", and
    `ocrbench compare`'s run B against run A)."""
    low, high = paired_bootstrap_ci(edits, baseline_edits, lengths, seed=seed)
    pairs = list(zip(edits, baseline_edits, strict=True))
    better = sum(1 for after, before in pairs if after < before)
    worse = sum(1 for after, before in pairs if after > before)
    return PairedChange(
        change=rate([after - before for after, before in pairs], lengths),
        low=low, high=high, verdict=verdict(low, high),
        better=better, worse=worse, same=len(pairs) - better - worse,
    )  # fmt: skip


@dataclass(frozen=True)
class WordEffect:
    """What a corrector did to the reference words, compared with the raw OCR it was given.

    A reference word is right in a text when the word alignment matches it exactly. Words the
    corrector adds that align to no reference word are not counted here; `preference` sees them.
    """

    fixed: int  # reference words wrong in the raw OCR and right after correction
    broken: int  # right in the raw OCR, wrong after
    fixed_words: tuple[tuple[str, str], ...]  # (raw word, corrected word); "" where none aligned
    broken_words: tuple[tuple[str, str], ...]
    preference: int  # +1 correction has fewer char edits than the raw OCR, -1 more, 0 as many


def _aligned_words(reference: list[str], hypothesis: list[str]) -> list[str]:
    """For each reference word, the hypothesis word aligned to it ("" where it was deleted)."""
    aligned = [""] * len(reference)
    if not reference or not hypothesis:
        return aligned
    for chunk in _word_alignment(reference, hypothesis).alignments[0]:
        if chunk.type in ("equal", "substitute"):  # one to one in a Levenshtein alignment
            pairs = zip(
                range(chunk.ref_start_idx, chunk.ref_end_idx),
                range(chunk.hyp_start_idx, chunk.hyp_end_idx),
                strict=True,
            )
            for ref_index, hyp_index in pairs:
                aligned[ref_index] = hypothesis[hyp_index]
    return aligned


def word_effect(
    reference: str, raw: str, corrected: str, norm: Normalization = Normalization()
) -> WordEffect:
    """Which reference words the correction fixed and which it broke, relative to the raw OCR."""
    ref, raw_text, corrected_text = norm.apply(reference), norm.apply(raw), norm.apply(corrected)
    if corrected_text == raw_text:  # an identity corrector, or one that accepted the OCR as is
        return WordEffect(fixed=0, broken=0, fixed_words=(), broken_words=(), preference=0)
    ref_words = ref.split()
    before = _aligned_words(ref_words, raw_text.split())
    after = _aligned_words(ref_words, corrected_text.split())
    fixed, broken = [], []
    for word, old, new in zip(ref_words, before, after, strict=True):
        if old != word and new == word:
            fixed.append((old, new))
        elif old == word and new != word:
            broken.append((old, new))
    raw_edits, corrected_edits = _char_edits(ref, raw_text), _char_edits(ref, corrected_text)
    return WordEffect(
        fixed=len(fixed),
        broken=len(broken),
        fixed_words=tuple(fixed),
        broken_words=tuple(broken),
        preference=(raw_edits > corrected_edits) - (raw_edits < corrected_edits),
    )
