"""The noisy-channel corrector: OCR confusions propose, a small base language model disposes.

For each suspicious token (a word no dictionary knows, or letters mixed with digits that OCR
prints for letters: "N0", "Tot@l") the channel proposes readings that are known words ("No",
"Total"), each with the cost of the misreadings it assumes. A language model scores every reading
in a window of the line (a few words before, a few after), and the best reading replaces the token
only if
    log P(reading in window) - channel_weight * cost  >  log P(token in window) + margin.
Nothing is generated, so no instruction following is needed: the embedded 270M base model drives it.

Left alone: numbers, amounts, dates, codes, known words, words cut at a line's end, and every
whitespace character; lines are corrected independently. Words in other scripts are left alone
too, unless `lang` names them: with `lang=eng+grc` (the Greek quoted in a classical commentary,
read by Tesseract `eng+grc`) Greek words are read again through Greek channels (`greek.py`), and
Latin-letter words may be Greek that Tesseract's Latin model read ("ws" for ὡς).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from ocrbench import models
from ocrbench.correctors import greek, words
from ocrbench.correctors.candidates import (
    abbreviation,
    candidates,
    likelier_readings,
    suspicious,
)
from ocrbench.correctors.llm import ModelSettings
from ocrbench.scoring import Request, Scorer
from ocrbench.types import Correction, OcrResult

LANGUAGES = ("eng", "grc")  # English words (symspellpy's list); Greek (Tesseract's grc list)
ALGORITHM = "nc3"  # bump when the output for the same input and parameters could change


@dataclass(frozen=True)
class _Site:
    """One suspicious token (slot `slot` of line `line`) and the texts that score its readings."""

    line: int
    slot: int
    readings: tuple[str, ...]  # the token's core as printed first, then its candidate readings
    costs: tuple[float, ...]
    request: Request


@dataclass
class _Line:
    """A line as tokens ("slots") and the whitespace between them, which is never touched.

    A slot's text may change (even to two words, "king was") while the slots stay put, so windows
    and second passes count words as the OCR printed them.
    """

    text: str
    tokens: list[words.Token]
    texts: list[str]

    @classmethod
    def of(cls, text: str) -> _Line:
        tokens = list(words.tokens(text))
        return cls(text, tokens, [t.text for t in tokens])

    def render(self) -> str:
        parts, end = [], 0
        for token, text in zip(self.tokens, self.texts, strict=True):
            parts.append(self.text[end : token.start] + text)
            end = token.end
        return "".join(parts) + self.text[end:]

    def _span(self, first: int, last: int) -> str:
        """Slots first..last (inclusive) with the whitespace between them."""
        parts = [self.texts[first]]
        for k in range(first + 1, last + 1):
            parts.append(self.text[self.tokens[k - 1].end : self.tokens[k].start] + self.texts[k])
        return "".join(parts)

    def beside_greek(self, slot: int) -> bool:
        """Whether a neighbouring token has Greek letters."""
        near = self.tokens[max(0, slot - 1) : slot] + self.tokens[slot + 1 : slot + 2]
        return any(greek.has_greek(t.core) for t in near)

    def left(self, slot: int, count: int) -> str:
        """Up to `count` words before a slot, without the whitespace that follows them."""
        return self._span(max(0, slot - count), slot - 1) if slot and count else ""

    def right(self, slot: int, count: int) -> str:
        """The whitespace after a slot and up to `count` words after it."""
        last = min(len(self.tokens) - 1, slot + count)
        if last <= slot:
            return ""
        gap = self.text[self.tokens[slot].end : self.tokens[slot + 1].start]
        return gap + self._span(slot + 1, last)


@dataclass(frozen=True)
class NoisyChannel(ModelSettings):
    name: ClassVar[str] = "noisy-channel"

    # The corrector's own knobs; the model's are ModelSettings'.
    left_words: int = 6  # words of context before a token
    right_words: int = 2  # words of context after it
    margin: float = 2.0  # nats by which a reading must beat the token as printed
    channel_weight: float = 2.0  # nats per unit of confusion cost
    max_candidates: int = 6  # readings scored per token (cheapest misreadings first)
    max_edits: int = 2  # misreadings combined in one reading
    rare_ratio: float = 0.0  # >0: also check known words with a reading this much more frequent
    passes: int = 2  # a second pass rescores the neighbours of a change in the corrected context
    batch_tokens: int = 512  # tokens per llama_decode
    lang: str = "eng"  # the page's languages, as Tesseract takes them: "eng" or "eng+grc"

    def __post_init__(self) -> None:
        self.spec()  # validates the model fields with ModelSpec's own messages
        for name in ("left_words", "right_words", "max_edits"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        if self.passes < 1:
            raise ValueError(f"passes must be >= 1, not {self.passes}")
        if not 1 <= self.max_candidates <= 63:  # with the token as printed: 64 sequences a decode
            raise ValueError(f"max_candidates must be between 1 and 63, not {self.max_candidates}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0 nats, not {self.margin}")
        if self.rare_ratio < 0:
            raise ValueError(f"rare_ratio must be >= 0 (0: off), not {self.rare_ratio}")
        if self.channel_weight < 0:
            raise ValueError(f"channel_weight must be >= 0, not {self.channel_weight}")
        unknown = set(self.lang.split("+")) - set(LANGUAGES)
        if unknown or not self.lang:
            raise ValueError(
                f"lang must be '+'-joined from {', '.join(LANGUAGES)} (as in 'eng+grc'), "
                f"not {self.lang!r}"
            )
        if not 64 <= self.batch_tokens <= self.n_ctx:
            raise ValueError(
                f"batch_tokens must be between 64 and n_ctx ({self.n_ctx}), not {self.batch_tokens}"
            )

    def version(self) -> str:
        words = f" grc-words:{greek.words().sha256[:16]}" if self._greek else ""
        return self.model_version(f"noisy-channel-{ALGORITHM}{words}")

    @property
    def _greek(self) -> bool:
        return "grc" in self.lang.split("+")

    # -- the model, loaded on first use and kept until close() --------------------------------

    def _scorer(self) -> Scorer:
        scorer: Scorer | None = self.__dict__.get("_scorer_")
        loaded: models.LoadedModel | None = self.__dict__.get("_loaded_")
        if scorer is None or loaded is None or loaded.closed:
            # A model closed by another user of it took our context's weights along: the old
            # context is dropped unfreed (freeing it now would touch freed memory), a new one made.
            loaded = models.load(self.spec(), logging=self.logging)
            scorer = Scorer(loaded.llama, batch_tokens=self.batch_tokens, n_threads=self.n_threads)
            object.__setattr__(self, "_loaded_", loaded)
            object.__setattr__(self, "_scorer_", scorer)
        return scorer

    def close(self) -> None:
        """Free the scoring context, then the model (shared in the process: every user of the
        same model loses it), like the tutorial's free_resources()."""
        scorer = self.__dict__.pop("_scorer_", None)
        if scorer is not None:
            scorer.close()
        loaded = self.__dict__.pop("_loaded_", None)
        if loaded is not None:
            loaded.close()

    def __getstate__(self) -> dict[str, Any]:
        # A loaded model does not pickle (sweep workers): they load their own.
        return {k: v for k, v in self.__dict__.items() if k not in ("_scorer_", "_loaded_")}

    # -- correction ---------------------------------------------------------------------------

    def correct(self, ocr: OcrResult) -> Correction:
        start = time.perf_counter()
        lines = [_Line.of(text) for text in ocr.text.split("\n")]
        found = {
            (i, k): readings
            for i, line in enumerate(lines)
            for k, token in enumerate(line.tokens)
            if (readings := self._readings(line, k))
        }
        if not found:  # nothing suspicious: the model is not even loaded
            return Correction(text=ocr.text, seconds=time.perf_counter() - start)
        scorer = self._scorer()
        before = scorer.tokens
        changed: set[tuple[int, int]] = set()
        pending = set(found)
        for _ in range(self.passes):
            sites = [
                site
                for i, k in sorted(pending)
                if (site := self._site(scorer, lines[i], i, k, found[(i, k)])) is not None
            ]
            fresh = set()
            for site, logprobs in zip(sites, scorer.score([s.request for s in sites]), strict=True):
                best = self._choose(site, logprobs)
                line = lines[site.line]
                token = line.tokens[site.slot]
                text = token.text if best is None else token.lead + best + token.trail
                if text != line.texts[site.slot]:
                    line.texts[site.slot] = text
                    fresh.add((site.line, site.slot))
            changed |= fresh
            # A change is new context for its neighbours: score those again around it.
            pending = {
                (i, k)
                for i, k in found
                if (i, k) not in fresh
                and any(
                    (i, j) in fresh for j in range(k - self.left_words, k + self.right_words + 1)
                )
            }
            if not pending:
                break
        changes = tuple(
            (lines[i].tokens[k].text, lines[i].texts[k])
            for i, k in sorted(changed)
            if lines[i].texts[k] != lines[i].tokens[k].text
        )
        return Correction(
            text="\n".join(line.render() for line in lines),
            seconds=time.perf_counter() - start,
            tokens=scorer.tokens - before,
            changes=changes,
        )

    def _readings(self, line: _Line, slot: int) -> dict[str, float]:
        """What the token could have been ({} to leave it alone), with channel costs."""
        token = line.tokens[slot]
        if slot == len(line.tokens) - 1 and token.text.endswith("-"):
            return {}  # "im-": the word goes on on the next line, and is no word alone
        if self._greek and greek.is_greek(token.core):
            return self._greek_respellings(token.core)
        lexicon = words.english()
        unknown = suspicious(token.core, lexicon)
        if unknown and abbreviation(token.core, token.trail):
            return {}
        found = {}
        if unknown:
            # Unlike the lexicon baseline, a line's first lowercase word is tried too (it may be
            # the tail of a word hyphenated on the line before): the model sees if a reading fits;
            # skipping them cost 1.2 points of CER reduction on ICDAR 2017 and gained nothing.
            found = candidates(token.core, lexicon, self.max_edits)
        elif self.rare_ratio:
            found = likelier_readings(token.core, lexicon, self.rare_ratio)
        found = _first(found, self.max_candidates)
        if self._greek and words.kind(token.core) in _MAYBE_GREEK:
            found |= self._greek_readings(line, slot, unknown)
        return found

    def _greek_readings(self, line: _Line, slot: int, unknown: bool) -> dict[str, float]:
        """Latin letters may be Greek that Tesseract's Latin model read: an unknown word
        ("ws" for ὡς), or a known one beside Greek ("Alas" for Αἴας, "ye" for γε), at a price."""
        if not unknown and not line.beside_greek(slot):
            return {}
        found = greek.words().greek_readings(line.tokens[slot].core, self.max_candidates)
        extra = 0.0 if unknown else greek.REAL_WORD_COST
        return {reading: cost + extra for reading, cost in found.items()}

    def _greek_respellings(self, core: str) -> dict[str, float]:
        """Greek the word list lacks may be Tesseract's misreading of Greek it has; elided
        words (δ᾽) and words cut at the line's end are not in any list."""
        if core[-1] in greek.ELISION or core.endswith("-"):
            return {}
        lexicon = greek.words()
        if not lexicon.knows(core):
            return lexicon.respellings(core, self.max_candidates)
        # A real word may still be a misreading: σον for σου, τών for τῶν.
        found = lexicon.respellings(core, self.max_candidates, known=True)
        return {r: c + greek.REAL_WORD_COST for r, c in found.items()}

    def _choose(self, site: _Site, logprobs: list[float]) -> str | None:
        """The winning reading of the token's core, or None to keep it as printed."""
        weighted = zip(logprobs, site.costs, strict=True)
        scores = [lp - self.channel_weight * cost for lp, cost in weighted]
        best = max(range(1, len(scores)), key=scores.__getitem__)
        return site.readings[best] if scores[best] - scores[0] > self.margin else None

    def _site(
        self, scorer: Scorer, line: _Line, number: int, slot: int, found: dict[str, float]
    ) -> _Site | None:
        """The request that scores a token's readings in their window of the line."""
        token = line.tokens[slot]
        readings = (token.core, *list(found)[:_MAX_READINGS])
        costs = (0.0, *(found[r] for r in readings[1:]))
        left = line.left(slot, self.left_words)
        prefix = [scorer.bos, *scorer.tokenize(left)[-_MAX_LEFT_TOKENS:]]
        after = scorer.tokenize(line.right(slot, self.right_words))[:_MAX_RIGHT_TOKENS]
        space = " " if left else ""
        texts = []
        for reading in readings:
            middle = scorer.tokenize(space + token.lead + reading + token.trail)
            if len(middle) > _MAX_TOKEN_TOKENS:
                return None
            texts.append(tuple(prefix + middle + after))
        request = Request(tuple(texts), first=len(prefix))
        if not scorer.fits(request):
            return None
        return _Site(number, slot, readings, costs, request)


# Kinds of Latin-letter token that may be Greek the Latin model read ("ws", "pu@os", "¢x8pav").
_MAYBE_GREEK = (words.Kind.WORD, words.Kind.CONFUSED, words.Kind.OTHER)


def _first(found: dict[str, float], count: int) -> dict[str, float]:
    return dict(list(found.items())[:count])


# Windows are counted in words, but a "word" of OCR garbage can be many tokens: caps in tokens.
_MAX_LEFT_TOKENS = 48
_MAX_RIGHT_TOKENS = 24
_MAX_TOKEN_TOKENS = 24
_MAX_READINGS = 63  # with the token as printed, the 64 sequences one decode holds
