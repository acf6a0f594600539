"""Flexible character accuracy and the bag-of-words error on cases computed by hand."""

from __future__ import annotations

import pytest

from ocrbench import flexible, metrics

# (reference, OCR, bag-of-words errors, flexible errors, reference characters without line breaks)
CASES = {
    # Every line right, in another order: nothing wrong for either measure, while CER is high.
    "reordered lines": ("abc\ndef", "def\nabc", 0, 0, 6),
    # One reference line read as two: the words and the characters are all there.
    "split line": ("abc def", "abc\ndef", 0, 0, 7),
    # Two reference lines read as one (the merged columns of a receipt).
    "merged lines": ("Item A\n12.00", "Item A 12.00", 0, 0, 11),
    # A reference line the OCR lost: its 3 characters are deletions, its word one error.
    "missing line": ("abc\ndef", "abc", 1, 3, 6),
    # A line the OCR made up: 3 insertions against 3 reference characters.
    "extra line": ("abc", "abc\nxyz", 1, 3, 3),
    "identical": ("abc\ndef", "abc\ndef", 0, 0, 6),
    # A misread character in a line that also moved: 1 substitution.
    "moved and misread": ("abc\ndef", "dcf\nabc", 1, 1, 6),
    # The window of the reference line in a longer OCR line: 1 substitution, "Item A" extra (6).
    "part of a longer line": ("Total 12.00", "Item A Total 12.0O", 3, 7, 11),
}


@pytest.mark.parametrize("case", CASES)
def test_both_measures_agree_with_the_hand_computed_values(case: str) -> None:
    reference, ocr, bow, flex, chars = CASES[case]
    scored = metrics.score(reference, ocr)
    assert scored.bow_errors == bow
    assert (scored.flex_errors, scored.flex_chars) == (flex, chars)
    assert flexible.accuracy(reference.splitlines(), ocr.splitlines()) == pytest.approx(
        1 - flex / chars
    )


def test_a_reordered_page_is_fully_right_for_both_while_its_cer_is_high() -> None:
    reference = "Coffee 3.50\nBagel 2.25\nTotal 5.75"
    ocr = "Total 5.75\nCoffee 3.50\nBagel 2.25"
    scored = metrics.score(reference, ocr)
    assert scored.cer is not None and scored.cer > 0.3
    assert scored.bow_errors == 0 and scored.flex_errors == 0


def test_lines_are_normalised_as_the_cer_is() -> None:
    norm = metrics.Normalization(casefold=True)
    assert norm.lines("  Abc   DEF \n\n \nx\u0301 ") == ["abc def", "x\u0301"]
    scored = metrics.score("ABC\ndef", "def\nabc", norm)
    assert scored.flex_errors == 0


def test_no_reference_characters_means_no_accuracy() -> None:
    assert flexible.accuracy([], ["abc"]) is None
    assert flexible.errors([], ["abc"]) == (3, 0)


def test_the_summary_gives_the_corpus_accuracy_over_all_reference_characters() -> None:
    import pandas as pd

    from ocrbench import results

    rows = []
    for sample_id, (reference, ocr, *_rest) in enumerate(CASES.values()):
        scored = metrics.score(reference, ocr)
        rows.append({
            "dataset": "d", "config_id": "c", "config": "c", "corrector": "identity",
            "sample_id": str(sample_id), "char_edits": scored.char_edits,
            "raw_char_edits": scored.char_edits, "reference_chars": scored.reference_chars,
            "word_edits": scored.word_edits, "reference_words": scored.reference_words,
            "cer": scored.cer, "bow_errors": scored.bow_errors, "flex_errors": scored.flex_errors,
            "flex_chars": scored.flex_chars, "ocr_seconds": 0.1, "correct_seconds": 0.0,
            "tokens": 0, "words_fixed": 0, "words_broken": 0, "preference": 0.0,
        })  # fmt: skip
    summary = results.summary(pd.DataFrame(rows))
    errors = sum(case[3] for case in CASES.values())
    chars = sum(case[4] for case in CASES.values())
    assert summary["flex_accuracy"].iloc[0] == pytest.approx(1 - errors / chars)
