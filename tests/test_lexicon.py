"""The lexicon baseline: a word list and OCR confusions, no model; conservative by default."""

from __future__ import annotations

import pickle

import pytest

from ocrbench import registry
from ocrbench.correctors.lexicon import Lexicon
from ocrbench.types import OcrResult

pytest.importorskip("symspellpy")


def fix(text: str, **params: object) -> str:
    return Lexicon(**params).correct(OcrResult(text)).text  # type: ignore[arg-type]


def test_fixes_unambiguous_misreadings() -> None:
    correction = Lexicon().correct(OcrResult("the Inv0ice was sent; I shaU pay it"))
    assert correction.text == "the Invoice was sent; I shall pay it"
    assert correction.changes == (("Inv0ice", "Invoice"), ("shaU", "shall"))
    assert correction.tokens == 0  # no model


def test_leaves_numbers_codes_dates_and_amounts_alone() -> None:
    text = "INV-2024-0042 SKU12 A4 12345 $1,234.50 12/05/2024 21st 10:30 BF8 4HM"
    assert fix(text) == text


def test_leaves_greek_known_words_and_names_alone() -> None:
    for text in [
        "χρῶ χειρί, φείδου μηδὲν ὧνπερ ἐννοεῖς.",
        "The quick brown fox jumps over the lazy dog.",
        "Ashgrove Okafor Hollowmead",  # unknown, but capitalised: names, not misreadings
        "cf. infr. and aor.",  # abbreviations
    ]:
        assert fix(text) == text


def test_ambiguous_tokens_are_left_as_printed() -> None:
    # "tbe" can only be "the"; "lile" could be "life" or "file"; "ihe" -> "inc" is too costly
    assert fix("see tbe lile and ihe end") == "see the lile and ihe end"
    assert fix("see tbe lile", dominance=1) == "see the life"
    # a line's first lowercase word may be the tail of a hyphenated word: left alone
    assert fix("tbe matter") == "tbe matter"


def test_keeps_line_structure_and_whitespace_exactly() -> None:
    text = "  Tot@l\tdue\n\n at tbe  end  \r\n"
    assert fix(text) == "  Total\tdue\n\n at the  end  \r\n"
    assert fix("") == ""


def test_symspell_reaches_beyond_the_confusions_only_when_asked() -> None:
    assert fix("the goverment said") == "the goverment said"
    assert fix("the goverment said", max_edit_distance=2) == "the government said"


def test_same_input_same_output_and_a_long_line() -> None:
    line = ("I shaU see the Inv0ice " * 500)[:9990].ljust(10000)
    first, second = fix(line), fix(line)
    assert first == second
    assert first == line.replace("shaU", "shall").replace("Inv0ice", "Invoice")


def test_parameters() -> None:
    with pytest.raises(ValueError, match="dominance"):
        Lexicon(dominance=0.5)
    with pytest.raises(ValueError, match="max_edit_distance"):
        Lexicon(max_edit_distance=5)
    built = registry.correctors.from_spec("lexicon:min_count=0,max_edit_distance=1")
    assert (built.min_count, built.max_edit_distance) == (0, 1)
    assert built.version().startswith("lexicon-lx4 symspellpy-")
    assert pickle.loads(pickle.dumps(built)) == built


def test_a_page_is_not_charged_the_one_off_dictionary_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speller's dictionary loads once per process (0.6 s for max_edit_distance 1): the page
    that happened to need it first was charged for it."""
    from ocrbench.correctors import lexicon as lexicon_module

    from conftest import SlowClock

    clock, real = SlowClock(monkeypatch), lexicon_module._symspell.__wrapped__

    def slow(max_edit_distance: int) -> object:
        clock.wait(100.0)  # a load of 100 s, in no time
        return real(max_edit_distance)

    monkeypatch.setattr(lexicon_module, "_symspell", lexicon_module.once(slow))
    correction = Lexicon(max_edit_distance=1).correct(OcrResult("the brwn fox jumped"))
    assert correction.changes and correction.seconds < 50


def test_every_corrector_that_reads_the_english_list_names_its_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """symspellpy's list is read by the lexicon, the noisy channel (and its fit) and the prompt's
    guard: another list (another symspellpy, a list shadowed on the path) gave other corrections
    under the cached ones' key."""
    pytest.importorskip("llama_cpp")
    from ocrbench.correctors import words
    from ocrbench.correctors.noisy_channel import NoisyChannel
    from ocrbench.correctors.prompt import Prompt

    made = [Lexicon(), NoisyChannel(), Prompt()]
    before = [corrector.version() for corrector in made]
    shown = f"en-words:{words.english().sha256[:16]}"
    assert all(shown in version for version in before), before
    other = words.WordList({**words.english().counts, "tota1": 5}, sha256="0" * 64)
    monkeypatch.setattr(words, "english", lambda: other)
    after = [corrector.version() for corrector in made]
    assert all(b != a for b, a in zip(before, after, strict=True)), after
