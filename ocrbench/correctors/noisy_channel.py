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

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ocrbench.correctors import channel, confusions, greek, search, words
from ocrbench.correctors.base import with_state
from ocrbench.correctors.candidates import (
    abbreviation,
    candidates,
    initials,
    joined,
    likelier_readings,
    normal_case,
    suspicious,
)
from ocrbench.correctors.llm import ModelSettings
from ocrbench.correctors.loads import Clock, one_off
from ocrbench.scoring import Request, Scorer
from ocrbench.types import Correction, OcrResult

LANGUAGES = ("eng", "grc")  # English words (symspellpy's list); Greek (Tesseract's grc list)
ALGORITHM = "nc6"  # bump when the output could change (nc5: seconds leave loads out; nc6: NFC)
TRAINED = "t6"  # bump when a trained corrector's output for the same state could change


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
    joined: set[int] = field(default_factory=set)  # slots joined to the one before ("un fairness")

    @classmethod
    def of(cls, text: str) -> _Line:
        tokens = list(words.tokens(text))
        return cls(text, tokens, [t.text for t in tokens])

    def gap(self, slot: int) -> str:
        """The whitespace before a slot (none once it is joined to the slot before)."""
        if slot in self.joined:
            return ""
        return self.text[self.tokens[slot - 1].end if slot else 0 : self.tokens[slot].start]

    def join(self, slot: int, text: str) -> None:
        """Slots `slot` and `slot + 1` become one word, `text`."""
        self.texts[slot], self.texts[slot + 1] = text, ""
        self.joined.add(slot + 1)

    def render(self) -> str:
        parts = [self.gap(k) + text for k, text in enumerate(self.texts)]
        return "".join(parts) + self.text[self.tokens[-1].end if self.tokens else 0 :]

    def _span(self, first: int, last: int) -> str:
        """Slots first..last (inclusive) with the whitespace between them."""
        return "".join(
            [self.texts[first]] + [self.gap(k) + self.texts[k] for k in range(first + 1, last + 1)]
        )

    def printed(self, slot: int) -> str:
        """A slot as OCR printed it: with the next one when that was joined to it."""
        token = self.tokens[slot]
        if slot + 1 not in self.joined:
            return token.text
        return self.text[token.start : self.tokens[slot + 1].end]

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
        return self.gap(slot + 1) + self._span(slot + 1, last)


@dataclass(frozen=True)
class NoisyChannel(ModelSettings):
    name: ClassVar[str] = "noisy-channel"
    FIT_VERSION: ClassVar[str] = f"channel-{channel.STATE_FORMAT}"  # what fit learns
    TRAINED_VERSION: ClassVar[str] = TRAINED  # how it corrects with it (trained rows' keys)

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
        super().__post_init__()  # the model fields, made concrete and checked as ModelSpec does
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
        grc = f" grc-words:{greek.words().sha256[:16]}" if self._greek else ""
        digest = self.__dict__.get("_digest_")
        trained = "" if digest is None else f" trained-{TRAINED}:{digest}"
        english = words.english_version()
        return self.model_version(f"noisy-channel-{ALGORITHM} {english}{grc}{trained}")

    # -- learning from a training set (the optional step of the protocol) ---------------------

    def fit(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The channel of the training pairs: rules, their counts, the references' words."""
        return channel.learn(pairs)

    def trained(self, state: dict[str, Any]) -> NoisyChannel:
        """This corrector, with its candidates drawn from the learned channel as well."""
        trained: NoisyChannel = with_state(self, state)
        return trained

    def describe(self, state: dict[str, Any]) -> dict[str, Any]:
        learned = channel.Channel.of(state, self.channel_weight)
        top = sorted(learned.counts.items(), key=lambda item: (-item[1], item[0]))[:30]
        seen, right = learned.joins
        return {
            "pairs": learned.pairs,
            "rules": len(learned.costs),
            "vocabulary": len(learned.vocabulary),
            "joins": {"seen": seen, "right": right, "used": learned.joins_right},
            "abbreviations": {
                "seen": learned.abbreviations[0],
                "kept": learned.abbreviations[1],
                "left alone": learned.abbreviations_kept,
            },
            "prior_scale": round(learned.prior_scale, 3),
            "rewrites": [
                {"ocr": r[0], "truth": r[1], "right": r[2], "printed": r[3]}
                for r in state["rewrites"]
            ],
            "confusions": [
                {
                    "ocr": seen,
                    "truth": meant,
                    "count": n,
                    "cost": round(learned.costs[(seen, meant)], 3),
                }
                for (seen, meant), n in top
            ],
        }

    def _learned(self) -> _Learned | None:
        """The learned channel made ready for searching, once per process (None: untrained)."""
        state = self.__dict__.get("_state_")
        if state is None:
            return None
        ready: _Learned | None = self.__dict__.get("_learned_")
        if ready is None:
            with one_off():  # once per process, like loading the model
                ready = _Learned.of(channel.Channel.of(state, self.channel_weight), self._greek)
            object.__setattr__(self, "_learned_", ready)
        return ready

    @property
    def _greek(self) -> bool:
        return "grc" in self.lang.split("+")

    # -- the model, loaded on first use and kept until close() --------------------------------

    def _scorer(self, held: contextlib.ExitStack[Any]) -> Scorer:
        """The scoring context of the model as its file is now, the model held (`held`) until
        the page is done: another thread closing it, or sharing this corrector, waits."""
        loaded = self.held_model(held)
        scorer: Scorer | None = self.__dict__.get("_scorer_")
        if scorer is None or self.__dict__.get("_loaded_") is not loaded:
            # First use, or the model was closed (which freed our context with it) or its file
            # replaced since (the old context goes with the old model: `on_close`, below): a
            # context of the model as it is now.
            with one_off():
                scorer = Scorer(
                    loaded.llama, batch_tokens=self.batch_tokens, n_threads=self.n_threads
                )
            loaded.on_close(scorer.close)
            object.__setattr__(self, "_loaded_", loaded)
            object.__setattr__(self, "_scorer_", scorer)
        return scorer

    def close(self) -> None:
        """Free the scoring context, then the model (shared in the process: every user of the
        same model loses it), like the tutorial's free_resources()."""
        self.__dict__.pop("_scorer_", None)
        loaded = self.__dict__.pop("_loaded_", None)
        if loaded is not None:  # after the page in progress, our context first (`on_close`)
            loaded.close()

    def __getstate__(self) -> dict[str, Any]:
        # A loaded model does not pickle (sweep workers): they load their own, and make their own
        # search structures from the learned state.
        dropped = ("_scorer_", "_loaded_", "_learned_")
        return {k: v for k, v in self.__dict__.items() if k not in dropped}

    # -- correction ---------------------------------------------------------------------------

    def correct(self, ocr: OcrResult) -> Correction:
        with contextlib.ExitStack() as held:  # the model, once it is needed, until the end
            return self._correct(ocr, held)

    def _correct(self, ocr: OcrResult, held: contextlib.ExitStack[Any]) -> Correction:
        clock = Clock()  # its seconds leave out one-off loads (the model, the word lists)
        learned = self._learned()
        printed = words.composed(ocr.text)
        text = printed if learned is None else learned.source.rewrite(printed)
        rewritten = _changed_words(printed, text)
        lines = [_Line.of(line) for line in text.split("\n")]
        joins = {(i, k): joined for i, line in enumerate(lines) for k, joined in self._joins(line)}
        found = {
            (i, k): readings
            for i, line in enumerate(lines)
            for k, token in enumerate(line.tokens)
            if (readings := self._readings(line, k))
        }
        if not found and not joins:  # nothing suspicious: the model is not even loaded
            return Correction(text=text, seconds=clock.seconds(), changes=rewritten)
        scorer = self._scorer(held)
        before = scorer.tokens
        changed: set[tuple[int, int]] = set()
        if joins:
            # Words split by a space first: a joined word is one slot for the passes below.
            sites = [
                site
                for (i, k), joined in joins.items()
                if (site := self._site(scorer, lines[i], i, k, joined, join=True)) is not None
            ]
            for site, logprobs in zip(sites, scorer.score([s.request for s in sites]), strict=True):
                if (best := self._choose(site, logprobs)) is not None:
                    line = lines[site.line]
                    line.join(
                        site.slot,
                        line.tokens[site.slot].lead + best + line.tokens[site.slot + 1].trail,
                    )
                    changed.add((site.line, site.slot))
            found = {
                (i, k): readings
                for (i, k), readings in found.items()
                if (i, k) not in changed and (i, k - 1) not in changed
            }
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
        changes = rewritten + tuple(
            (lines[i].printed(k), lines[i].texts[k])
            for i, k in sorted(changed)
            if lines[i].texts[k] != lines[i].printed(k)
        )
        return Correction(
            text="\n".join(line.render() for line in lines),
            seconds=clock.seconds(),
            tokens=scorer.tokens - before,
            changes=changes,
        )

    def _joins(self, line: _Line) -> list[tuple[int, _Readings]]:
        """Trained, where the training set showed such joins right: tokens that are one word OCR
        split with a space (`candidates.joined`); [(slot, {word: (cost, source)})]."""
        learned = self._learned()
        if learned is None or not learned.source.joins_right:
            return []
        found: list[tuple[int, _Readings]] = []
        for k in range(len(line.tokens) - 1):
            if found and found[-1][0] == k - 1:
                continue  # a token joins one neighbour at most
            word = joined(line.tokens[k], line.tokens[k + 1], line.gap(k + 1), learned.words)
            if word is not None:
                found.append((k, {word: (confusions.SPACE_COST, JOIN)}))
        return found

    def explain(self, text: str) -> list[dict[str, Any]]:
        """The suspicious tokens of a text and their readings, each with its channel cost and the
        source that proposed it; what the model would score (it is not loaded)."""
        found = []
        learned = self._learned()
        text = words.composed(text)  # as `correct` reads it
        text = text if learned is None else learned.source.rewrite(text)
        for i, line in enumerate(_Line.of(text) for text in text.split("\n")):
            joins = dict(self._joins(line))
            for k, token in enumerate(line.tokens):
                pair = line.text[token.start : line.tokens[k + 1].end] if k in joins else ""
                for core, readings in [
                    (pair, joins.get(k, {})),
                    (token.core, self._readings(line, k)),
                ]:
                    if readings:
                        listed = [(r, round(c, 3), s) for r, (c, s) in readings.items()]
                        found.append({"line": i, "token": core, "readings": listed})
        return found

    def _readings(self, line: _Line, slot: int) -> dict[str, tuple[float, str]]:
        """What the token could have been ({} to leave it alone): {reading: (cost, source)}."""
        token = line.tokens[slot]
        if slot == len(line.tokens) - 1 and token.text.endswith("-"):
            return {}  # "im-": the word goes on on the next line, and is no word alone
        learned = self._learned()
        if self._greek and greek.is_greek(token.core):
            respelled = _from(GREEK_RESPELLING, self._greek_respellings(token.core))
            if learned is not None:
                # Whole Greek words the training OCR printed for others, as for English below.
                respelled = _cheapest(_from(LEARNED_WORD, learned.misread(token.core)), respelled)
            return _first(respelled, self.max_candidates)
        lexicon = words.english() if learned is None else learned.words
        unknown = suspicious(token.core, lexicon)
        if unknown and self._left_as_abbreviation(token):
            return {}
        found: _Readings = {}
        if unknown:
            # Unlike the lexicon baseline, a line's first lowercase word is tried too (it may be
            # the tail of a word hyphenated on the line before): the model sees if a reading fits;
            # skipping them cost 1.2 points of CER reduction on ICDAR 2017 and gained nothing.
            found = _from(HAND_MADE, candidates(token.core, lexicon, self.max_edits))
            if learned is not None:
                scale = learned.source.prior_scale  # the table, calibrated to the collection
                found = {reading: (cost * scale, s) for reading, (cost, s) in found.items()}
                searched = learned.readings(token.core, self.max_candidates, not self._greek)
                found = _cheapest(found, searched)
        elif self.rare_ratio:
            found = _from(LIKELIER, likelier_readings(token.core, lexicon, self.rare_ratio))
        if learned is not None:
            # Whole words the training OCR printed for others, known words included ("ho": "he").
            found = _cheapest(_from(LEARNED_WORD, learned.misread(token.core)), found)
            found = _within(found, LEARNED_SPREAD)
        found = _first(found, self.max_candidates)
        if self._greek and words.kind(token.core) in _MAYBE_GREEK:
            found |= _from(LATIN_AS_GREEK, self._greek_readings(line, slot, unknown))
        return found

    def _left_as_abbreviation(self, token: words.Token) -> bool:
        """A short unknown word before a full stop is left alone ("infr."); trained, a longer one
        only if the training set kept such words as printed at least as often as not (the
        books of gt4histcomment-en: 23 of 26 and 40 of 55, "infr.", "Aesch."); ICDAR 2017's
        training part kept 52 of 120, its newspapers' "uaual." being "usual."."""
        if not abbreviation(token.core, token.trail):
            return False
        learned = self._learned()
        return learned is None or learned.source.abbreviations_kept or initials(token.core)

    def _greek_readings(self, line: _Line, slot: int, unknown: bool) -> dict[str, float]:
        """Latin letters may be Greek that Tesseract's Latin model read: an unknown word
        ("ws" for ὡς), or a known one beside Greek ("Alas" for Αἴας, "ye" for γε), at a price."""
        if not unknown and not line.beside_greek(slot):
            return {}
        found = self._greek_words().greek_readings(line.tokens[slot].core, self.max_candidates)
        extra = 0.0 if unknown else greek.REAL_WORD_COST
        return {reading: cost + extra for reading, cost in found.items()}

    def _greek_respellings(self, core: str) -> dict[str, float]:
        """Greek the word list lacks may be Tesseract's misreading of Greek it has; elided
        words (δ᾽) and words cut at the line's end are not in any list."""
        if core[-1] in greek.ELISION or core.endswith("-"):
            return {}
        lexicon = self._greek_words()
        if not lexicon.knows(core):
            return lexicon.respellings(core, self.max_candidates)
        # A real word may still be a misreading: σον for σου, τών for τῶν.
        found = lexicon.respellings(core, self.max_candidates, known=True)
        return {r: c + greek.REAL_WORD_COST for r, c in found.items()}

    def _greek_words(self) -> greek.GreekWords:
        """Tesseract's Greek word list; trained, with the training references' Greek added."""
        learned = self._learned()
        return greek.words() if learned is None or learned.greek is None else learned.greek

    def _choose(self, site: _Site, logprobs: list[float]) -> str | None:
        """The winning reading of the token's core, or None to keep it as printed."""
        weighted = zip(logprobs, site.costs, strict=True)
        scores = [lp - self.channel_weight * cost for lp, cost in weighted]
        best = max(range(1, len(scores)), key=scores.__getitem__)
        return site.readings[best] if scores[best] - scores[0] > self.margin else None

    def _site(
        self,
        scorer: Scorer,
        line: _Line,
        number: int,
        slot: int,
        found: _Readings,
        join: bool = False,
    ) -> _Site | None:
        """The request that scores a token's readings in their window of the line; with `join`,
        the readings of the token and the next one together."""
        token = line.tokens[slot]
        last = line.tokens[slot + 1] if join else token
        printed = line.text[token.start + len(token.lead) : last.end - len(last.trail)]
        readings = (printed, *list(found)[:_MAX_READINGS])
        costs = (0.0, *(found[r][0] for r in readings[1:]))
        left = line.left(slot, self.left_words)
        prefix = [scorer.bos, *scorer.tokenize(left)[-_MAX_LEFT_TOKENS:]]
        after = scorer.tokenize(line.right(slot + 1 if join else slot, self.right_words))
        after = after[:_MAX_RIGHT_TOKENS]
        space = " " if left else ""
        texts = []
        for reading in readings:
            middle = scorer.tokenize(space + token.lead + reading + last.trail)
            if len(middle) > _MAX_TOKEN_TOKENS:
                return None
            texts.append(tuple(prefix + middle + after))
        request = Request(tuple(texts), first=len(prefix))
        if not scorer.fits(request):
            return None
        return _Site(number, slot, readings, costs, request)


# Kinds of Latin-letter token that may be Greek the Latin model read ("ws", "pu@os", "¢x8pav").
_MAYBE_GREEK = (words.Kind.WORD, words.Kind.CONFUSED, words.Kind.OTHER)


# Trained, fewer readings are scored: on the development part of ICDAR 2017 (RESULTS.md) the
# dearer ones seldom won and cost a third of the time. A whole word the training OCR printed for
# another is proposed only if it was printed wrongly at least as often as rightly (cost <= 0):
# "he", now and then printed for "be", is not worth scoring each time.
LEARNED_SPREAD = 1.0  # confusion units above the cheapest reading
MISREAD_MAX_COST = 0.0  # of a whole-word misreading, relative to keeping the word

# Where a reading came from (`explain` names them).
HAND_MADE = "hand-made channel"  # confusions.py's rules over the lexicon
LEARNED_CHANNEL = "learned channel"  # the search over the lexicon with the training set's rules
UNSEEN_EDIT = "learned channel, an unseen edit"  # the same search, with one edit no rule names
LEARNED_WORD = "learned misreading"  # a whole word the training OCR printed for another
LIKELIER = "likelier word"  # rare_ratio: a known word with a much more frequent reading
GREEK_RESPELLING = "greek respelling"  # a Greek word read again through the Greek channels
LATIN_AS_GREEK = "latin read as greek"  # Latin letters that may be Greek the Latin model read
JOIN = "join"  # trained: two tokens that are one word the OCR split with a space

_Readings = dict[str, tuple[float, str]]  # reading -> (cost, source)


def _changed_words(before: str, after: str) -> tuple[tuple[str, str], ...]:
    """(before, after) of the words a learned rewrite changed (a line, where it changed its
    words' count)."""
    if before == after:
        return ()
    found: list[tuple[str, str]] = []
    for old, new in zip(before.split("\n"), after.split("\n"), strict=True):
        split = old.split(), new.split()
        pairs = zip(*split, strict=True) if len(split[0]) == len(split[1]) else [(old, new)]
        found += [(a, b) for a, b in pairs if a != b]
    return tuple(found)


def _from(source: str, found: dict[str, float]) -> _Readings:
    return {reading: (cost, source) for reading, cost in found.items()}


def _within(found: _Readings, spread: float) -> _Readings:
    """The readings that cost at most `spread` more than the cheapest."""
    low = min((cost for cost, _ in found.values()), default=0.0)
    return {reading: value for reading, value in found.items() if value[0] <= low + spread}


def _first(found: _Readings, count: int) -> _Readings:
    return dict(list(found.items())[:count])


def _cheapest(*found: _Readings) -> _Readings:
    """Readings from several sources, each at its lowest cost (the first source's on a tie),
    cheapest first."""
    merged: _Readings = {}
    for readings in found:
        for reading, (cost, source) in readings.items():
            if cost < merged.get(reading, (float("inf"), ""))[0]:
                merged[reading] = (cost, source)
    return dict(sorted(merged.items(), key=lambda item: (item[1][0], item[0])))


@dataclass(frozen=True, eq=False)
class _Learned:
    """A learned channel ready to search: its rules indexed, the lexicon with the references'
    words added (and its prefixes, to prune the search)."""

    source: channel.Channel
    words: words.WordList
    prefixes: search.Lexicon
    rules: search.RuleIndex
    greek: greek.GreekWords | None  # with lang=...+grc: the Greek list, the references' added

    @classmethod
    def of(cls, learned: channel.Channel, with_greek: bool) -> _Learned:
        lexicon = channel.lexicon(learned.vocabulary)
        return cls(
            learned,
            lexicon,
            search.Lexicon.of(lexicon.counts),
            search.RuleIndex.of(learned.rules()),
            greek.words().with_words(learned.vocabulary) if with_greek else None,
        )

    def misread(self, core: str) -> dict[str, float]:
        """What the training OCR printed `core` for, when it was not `core`."""
        exact = self.source.words.get(core)
        if exact is None:
            lowered = self.source.words.get(core.lower(), {})
            exact = {words.case_like(meant, core): cost for meant, cost in lowered.items()}
        return {meant: cost for meant, cost in exact.items() if cost <= MISREAD_MAX_COST}

    def readings(self, core: str, limit: int, unseen_edit: bool) -> _Readings:
        """An unknown word's readings through the learned rules (and the table behind them).
        Where those reach no word, the cheapest reading with one more edit that no rule names, at
        the price of a rule never seen: a collection also misreads in ways its training set did
        not show ("wiqdom" for "wisdom"). Lower-case words only, the one shape such an edit
        mostly fixed on ICDAR 2017's periodicals, and not beside Greek (`unseen_edit` false):
        there a Latin word may be Greek the Latin model read, which an English word an edit
        away only mimics ("alkloy" for αἰκίσῃ read as "alloy"; RESULTS.md)."""
        if not core.isalpha() and words.kind(core) is not words.Kind.CONFUSED:
            return {}  # codes and other symbols keep the hand-made channel
        # Letters, and digits a collection prints for letters ("8EAAON" for "SEASON" in old
        # headlines), which the hand-made channel reads alone ("8" -> "S") and so seldom into
        # a word: 1.3 points on ICDAR's periodical 5, the same on the other folds (RESULTS.md).
        found = self._searched(core, limit=limit)
        if found:
            return _from(LEARNED_CHANNEL, found)
        if not unseen_edit or not core.isalpha() or not core.islower():
            return {}  # a capitalised word no rule reads is more often a name than a misreading
        unseen = self.source.unseen_cost
        found = self._searched(core, limit=1, max_free=1, free_cost=unseen)
        return _from(UNSEEN_EDIT, found)

    def _searched(self, core: str, **bounds: Any) -> dict[str, float]:
        found = search.readings(core, self.rules, self.prefixes, known=self.words.knows, **bounds)
        return {r: c for r, c in found.items() if normal_case(r)}


# Windows are counted in words, but a "word" of OCR garbage can be many tokens: caps in tokens.
_MAX_LEFT_TOKENS = 48
_MAX_RIGHT_TOKENS = 24
_MAX_TOKEN_TOKENS = 24
_MAX_READINGS = 63  # with the token as printed, the 64 sequences one decode holds
