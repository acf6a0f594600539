from __future__ import annotations

import math
import random
import time
import unicodedata
from pathlib import Path

import jiwer
import pandas as pd
import pytest
from rapidfuzz.distance import Levenshtein

from ocrbench import metrics
from ocrbench.errors import ConfigError
from ocrbench.metrics import (
    Normalization,
    Score,
    bootstrap_ci,
    corpus,
    rate,
    score,
    word_effect,
)
from ocrbench.registry import build

SHARED = Path(__file__).resolve().parents[2] / "shared"

# Letters, digits, punctuation, accents (both forms), Greek, whitespace of several kinds.
ALPHABET = "abcdeIl10O:.,;- \n\téèe\u0301ΑαΩωἀ\u00a0"


def random_text(rng: random.Random, longest: int = 30) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


# Known edit counts


def test_kitten_to_sitting_is_three_char_edits() -> None:
    result = score("kitten", "sitting")
    assert (result.char_edits, result.reference_chars, result.hypothesis_chars) == (3, 6, 7)
    assert result.cer == pytest.approx(0.5)
    assert (result.word_edits, result.reference_words, result.wer) == (1, 1, 1.0)


def test_invoice_ocr_errors() -> None:
    result = score("Invoice No: 12345", "Inv0ice N0: 12345")
    assert (result.char_edits, result.reference_chars) == (2, 17)
    assert result.cer == pytest.approx(2 / 17)
    assert (result.word_edits, result.reference_words) == (2, 3)


def test_word_edits_count_substitutions_deletions_and_insertions() -> None:
    # "sat" -> "sit" (substitution), "the" before "mat" deleted, "big" inserted.
    result = score("the cat sat on the mat", "the big cat sit on mat")
    assert (result.word_edits, result.reference_words) == (3, 6)
    assert result.wer == pytest.approx(0.5)


# Unicode


def test_nfd_and_nfc_input_are_the_same_text() -> None:
    composed = "café crème à l'œil"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    result = score(composed, decomposed)
    assert (result.char_edits, result.word_edits) == (0, 0)
    assert result.reference_chars == len(composed)
    assert score(decomposed, composed).char_edits == 0


def test_decomposed_reference_counts_an_accent_error_once() -> None:
    decomposed = "cafe\u0301"  # 5 code points, 4 characters
    result = score(decomposed, "cafè")
    assert (result.reference_chars, result.char_edits) == (4, 1)
    assert score(decomposed, "cafe").char_edits == 1  # the missing accent is one substitution


def test_casefold_result_is_renormalised() -> None:
    # "ǰ" folds to j + combining caron, which NFC composes back into one character.
    folded = Normalization(casefold=True).apply("ǰ")
    assert unicodedata.is_normalized("NFC", folded)
    assert score("ǰ", "ǰ".upper(), Normalization(casefold=True)).char_edits == 0


# Whitespace and normalisation


def test_newlines_collapse_to_single_spaces_by_default() -> None:
    reference = "line one\nline  two\n"
    result = score(reference, "line one line two")
    assert (result.char_edits, result.reference_chars) == (0, len("line one line two"))
    assert Normalization().apply(reference) == "line one line two"


def test_keeping_whitespace_counts_every_newline() -> None:
    keep = Normalization(collapse_whitespace=False)
    result = score("line one\nline two\n", "line one line two", keep)
    assert result.reference_chars == 18
    assert result.char_edits == 2  # "\n" -> " ", trailing "\n" deleted
    assert result.word_edits == 0  # words are whitespace-separated either way


def test_normalization_names() -> None:
    assert Normalization().name() == "nfc+ws"
    assert Normalization(collapse_whitespace=False).name() == "nfc"
    full = Normalization(casefold=True, strip_punctuation=True)
    assert full.name() == "nfc+ws+casefold+nopunct"


def test_stripping_punctuation_leaves_text_in_nfc() -> None:
    """An apostrophe between a letter and a combining accent ("e'\u0301x"): once stripped, the
    accent joined the "e" undecomposed, so "éx" against "éx" counted 3 characters and 2 edits."""
    norm = Normalization(strip_punctuation=True)
    assert norm.apply("e'\u0301x") == "\u00e9x"
    found = score("e'\u0301x", "\u00e9x", norm)
    assert (found.reference_chars, found.char_edits) == (2, 0)


def test_casefold_and_punctuation_are_ignored_only_when_declared() -> None:
    reference, hypothesis = "Hello, World!", "hello world"
    assert score(reference, hypothesis).char_edits == 4
    assert score(reference, hypothesis, Normalization(casefold=True)).char_edits == 2
    both = Normalization(casefold=True, strip_punctuation=True)
    assert score(reference, hypothesis, both).char_edits == 0
    # Symbols are not punctuation: a wrong currency sign still counts.
    assert score("$12.50", "€12.50", both).char_edits == 1
    # Punctuation between spaces leaves no double space behind.
    assert both.apply("a - b") == "a b"


def test_normalization_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="casefold must be true or false"):
        Normalization(casefold="yes")  # type: ignore[arg-type]
    assert build(Normalization, {"casefold": "yes"}, "normalization").casefold is True
    with pytest.raises(ConfigError, match="unknown parameter 'lowercase'"):
        build(Normalization, {"lowercase": True}, "normalization")


# Empty texts


def test_empty_reference_has_no_rate_and_counts_insertions() -> None:
    result = score("", "abc de")
    assert result.cer is None and result.wer is None
    assert (result.char_edits, result.word_edits, result.reference_chars) == (6, 2, 0)
    assert score("", "") == Score(0, 0, None, 0, 0, None, 0)
    assert score(" \n\t", "").cer is None  # empty once whitespace is collapsed


def test_empty_hypothesis_is_all_deletions() -> None:
    result = score("two words", "")
    assert (result.char_edits, result.cer) == (9, 1.0)
    assert (result.word_edits, result.wer) == (2, 1.0)


def test_whitespace_only_reference_has_characters_but_no_words() -> None:
    result = score("  ", "a", Normalization(collapse_whitespace=False))
    assert (result.cer, result.char_edits) == (1.0, 2)
    assert (result.wer, result.word_edits) == (None, 1)


# Corpus aggregation


def test_corpus_rate_is_edits_over_length_not_a_mean() -> None:
    scores = [score("a", "b"), score("abcdefghij", "abcdefghij")]
    figures = corpus(scores)
    assert figures["corpus_cer"] == pytest.approx(1 / 11)
    assert figures["mean_cer"] == pytest.approx(0.5)
    assert (figures["samples"], figures["reference_chars"], figures["char_edits"]) == (2, 11, 1)


def test_corpus_counts_insertions_on_empty_references() -> None:
    figures = corpus([score("abc", "abd"), score("", "xy")])
    assert figures["corpus_cer"] == pytest.approx(3 / 3)
    assert figures["mean_cer"] == pytest.approx(1 / 3)  # the empty reference has no rate to average
    assert figures["empty_references"] == 1


def test_corpus_of_empty_references_has_no_rate() -> None:
    figures = corpus([score("", "hallucinated"), score("", "")])
    assert figures["corpus_cer"] is None and figures["corpus_wer"] is None
    assert figures["mean_cer"] is None
    assert figures["char_edits"] == len("hallucinated")
    assert corpus([])["corpus_cer"] is None


# Bootstrap


def test_bootstrap_interval_contains_the_point_estimate() -> None:
    rng = random.Random(7)
    for _ in range(20):
        count = rng.randint(metrics.MIN_BOOTSTRAP_SAMPLES, 200)
        lengths = [rng.randint(1, 80) for _ in range(count)]
        edits = [rng.randint(0, length) for length in lengths]
        low, high = bootstrap_ci(edits, lengths, n=300, seed=rng.randint(0, 999))
        point = sum(edits) / sum(lengths)
        assert low <= point <= high


def test_bootstrap_is_reproducible_and_widens_with_level() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(10, 60) for _ in range(300)]
    edits = [rng.randint(0, 5) for _ in lengths]
    assert bootstrap_ci(edits, lengths, seed=1) == bootstrap_ci(edits, lengths, seed=1)
    narrow = bootstrap_ci(edits, lengths, level=0.5)
    wide = bootstrap_ci(edits, lengths, level=0.99)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_bootstrap_of_identical_samples_has_no_width() -> None:
    low, high = bootstrap_ci([2] * 50, [10] * 50)
    assert low == pytest.approx(0.2) and high == pytest.approx(0.2)


def test_bootstrap_without_reference_text() -> None:
    assert all(math.isnan(x) for x in bootstrap_ci([3, 1], [0, 0]))
    assert all(math.isnan(x) for x in bootstrap_ci([], []))
    # Some empty references: resamples made only of them are left out, not counted as 0.
    low, high = bootstrap_ci([5] + [0, 1] * 5, [0] + [10] * 10, n=200)
    assert 0 <= low <= high and not math.isnan(high)


def test_too_few_samples_get_no_interval_and_no_verdict() -> None:
    """One page's "interval" has no width and a few pages' is far too narrow: two pages that
    both improved must not read "better"."""
    for count in range(1, metrics.MIN_BOOTSTRAP_SAMPLES):
        assert all(math.isnan(x) for x in bootstrap_ci([1] * count, [10] * count))
        change = metrics.paired_bootstrap_ci([0] * count, [2] * count, [10] * count)
        assert metrics.verdict(*change) == "no evidence either way"
    # Pages without reference text do not count towards it.
    few = metrics.MIN_BOOTSTRAP_SAMPLES - 1
    assert all(math.isnan(x) for x in bootstrap_ci([1] * 20, [10] * few + [0] * (20 - few)))
    enough = metrics.MIN_BOOTSTRAP_SAMPLES
    low, high = metrics.paired_bootstrap_ci([0] * enough, [2] * enough, [10] * enough)
    assert high < 0 and metrics.verdict(low, high) == "better"


def test_bootstrap_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="equally long"):
        bootstrap_ci([1, 2], [3])
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1], [3], level=95)
    with pytest.raises(ValueError, match="n "):
        bootstrap_ci([1], [3], n=0)


# What a corrector did


def test_correction_that_fixes_two_words() -> None:
    effect = word_effect("Invoice No: 12345", "Inv0ice N0: 12345", "Invoice No: 12345")
    assert (effect.fixed, effect.broken, effect.preference) == (2, 0, 1)
    assert effect.fixed_words == (("Inv0ice", "Invoice"), ("N0:", "No:"))
    assert effect.broken_words == ()


def test_correction_that_breaks_a_right_word() -> None:
    effect = word_effect("the form was filed", "the form was filed", "the from was filed")
    assert (effect.fixed, effect.broken, effect.preference) == (0, 1, -1)
    assert effect.broken_words == (("form", "from"),)


def test_correction_that_fixes_one_word_and_deletes_another() -> None:
    effect = word_effect("pay the total now", "pay tbe total now", "pay the now")
    assert (effect.fixed, effect.broken) == (1, 1)
    assert effect.fixed_words == (("tbe", "the"),)
    assert effect.broken_words == (("total", ""),)
    assert effect.preference == -1  # 1 char fixed, 6 deleted


def test_unchanged_text_has_no_effect() -> None:
    effect = word_effect("right words", "rihgt words", "rihgt words")
    assert (effect.fixed, effect.broken, effect.preference) == (0, 0, 0)


def test_a_repeated_word_is_not_fixed_and_broken_by_the_alignment_alone() -> None:
    """One correction ("tbat" -> "that") in a line with a repeated word the OCR dropped: the raw
    and corrected alignments dropped different copies of it, so the untouched copy counted as
    one word fixed and one broken (2 fixed, 1 broken for one change)."""
    for reference, raw, corrected in [
        ("that that is, is; that that is not, is not",
         "that tbat is, is; that is not, is not",
         "that that is, is; that is not, is not"),
        ("in the end the the house", "in tbe end the house", "in the end the house"),
    ]:  # fmt: skip
        effect = word_effect(reference, raw, corrected)
        assert (effect.fixed, effect.broken) == (1, 0), effect


def test_word_effect_uses_the_normalisation() -> None:
    folded = Normalization(casefold=True)
    assert word_effect("Total", "tota1", "TOTAL", folded).fixed == 1
    assert word_effect("Total", "tota1", "TOTAL").fixed == 0
    assert word_effect("", "", "added words").preference == -1


# Properties, over seeded random texts (hypothesis is not installed)


@pytest.mark.parametrize("seed", range(5))
def test_properties_of_edit_counts(seed: int) -> None:
    rng = random.Random(seed)
    norm = Normalization()
    for _ in range(100):
        a, b = random_text(rng), random_text(rng)
        same = score(a, a)
        assert (same.char_edits, same.word_edits) == (0, 0)
        forward, backward = score(a, b), score(b, a)
        assert forward.char_edits == backward.char_edits
        assert forward.word_edits == backward.word_edits
        # An independent count of the same distance.
        assert forward.char_edits == Levenshtein.distance(norm.apply(a), norm.apply(b))
        if forward.reference_chars:
            assert forward.cer == forward.char_edits / forward.reference_chars


@pytest.mark.parametrize("seed", range(3))
def test_substitution_only_edits_are_symmetric_and_bounded(seed: int) -> None:
    rng = random.Random(seed)
    letters = "abcdefgh"
    for _ in range(100):
        a = "".join(rng.choice(letters) for _ in range(rng.randint(1, 30)))
        b = "".join(rng.choice(letters) if rng.random() < 0.3 else c for c in a)
        hamming = sum(x != y for x, y in zip(a, b, strict=True))
        assert score(a, b).char_edits == score(b, a).char_edits <= hamming


def test_word_effect_properties() -> None:
    rng = random.Random(11)
    vocabulary = ["the", "tbe", "form", "from", "total", "tota1", "no", "N0"]

    def words(least: int) -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(rng.randint(least, 8)))

    for _ in range(200):
        reference, raw, corrected = words(1), words(0), words(0)
        effect = word_effect(reference, raw, corrected)
        backwards = word_effect(reference, corrected, raw)
        assert (backwards.fixed, backwards.broken) == (effect.broken, effect.fixed)
        assert backwards.preference == -effect.preference
        # A perfect correction fixes every word the raw OCR got wrong (jiwer's own hit count).
        hits = jiwer.process_words(reference, raw).hits if raw else 0
        perfect = word_effect(reference, raw, reference)
        assert (perfect.fixed, perfect.broken) == (len(reference.split()) - hits, 0)


# Speed


def test_scoring_ten_thousand_lines_is_fast() -> None:
    rng = random.Random(0)
    lines = [random_text(rng, 60) for _ in range(10_000)]
    noisy = [line[::-1] for line in lines]
    start = time.perf_counter()
    for reference, hypothesis in zip(lines, noisy, strict=True):
        score(reference, hypothesis)
    assert time.perf_counter() - start < 5  # about 0.4 s on a shared 2-core machine


def test_bootstrap_of_ten_thousand_samples_is_fast() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(1, 80) for _ in range(10_000)]
    edits = [rng.randint(0, 5) for _ in lengths]
    start = time.perf_counter()
    bootstrap_ci(edits, lengths, n=1000)
    assert time.perf_counter() - start < 5  # about 0.1 s


# Real data


@pytest.mark.shared
@pytest.mark.slow
def test_icdar2017_raw_ocr_matches_the_published_figures() -> None:
    folder = SHARED / "data" / "icdar2017-eng"
    if not folder.is_dir():
        pytest.skip(
            f"{folder} is absent: this test reads real data from ../shared (not in the repo)"
        )
    scores = []
    for path in sorted(folder.glob("eng_*/*.txt")):
        lines = path.read_text(encoding="utf-8").split("\n")
        ocr, gold = lines[1].removeprefix("[OCR_aligned] "), lines[2].removeprefix("[ GS_aligned] ")
        kept = [(o, g) for o, g in zip(ocr, gold, strict=True) if g != "#"]  # '#': no gold here
        hypothesis = "".join(o for o, _ in kept).replace("@", "")  # '@': alignment padding
        reference = "".join(g for _, g in kept).replace("@", "")
        scores.append(score(reference, hypothesis))
    figures = corpus(scores)
    assert figures["samples"] == 89
    assert figures["corpus_cer"] == pytest.approx(0.0325, abs=0.0005)
    assert figures["corpus_wer"] == pytest.approx(0.136, abs=0.001)
    low, high = bootstrap_ci(
        [s.char_edits for s in scores], [s.reference_chars for s in scores], seed=0
    )
    assert low < figures["corpus_cer"] < high


# --- metrics that tolerate reading order, and grapheme clusters ------------------------------------


def test_a_page_read_in_another_column_order_has_no_bag_of_words_error() -> None:
    reference = "Tomatoes 2.01\nCarrots 1.13\nTOTAL 3.14"
    reordered = "Tomatoes\nCarrots\nTOTAL\n2.01\n1.13\n3.14"  # the price column read after
    result = metrics.score(reference, reordered)
    assert result.bow_errors == 0
    assert result.cer is not None and result.cer > 0.3  # CER punishes the order
    assert result.wer is not None and result.wer > 0.5


def test_bag_of_words_errors_count_a_wrong_word_once_and_multiplicity() -> None:
    assert metrics.bag_of_words_errors(["the", "cat", "sat"], ["the", "cot", "sat"]) == 1
    assert metrics.bag_of_words_errors(["the", "the", "cat"], ["the", "cat"]) == 1
    assert metrics.bag_of_words_errors(["a"], ["a", "b", "c"]) == 2  # two spurious words
    assert metrics.bag_of_words_errors([], ["x"]) == 1 and metrics.bag_of_words_errors([], []) == 0


def test_grapheme_clusters_keep_combining_marks_with_their_base() -> None:
    # Marks NFC cannot compose stay code points of their own: q with a dot below and an acute
    # has no precomposed form, so it is one grapheme of three code points.
    word = unicodedata.normalize("NFC", "q\u0323\u0301a")
    assert len(word) == 4 and metrics.graphemes(word) == ["q\u0323\u0301", "a"]
    missing_marks = metrics.score(word, "qa")  # both marks lost: 2 code points, 1 grapheme
    assert missing_marks.char_edits == 2 and missing_marks.grapheme_edits == 1
    assert missing_marks.reference_graphemes == 2 and missing_marks.reference_chars == 4
    plain = metrics.score("Invoice", "Inv0ice")
    assert plain.grapheme_edits == plain.char_edits == 1  # no marks: the same as CER


# Unicode UAX #29 extended grapheme clusters, one rule at a time (GB numbers are the annex's).
GRAPHEME_CASES = {
    "letters (GB999)": ("abc", ["a", "b", "c"]),
    "CR LF is one (GB3)": ("a\r\nb", ["a", "\r\n", "b"]),
    "LF CR is two (GB4, GB5)": ("\n\r", ["\n", "\r"]),
    # A mark after a line break or a control character stays on its own (GB4).
    "no mark on a control (GB4)": ("\n\u0301a\t\u0301", ["\n", "\u0301", "a", "\t", "\u0301"]),
    "a mark after a space (GB9)": (" \u0301", [" \u0301"]),
    "old Hangul jamo L L V T (GB6, GB7, GB8)": ("\u1100\u1113\u1176\u11c3x", [
        "\u1100\u1113\u1176\u11c3", "x"]),
    "Hangul syllable LV T (GB7)": ("\uac00\u11c3\uac00", ["\uac00\u11c3", "\uac00"]),
    "Hangul syllable LVT T (GB8)": ("\uac01\u11c3\u11c3", ["\uac01\u11c3\u11c3"]),
    "two Hangul syllables": ("\uac00\ub098", ["\uac00", "\ub098"]),
    "no V after T": ("\u11a8\u1161", ["\u11a8", "\u1161"]),
    "variation selector (GB9)": ("\u2764\ufe0f!", ["\u2764\ufe0f", "!"]),
    "keycap (GB9)": ("1\ufe0f\u20e3", ["1\ufe0f\u20e3"]),
    "skin tone modifier (GB9)": ("\U0001f44d\U0001f3fd", ["\U0001f44d\U0001f3fd"]),
    "halfwidth katakana voiced mark (GB9)": ("\uff76\uff9e", ["\uff76\uff9e"]),
    "spacing mark (GB9a)": ("\u0915\u093f\u0e01\u0e33", ["\u0915\u093f", "\u0e01\u0e33"]),
    "prepend (GB9b)": ("\u0600\u0661\u0662", ["\u0600\u0661", "\u0662"]),
    # man ZWJ woman ZWJ girl; woman, skin tone, ZWJ, laptop: one emoji each (GB11).
    "emoji ZWJ sequence (GB11)": ("\U0001f468\u200d\U0001f469\u200d\U0001f467", [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467"]),
    "emoji ZWJ sequence after a modifier (GB11)": ("\U0001f469\U0001f3fd\u200d\U0001f4bb", [
        "\U0001f469\U0001f3fd\u200d\U0001f4bb"]),
    # A joiner goes with what precedes it (GB9) and joins the next character only between
    # pictographs: after a letter it binds nothing.
    "joiner after a letter (GB9, GB999)": ("a\u200db c", ["a\u200d", "b", " ", "c"]),
    "joiner before a letter (GB11 only for pictographs)": ("\U0001f468\u200da", [
        "\U0001f468\u200d", "a"]),
    "flag: a pair of regional indicators (GB12, GB13)": ("\U0001f1e9\U0001f1ea", [
        "\U0001f1e9\U0001f1ea"]),
    "three regional indicators: a flag and one left over": (
        "\U0001f1e9\U0001f1ea\U0001f1eb", ["\U0001f1e9\U0001f1ea", "\U0001f1eb"]),
    "two flags": ("\U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7", [
        "\U0001f1e9\U0001f1ea", "\U0001f1eb\U0001f1f7"]),
    # England's flag: a black flag, five tag characters and a cancel tag (tags are Extend).
    "tag sequence flag (GB9)": ("\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e"
        "\U000e0067\U000e007f", ["\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e"
        "\U000e0067\U000e007f"]),
}  # fmt: skip


@pytest.mark.parametrize("case", GRAPHEME_CASES)
def test_grapheme_clusters_follow_uax_29(case: str) -> None:
    text, clusters = GRAPHEME_CASES[case]
    assert metrics.graphemes(text) == clusters
    assert "".join(metrics.graphemes(text)) == text


def test_an_emoji_flag_or_skin_tone_is_one_grapheme() -> None:
    assert metrics.graphemes("\U0001f1e9\U0001f1ea") == ["\U0001f1e9\U0001f1ea"]
    assert metrics.graphemes("\U0001f44d\U0001f3fd") == ["\U0001f44d\U0001f3fd"]
    skin_tone_lost = metrics.score("\U0001f44d\U0001f3fd", "\U0001f44d")
    assert (skin_tone_lost.grapheme_edits, skin_tone_lost.reference_graphemes) == (1, 1)
    assert skin_tone_lost.char_edits == 1 and skin_tone_lost.reference_chars == 2
    wrong_flag = metrics.score("Made in \U0001f1e9\U0001f1ea", "Made in \U0001f1eb\U0001f1f7")
    assert (wrong_flag.grapheme_edits, wrong_flag.reference_graphemes) == (1, 9)
    assert wrong_flag.char_edits == 2


# --- paired comparisons ---------------------------------------------------------------------------


def test_a_paired_interval_sees_a_change_that_two_intervals_would_hide() -> None:
    # Page lengths and error counts vary a lot, so each configuration's own interval is wide; but
    # the corrected side has one error fewer on every page: the paired change is clearly negative.
    lengths = [100, 400, 1000, 50, 800, 300, 600, 200] * 3
    raw = [5, 40, 120, 2, 30, 25, 70, 9] * 3
    corrected = [e - 1 for e in raw]
    low, high = metrics.paired_bootstrap_ci(corrected, raw, lengths)
    assert high < 0 and metrics.verdict(low, high) == "better"
    raw_low, raw_high = metrics.bootstrap_ci(raw, lengths)
    fixed_low, fixed_high = metrics.bootstrap_ci(corrected, lengths)
    assert fixed_high > raw_low  # the two unpaired intervals overlap
    assert metrics.verdict(*metrics.paired_bootstrap_ci(raw, corrected, lengths)) == "worse"
    mixed = [e + (1 if i % 2 else -1) for i, e in enumerate(raw)]
    assert metrics.verdict(*metrics.paired_bootstrap_ci(mixed, raw, lengths)) == (
        "no evidence either way"
    )
    assert metrics.verdict(float("nan"), float("nan")) == "no evidence either way"
    with pytest.raises(ValueError, match="equally long"):
        metrics.paired_bootstrap_ci([1, 2], [1], [10, 10])


def test_rate_is_the_one_corpus_figure_and_none_is_its_one_no_rate() -> None:
    assert rate([1, 2], [4, 0]) == 0.75  # an empty reference's edits still count
    assert rate([3], [0]) is None and rate([], []) is None
    assert rate([1, float("nan")], [4, 4]) is None  # a row from before the column: no figure
    assert rate(pd.Series([1, 1]), pd.Series([2, 2])) == 0.5
    assert corpus([score("ab", "ax"), score("", "zz")])["corpus_cer"] == rate([1, 2], [2, 0])
