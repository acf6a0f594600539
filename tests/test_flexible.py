"""Flexible character accuracy and the bag-of-words error on cases computed by hand."""

from __future__ import annotations

import json
import random
from pathlib import Path

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
    # The reference line is part of a longer OCR line: 1 substitution and "Item A " extra (7), as
    # the CER counts: "Item A" matches no reference line, so the space that cut it off is an error.
    "part of a longer line": ("Total 12.00", "Item A Total 12.0O", 3, 8, 11),
    # The same OCR line where "Item A" is a reference line of its own: the space is a line break.
    "merged with an error": ("Item A\nTotal 12.00", "Item A Total 12.0O", 1, 1, 17),
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


# --- with the reading order right, the measure agrees with the character edits ---------------------
# Clausner, Pletschacher and Antonacopoulos designed it so: only the order is forgiven. A line is
# matched against the part of the other line it aligns with best, its ends free, so one inserted
# or deleted character is one error (not a window of fixed width that pushes a character out and
# counts it again as a line of its own).

KEEP = metrics.Normalization(collapse_whitespace=False)


@pytest.mark.parametrize(
    ("reference", "ocr", "norm", "edits"),
    [
        ("hello world", "hello, world", metrics.Normalization(), 1),  # an insertion
        ("hello, world", "hello world", metrics.Normalization(), 1),  # a deletion
        ("The total amount is due", "The total amount iss due", metrics.Normalization(), 1),
        ("abcdef", "abcdeXf", metrics.Normalization(), 1),  # next to the end of the line
        ("hello world", "hello   world", KEEP, 2),  # two spaces more, kept as written
        ("kitten", "sitting", metrics.Normalization(), 3),
    ],
)
def test_a_line_read_in_order_costs_its_character_edits(
    reference: str, ocr: str, norm: metrics.Normalization, edits: int
) -> None:
    scored = metrics.score(reference, ocr, norm)
    assert scored.char_edits == edits
    assert scored.flex_errors == edits


def _edited(rng: random.Random, text: str, alphabet: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        kind, where = rng.choice("sid"), rng.randint(0, len(chars))
        if kind == "i" or not chars:
            chars.insert(where, rng.choice(alphabet))
        elif kind == "s":
            chars[min(where, len(chars) - 1)] = rng.choice(alphabet)
        else:
            del chars[min(where, len(chars) - 1)]
    return "".join(chars)


# Letters, digits, punctuation, accents (both forms), Greek; no whitespace: see the next test.
LETTERS = "abcdeIl10O:.,;-éèe\u0301ΑαΩωἀ"


@pytest.mark.parametrize("seed", range(4))
def test_one_line_in_order_has_as_many_flexible_errors_as_character_edits(seed: int) -> None:
    rng = random.Random(seed)
    norm = metrics.Normalization()
    for _ in range(500):
        reference = "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 40)))
        ocr = _edited(rng, reference, LETTERS, rng.randint(0, max(1, len(reference) // 3)))
        scored = metrics.score(reference, ocr, norm)
        ref, hyp = norm.apply(reference), norm.apply(ocr)
        if set(ref) & set(hyp):
            assert scored.flex_errors == scored.char_edits, (reference, ocr)
        else:  # nothing right: the line is unmatched, its characters and the OCR's all errors
            assert scored.flex_errors == len(ref) + len(hyp), (reference, ocr)


@pytest.mark.parametrize("seed", range(3))
def test_with_spaces_too_one_line_in_order_costs_its_character_edits(seed: int) -> None:
    # A left-over part of a line loses its outer spaces and goes back as a line: matched, the space
    # where it was cut is a line break; unmatched, it is an error like the part's characters.
    rng = random.Random(seed)
    alphabet = LETTERS + "  "
    norm = metrics.Normalization()
    assert metrics.score("ab cd", "ab cd x").flex_errors == 2  # " x" inserted
    assert metrics.score("ab cd\nx", "ab cd x").flex_errors == 0  # two lines read as one
    for _ in range(400):
        reference = norm.apply("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))))
        ocr = norm.apply(_edited(rng, reference, alphabet, rng.randint(0, 6)))
        if not set(reference) & set(ocr):
            continue
        scored = metrics.score(reference, ocr, norm)
        assert scored.flex_errors == scored.char_edits, (reference, ocr)


def _invoices() -> list[str]:
    manifest = (
        Path(__file__).resolve().parents[1] / "datasets" / "invoices-synth" / "manifest.jsonl"
    )
    return [json.loads(line)["text"] for line in manifest.read_text(encoding="utf-8").splitlines()]


def _noisy_lines(rng: random.Random, page: str) -> list[str]:
    """Each line with about 5 % of its characters substituted, deleted or inserted (spaces left
    alone)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789.,:-"
    out = []
    for line in page.splitlines():
        chars = []
        for char in line:
            draw = rng.random()
            if char == " " or draw >= 0.05:
                chars.append(char)
            elif draw < 0.02:
                chars.append(rng.choice(alphabet))
            elif draw < 0.035:
                chars.extend((char, rng.choice(alphabet)))
        out.append("".join(chars))
    return out


def test_pages_read_in_order_or_shuffled_cost_about_their_character_edits() -> None:
    # The 48 bundled invoices and receipts, 5 % of their characters garbled. In order, a page's
    # flexible errors are its character edits, but where greedy matching pairs a line with a
    # near-identical one ("2 x 1.74" read as "2 x 174" is one edit from it, and one from the
    # "2 x 1.84" of the next line, which has more characters right): a few receipts per draw.
    rng = random.Random(0)
    edits = in_order = shuffled = exact = 0
    for page in _invoices():
        lines = _noisy_lines(rng, page)
        scored = metrics.score(page, "\n".join(lines))
        edits += scored.char_edits
        in_order += scored.flex_errors
        exact += scored.flex_errors == scored.char_edits
        rng.shuffle(lines)
        reordered = metrics.score(page, "\n".join(lines))
        shuffled += reordered.flex_errors
        assert reordered.char_edits > 5 * reordered.flex_errors  # CER punishes the order
    assert edits > 500
    assert exact >= 40
    assert abs(in_order - edits) <= 0.03 * edits
    assert shuffled <= 1.03 * in_order  # the order costs (next to) nothing
