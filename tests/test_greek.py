"""Greek in the noisy channel: Tesseract's grc word list, the two Greek channels, and the
corrector with `lang=eng+grc` on real commentary lines."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrbench import datasets, metrics, registry
from ocrbench.correctors import greek
from ocrbench.correctors.noisy_channel import NoisyChannel
from ocrbench.errors import SetupError
from ocrbench.types import OcrResult

from conftest import shared_data


def _needs_grc() -> None:
    if shutil.which("tesseract") is None or shutil.which("dawg2wordlist") is None:
        pytest.skip("Tesseract and its tools are not installed (make setup installs them)")
    try:
        greek._tessdata()
    except SetupError as error:
        pytest.skip(str(error))


@pytest.fixture
def fresh_words(cache_dir: Path) -> Iterator[None]:
    """Greek words read anew (into a private cache), and forgotten afterwards."""
    greek.words.cache_clear()
    yield
    greek.words.cache_clear()


@pytest.fixture(scope="module")
def lexicon() -> greek.GreekWords:
    _needs_grc()
    try:
        return greek.words()
    except SetupError as error:
        pytest.skip(str(error))


def test_the_word_list_is_extracted_from_tesseracts_grc_pack(
    fresh_words: None, cache_dir: Path
) -> None:
    _needs_grc()
    words = greek.words()
    assert len(words.forms) > 90_000  # 137,070 forms, less the capitals-only repeats
    assert {"λόγος", "ὥσπερ", "Αἴας", "καίπερ"} <= words.forms
    listed = list((cache_dir / "words").glob("grc-*.txt"))
    assert len(listed) == 1 and words.sha256.startswith(listed[0].stem.removeprefix("grc-"))


def test_a_missing_grc_pack_is_a_clear_error(
    fresh_words: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    with pytest.raises(SetupError, match="tesseract-ocr-grc"):
        greek.words()


def test_greek_misread_by_the_greek_model(lexicon: greek.GreekWords) -> None:
    assert "τροφῆς" in lexicon.respellings("τροφης", 6)  # a lost circumflex
    assert "ἐλευθέρου" in lexicon.respellings("ἐλευθέρον", 6)  # υ read as ν
    assert "πρὸς" in lexicon.respellings("πρὸβ", 6)  # ς read as β
    assert lexicon.respellings("᾿Αργείων", 6) == {"Ἀργείων": 0.0}  # a breathing set apart
    # Never a different word: the list lacks σθένοντος, and θέλοντος is two letters away.
    assert "θέλοντος" not in lexicon.respellings("σθένοντος", 6)


def test_a_known_word_keeps_its_marks(lexicon: greek.GreekWords) -> None:
    assert lexicon.knows("πρὸς") and lexicon.knows("τών")
    assert lexicon.respellings("πρὸς", 6, known=True) == {}  # not "προς", nor "πρός"
    assert lexicon.respellings("τών", 6, known=True) == {"τῶν": 0.5}


def test_greek_read_by_the_latin_model(lexicon: greek.GreekWords) -> None:
    assert "ὡς" in lexicon.greek_readings("ws", 6)
    assert "ὥσπερ" in lexicon.greek_readings("worep", 6)
    assert "καίπερ" in lexicon.greek_readings("Kaimep", 6)
    tou = lexicon.greek_readings("TOU", 6)
    assert "τοῦ" in tou and "ΤΟΥ" in tou  # Latin capitals may be Greek small letters
    assert all(cost >= greek.SCRIPT_COST for cost in tou.values())
    assert lexicon.greek_readings("12", 6) == {} and lexicon.greek_readings("a", 6) == {}


def test_lang_is_validated() -> None:
    with pytest.raises(ValueError, match="eng, grc"):
        NoisyChannel(lang="fra")
    assert registry.correctors.from_spec("noisy-channel:lang=eng+grc").lang == "eng+grc"


# --- with the embedded Gemma 3 270M --------------------------------------------------------------


@pytest.mark.llm
def test_greek_readings_only_with_grc(model_dir: str, lexicon: greek.GreekWords) -> None:
    line = "O. T. 54 ws εἴπερ ἄρξεις τῆσδε γῆς, worep"
    english = NoisyChannel(model_dir=model_dir)
    both = NoisyChannel(model_dir=model_dir, lang="eng+grc")
    assert english.correct(OcrResult(line)).text == line
    corrected = both.correct(OcrResult(line))
    assert corrected.text == "O. T. 54 ὡς εἴπερ ἄρξεις τῆσδε γῆς, ὥσπερ"
    assert corrected.changes == (("ws", "ὡς"), ("worep", "ὥσπερ"))
    assert "grc-words:" in both.version() and "grc-words:" not in english.version()
    both.close()


@pytest.mark.llm
def test_lowers_cer_on_commentary_lines_read_by_tesseract(
    model_dir: str, lexicon: greek.GreekWords, tmp_path: Path
) -> None:
    """Real lines of Jebb's and Campbell's Ajax commentaries, read by Tesseract eng+grc. The
    size of the gain is benchmarks/corrector_accuracy.py's to measure; here it must be a gain,
    with more words fixed than broken."""
    from ocrbench.engines.tesseract import Tesseract

    source = shared_data("gt4histcomment-en")
    converted = tmp_path / "gt4"
    datasets.convert("pairs", source, converted)
    samples = random.Random(7).sample(datasets.load(converted).samples, 40)
    engine = Tesseract(lang="eng+grc", psm=7)
    raw = [engine.recognize(s.image).text for s in samples if s.image is not None]
    corrector = NoisyChannel(model_dir=model_dir, lang="eng+grc")
    fixed = [corrector.correct(OcrResult(text)).text for text in raw]
    corrector.close()
    truths = [s.text for s in samples]
    before = metrics.corpus([metrics.score(t, h) for t, h in zip(truths, raw, strict=True)])
    after = metrics.corpus([metrics.score(t, h) for t, h in zip(truths, fixed, strict=True)])
    assert after["corpus_cer"] < before["corpus_cer"]
    effects = [metrics.word_effect(*texts) for texts in zip(truths, raw, fixed, strict=True)]
    assert sum(e.fixed for e in effects) > 2 * sum(e.broken for e in effects)


def test_a_training_sets_greek_joins_the_list(lexicon: greek.GreekWords) -> None:
    assert not lexicon.knows("σθένοντος")  # a commentary word Tesseract's list lacks
    more = lexicon.with_words(["σθένοντος", "σθένοντ᾽", "Invoice", "ΚΑΤΑ", "λόγος"])
    assert more.knows("σθένοντος") and "σθένοντος" in more.respellings("σθενοντος", 6)
    # Not Greek, elided, in capitals (made on demand), known: nothing else is added.
    assert not more.knows("Invoice") and more.forms - lexicon.forms == {"σθένοντος"}
    assert more.sha256 != lexicon.sha256 and lexicon.with_words(["λόγος"]) is lexicon
    assert not lexicon.knows("σθένοντος")  # the installed list is left as it was


def test_trained_its_references_greek_words_are_proposed(lexicon: greek.GreekWords) -> None:
    corrector = NoisyChannel(lang="eng+grc")
    pairs = [("Cf. σθένοντος, strong", "Cf. σθένοντος, strong")]
    trained = corrector.trained(corrector.fit(pairs))

    def readings(chosen: NoisyChannel) -> set[str]:
        found = {e["token"]: e["readings"] for e in chosen.explain("τοῦ σθενοντος")}
        return {reading for reading, _, _ in found.get("σθενοντος", [])}

    assert "σθένοντος" in readings(trained) and "σθένοντος" not in readings(corrector)
