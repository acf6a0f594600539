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
- Grapheme CER counts edits between sequences of grapheme clusters instead of code points: the
  extended grapheme clusters of Unicode UAX #29 (what dinglehopper counts): a character with the
  combining marks that follow it, CR LF, a Hangul syllable, an emoji with its modifiers, emoji
  joined by a zero-width joiner, a flag (`graphemes` below). It differs from CER only where the
  text holds such clusters (marks NFC cannot compose: polytonic Greek, Devanagari, ...; emoji).
- Flexible character accuracy (`flexible.py` defines it step by step) matches reference and OCR
  lines in any order, then counts character errors within the matched pairs and every character of
  an unmatched line: 1 - errors / reference characters (line breaks not counted). With the reading
  order right it agrees with the character edits (a line against a line: exactly, if any of it is
  right).
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
            # Removed, not replaced by a space: "don't" and "dont" are the same word. A mark
            # that stood between a letter and its accent leaves them to compose again: NFC.
            text = unicodedata.normalize("NFC", text.translate(_punctuation_table()))
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


# Grapheme clusters: the extended grapheme clusters of Unicode UAX #29 ("Unicode Text
# Segmentation"), rules GB3-GB13, with the properties of the Unicode version that `unicodedata`
# carries: its general categories, and below, the few code points whose Grapheme_Cluster_Break the
# category does not give, and Extended_Pictographic (Unicode 14.0, as Python 3.11's `unicodedata`;
# written as hexadecimal code points and ranges). The Indic conjunct rule GB9c (Unicode 15.1) is
# not applied.
_OTHER, _CR, _LF, _CONTROL, _EXTEND, _ZWJ, _REGIONAL, _PREPEND, _SPACING = range(9)
_L, _V, _T, _LV, _LVT, _PICTOGRAPHIC = range(9, 15)
_BREAKING = (_CONTROL, _CR, _LF)

# Grapheme_Extend beyond the marks Mn and Me: Other_Grapheme_Extend (spacing vowel signs that
# lengthen the one before, ZWNJ, halfwidth katakana voicing marks, musical stems, tag characters)
# and the emoji skin tone modifiers.
_EXTEND_MORE = (
    "9BE 9D7 B3E B57 BBE BD7 CC2 CD5-CD6 D3E D57 DCF DDF 1B35 200C 302E-302F FF9E-FF9F 1133E 11357 "
    "114B0 114BD 115AF 11930 1D165 1D16E-1D172 1F3FB-1F3FF E0020-E007F"
)
# Spacing combining marks (Mc) that UAX #29 does not attach (Myanmar, Tai Tham, Tai Viet, Ahom).
_MC_ALONE = (
    "102B-102C 1038 1062-1064 1067-106D 1083 1087-108C 108F 109A-109C 1A61 1A63-1A64 AA7B AA7D "
    "11720-11721"
)
_SPACING_MORE = "E33 EB3"  # Thai and Lao sara am: letters (Lo) that attach as spacing marks
_PREPEND_CHARS = (
    "600-605 6DD 70F 890-891 8E2 D4E 110BD 110CD 111C2-111C3 1193F 11941 11A3A 11A84-11A89 11D46"
)
# Default ignorable code points not yet assigned: Control, like the format characters around them.
_CONTROL_MORE = "2065 FFF0-FFF8 E0000 E0002-E001F E0080-E00FF E01F0-E0FFF"
_PICTOGRAPHS = (
    "A9 AE 203C 2049 2122 2139 2194-2199 21A9-21AA 231A-231B 2328 2388 23CF 23E9-23F3 23F8-23FA "
    "24C2 25AA-25AB 25B6 25C0 25FB-25FE 2600-2605 2607-2612 2614-2685 2690-2705 2708-2712 2714 "
    "2716 271D 2721 2728 2733-2734 2744 2747 274C 274E 2753-2755 2757 2763-2767 2795-2797 27A1 "
    "27B0 27BF 2934-2935 2B05-2B07 2B1B-2B1C 2B50 2B55 3030 303D 3297 3299 1F000-1F0FF "
    "1F10D-1F10F 1F12F 1F16C-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AD-1F1E5 1F201-1F20F 1F21A "
    "1F22F 1F232-1F23A 1F23C-1F23F 1F249-1F3FA 1F400-1F53D 1F546-1F64F 1F680-1F6FF 1F774-1F77F "
    "1F7D5-1F7FF 1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8FF 1F90C-1F93A "
    "1F93C-1F945 1F947-1FAFF 1FC00-1FFFD"
)


def _code_points(ranges: str) -> frozenset[int]:
    points: set[int] = set()
    for item in ranges.split():
        first, _, last = item.partition("-")
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    return frozenset(points)


@lru_cache(maxsize=1)
def _break_tables() -> tuple[frozenset[int], ...]:
    return tuple(
        map(_code_points, (_EXTEND_MORE, _MC_ALONE, _SPACING_MORE, _PREPEND_CHARS, _CONTROL_MORE,
                           _PICTOGRAPHS))
    )  # fmt: skip


@lru_cache(maxsize=4096)
def _break_class(char: str) -> int:
    """The character's Grapheme_Cluster_Break, or _PICTOGRAPHIC (Extended_Pictographic, Other)."""
    code = ord(char)
    extend, mc_alone, spacing, prepend, control, pictographs = _break_tables()
    if char in "\r\n\u200d":
        return {"\r": _CR, "\n": _LF, "\u200d": _ZWJ}[char]
    if 0x1F1E6 <= code <= 0x1F1FF:
        return _REGIONAL
    if code in extend:
        return _EXTEND
    if code in prepend:
        return _PREPEND
    category = unicodedata.category(char)
    if category in ("Mn", "Me"):
        return _EXTEND
    if (category == "Mc" and code not in mc_alone) or code in spacing:
        return _SPACING
    if category in ("Cc", "Cf", "Cs", "Zl", "Zp") or code in control:
        return _CONTROL
    if 0xAC00 <= code <= 0xD7A3:  # precomposed syllables: LV every 28th, from the first
        return _LV if (code - 0xAC00) % 28 == 0 else _LVT
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return _L
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return _V
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return _T
    return _PICTOGRAPHIC if code in pictographs else _OTHER


def _pair_joins(before: int, kind: int) -> bool | None:
    """No boundary between a character of class `before` and one of class `kind` (UAX #29), None
    where what precedes them decides (GB11, GB12, GB13)."""
    if before == _CR and kind == _LF:  # GB3
        return True
    if before in _BREAKING or kind in _BREAKING:  # GB4, GB5
        return False
    if before == _L and kind in (_L, _V, _LV, _LVT):  # GB6
        return True
    if before in (_LV, _V) and kind in (_V, _T):  # GB7
        return True
    if before in (_LVT, _T) and kind == _T:  # GB8
        return True
    if kind in (_EXTEND, _ZWJ, _SPACING) or before == _PREPEND:  # GB9, GB9a, GB9b
        return True
    if (before, kind) in ((_ZWJ, _PICTOGRAPHIC), (_REGIONAL, _REGIONAL)):
        return None
    return False  # GB999


_JOINS = [[_pair_joins(before, kind) for kind in range(15)] for before in range(15)]


def graphemes(text: str) -> list[str]:
    """The text's extended grapheme clusters (Unicode UAX #29, as dinglehopper counts): a character
    with the marks that follow it, CR LF, a Hangul syllable of conjoining jamo, an emoji with its
    modifiers and variation selectors, emoji joined by ZWJ, and a flag (a pair of regional
    indicators) are each one."""
    if text.isascii() and "\r\n" not in text:  # every ASCII character is a cluster but CR LF
        return list(text)
    clusters: list[str] = []
    before = _CONTROL  # the first character starts a cluster whatever it is
    emoji = 0  # 1: a pictograph (and Extend characters) just before; 2: and then a ZWJ
    regional_run = 0  # regional indicators in a row just before
    for char in text:
        kind = _break_class(char)
        joins = _JOINS[before][kind]
        if joins is None:  # GB11: pictograph Extend* ZWJ x pictograph; GB12, GB13: flags in pairs
            joins = emoji == 2 if kind == _PICTOGRAPHIC else regional_run % 2 == 1
        if joins:
            clusters[-1] += char
        else:
            clusters.append(char)
        if kind == _PICTOGRAPHIC:
            emoji = 1
        elif emoji == 1 and kind in (_EXTEND, _ZWJ):
            emoji = 2 if kind == _ZWJ else 1
        else:
            emoji = 0
        regional_run = regional_run + 1 if kind == _REGIONAL else 0
        before = kind
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
    # The two alignments break ties on their own: where the OCR dropped one of two equal words,
    # each may drop another copy, and the untouched word reads as fixed at one copy and broken at
    # the other. Such a pair, (x -> w) fixed and (w -> x) broken, is no change: both go.
    for pair in list(fixed):
        if pair[::-1] in broken:
            fixed.remove(pair)
            broken.remove(pair[::-1])
    raw_edits, corrected_edits = _char_edits(ref, raw_text), _char_edits(ref, corrected_text)
    return WordEffect(
        fixed=len(fixed),
        broken=len(broken),
        fixed_words=tuple(fixed),
        broken_words=tuple(broken),
        preference=(raw_edits > corrected_edits) - (raw_edits < corrected_edits),
    )
