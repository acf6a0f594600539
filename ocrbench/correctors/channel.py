"""What an OCR engine gets wrong, learned from a training set of (OCR text, reference) pairs.

Each pair is aligned character by character and cut into chunks at the spaces both sides share,
so a chunk is one word (or the words OCR merged or split) with its reference. A chunk that differs
yields rules in the manner of Brill and Moore's channel (2000): each edit, as printed -> as meant,
and the same edit widened by up to two neighbouring characters, so `tb`->`th` and `li`->`h` are
learned as such. A rule's probability is its count over the count of what was meant in the
references, smoothed towards the hand-made table (`confusions.py`), which stays the prior for what
the data never showed; its cost is that probability in nats, over the corrector's weight. Where
the data and the table both have a rule, their costs say how far the table's guesses are off on
this collection (ICDAR 2017's OCR makes its confusions rarer than the table assumes: its learned
costs are 1.6 times the table's): the table's other rules are scaled by that ratio, shrunk towards
1 where few rules were seen. The references' words, with their counts, are a vocabulary (names,
places, period spellings).

Characters OCR prints that the references (almost) never hold, and that stand for one other
character (or none) at least half the times OCR printed them, are rewritten outright: Tesseract
prints the Greek elision as "᾽" where a collection's transcribers wrote "ʼ". No language model
judges those; a rewrite is learned only where the training set shows it right more often than not.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from ocrbench.correctors import candidates, confusions, words

MAX_SIDE = 3  # characters on either side of a rule
MAX_CONTEXT = 2  # neighbouring characters a rule may be widened by
MIN_COUNT = 2  # a rule seen once is noise as often as not: the prior decides
PRIOR_WEIGHT = 4.0  # pseudo-observations of the prior in each rule's estimate
UNSEEN_PROBABILITY = 0.002  # the prior of a rule the hand-made table does not have
STATE_FORMAT = 5  # 5: no rewrites of digits or of the marks that shape words
CALIBRATION_WEIGHT = 50.0  # pseudo-sightings of "the table is right" in the prior's scale
REWRITE_MIN_COUNT = 10  # times a rewrite must be seen right: a few lines prove no letter foreign
REWRITE_MIN_SHARE = 0.5  # of the times OCR printed the character
FOREIGN_SHARE = 0.01  # the references hold the character at most this often per time it is printed


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


Aligned = tuple[str, str, Any]  # (OCR, reference), cleaned, and the opcodes between them


def _aligned(ocr: str, reference: str) -> Aligned:
    ocr, reference = _clean(ocr), _clean(reference)
    return ocr, reference, Levenshtein.opcodes(ocr, reference)


def chunks(ocr: str, reference: str) -> Iterator[tuple[str, str]]:
    """(as printed, as meant) pieces of an aligned pair, cut at the spaces both sides share."""
    return _chunks(_aligned(ocr, reference))


def _chunks(aligned: Aligned) -> Iterator[tuple[str, str]]:
    ocr, reference, opcodes = aligned
    printed: list[str] = []
    meant: list[str] = []
    for op in opcodes:
        i1, i2, j1, j2 = op.src_start, op.src_end, op.dest_start, op.dest_end
        if op.tag != "equal":
            printed.append(ocr[i1:i2])
            meant.append(reference[j1:j2])
            continue
        for char in ocr[i1:i2]:
            if char == " ":
                yield "".join(printed), "".join(meant)
                printed, meant = [], []
            else:
                printed.append(char)
                meant.append(char)
    yield "".join(printed), "".join(meant)


Span = tuple[int, int, int, int]  # (i1, i2, j1, j2): printed[i1:i2] was meant[j1:j2]


def edited_runs(printed: str, meant: str) -> list[list[Span]]:
    """The edits that turn `printed` into `meant`, neighbouring ones together: "cl" -> "d" is one
    run (a replace and a delete), however the alignment cut it."""
    runs: list[list[Span]] = []
    for op in Levenshtein.opcodes(printed, meant):
        if op.tag == "equal":
            continue
        span = (op.src_start, op.src_end, op.dest_start, op.dest_end)
        if runs and runs[-1][-1][1] == span[0] and runs[-1][-1][3] == span[2]:
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


def edits(printed: str, meant: str) -> Iterator[tuple[str, str]]:
    """The (as printed, as meant) rules one differing chunk shows: each run of neighbouring edits as
    one (`li`->`h`, however the alignment cut it) and each edit of a run alone, all also widened by
    their neighbours, within MAX_SIDE characters a side; never empty on the printed side (a rule
    must start at something OCR printed)."""
    runs = edited_runs(printed, meant)
    spans = {(run[0][0], run[-1][1], run[0][2], run[-1][3]) for run in runs}
    spans |= {op for run in runs for op in run}
    for i1, i2, j1, j2 in sorted(spans):
        for before in range(MAX_CONTEXT + 1):
            for after in range(MAX_CONTEXT + 1 - before):
                a1, a2 = i1 - before, i2 + after
                b1, b2 = j1 - before, j2 + after
                if a1 < 0 or b1 < 0 or a2 > len(printed) or b2 > len(meant):
                    continue
                seen, truth = printed[a1:a2], meant[b1:b2]
                # The widening characters must be equal on both sides, or it is another edit.
                if printed[a1:i1] != meant[b1:j1] or printed[i2:a2] != meant[j2:b2]:
                    continue
                if seen and truth and len(seen) <= MAX_SIDE and len(truth) <= MAX_SIDE:
                    yield seen, truth


def _substrings(text: str) -> Iterator[str]:
    for start in range(len(text)):
        for length in range(1, MAX_SIDE + 1):
            if start + length <= len(text):
                yield text[start : start + length]


def lexicon(vocabulary: dict[str, int]) -> words.WordList:
    """The English word list with a training set's words added, with their counts."""
    counts = dict(words.english().counts)
    for word, count in vocabulary.items():
        key = word.lower()
        counts[key] = counts.get(key, 0) + count
    return words.WordList(counts)


def _joins(pairs: Sequence[tuple[str, str]], known: words.WordList) -> list[int]:
    """[tokens OCR split that could be joined into a word, those whose reference has the word]:
    whether joining is right on this collection (ICDAR's references keep "pro- bably")."""
    seen = right = 0
    for ocr, reference in pairs:
        ocr = _clean(ocr)
        meant = {word.strip(_PUNCTUATION) for word in _clean(reference).split(" ")}
        tokens = list(words.tokens(ocr))
        for first, second in itertools.pairwise(tokens):
            word = candidates.joined(first, second, ocr[first.end : second.start], known)
            if word is not None:
                seen += 1
                right += word in meant
    return [seen, right]


def _abbreviation_kept(printed: str, meant: str) -> bool | None:
    """For a chunk that is one word of four letters or more shaped like an abbreviation (short,
    unknown to the English list, before a full stop), whether its reference kept it as printed
    (a commentary's "infr.", not a newspaper's "uaual." for "usual."); None for other chunks."""
    if "." not in printed:
        return None  # most chunks: no full stop, no abbreviation (and no tokenizing to see it)
    found = list(words.tokens(printed))
    if len(found) != 1:
        return None
    core, trail = found[0].core, found[0].trail
    if candidates.initials(core) or not candidates.abbreviation(core, trail):
        return None
    if not candidates.suspicious(core, words.english()):
        return None
    return meant.strip(_PUNCTUATION) == core


def _words(reference: str) -> Iterator[str]:
    """A reference's words, less the halves of a word hyphenated in the line ("pro- bably"),
    which are no words of their own."""
    previous = ""
    for word in _clean(reference).split(" "):
        core = word.strip(_PUNCTUATION)
        if core and not word.endswith("-") and not previous.endswith("-"):
            yield core
        previous = word


def learn(pairs: Sequence[tuple[str, str]]) -> dict[str, object]:
    """Count what a training set shows: rules, how often each meant string occurs, the words,
    and how often words OCR split were one word."""
    rules: Counter[tuple[str, str]] = Counter()
    meant_counts: Counter[str] = Counter()
    vocabulary: Counter[str] = Counter()
    printed_words: Counter[str] = Counter()
    word_errors: Counter[tuple[str, str]] = Counter()
    characters = _Characters()
    abbreviations = [0, 0]  # [seen, kept as printed]
    count = 0
    for ocr, reference in pairs:
        count += 1
        vocabulary.update(_words(reference))
        aligned = _aligned(ocr, reference)  # once: the chunks and the characters both read it
        characters.add(aligned)
        for printed, meant in _chunks(aligned):
            for word in meant.split(" "):
                meant_counts.update(_substrings(word))
            abbreviated = _abbreviation_kept(printed, meant)
            if abbreviated is not None:
                abbreviations[0] += 1
                abbreviations[1] += abbreviated
            seen_core, meant_core = printed.strip(_PUNCTUATION), meant.strip(_PUNCTUATION)
            if seen_core and " " not in printed:
                printed_words[seen_core] += 1
                if meant_core != seen_core and meant_core:
                    word_errors[(seen_core, meant_core)] += 1
            if printed != meant:
                rules.update(list(dict.fromkeys(edits(printed, meant))))  # each rule once, in order
    needed = {meant for _, meant in rules}
    misread = {seen for (seen, _), n in word_errors.items() if n >= MIN_COUNT}
    return {
        "format": STATE_FORMAT,
        "pairs": count,
        "rules": [[seen, meant, n] for (seen, meant), n in _by_count(rules) if n >= MIN_COUNT],
        "meant": {m: meant_counts[m] for m in sorted(needed) if meant_counts[m]},
        "vocabulary": dict(_by_count(vocabulary)),
        # Whole words OCR printed for others, and how often each printed word was printed at all.
        "words": [
            [seen, meant, n] for (seen, meant), n in _by_count(word_errors) if n >= MIN_COUNT
        ],  # fmt: skip
        "printed": {seen: printed_words[seen] for seen in sorted(misread)},
        "joins": _joins(pairs, lexicon(dict(vocabulary))),
        "abbreviations": abbreviations,
        "rewrites": characters.rewrites(),
    }


@dataclass
class _Characters:
    """What each character OCR printed stood for in the references, counted pair by pair."""

    printed: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)
    meant: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, aligned: Aligned) -> None:
        ocr, reference, opcodes = aligned
        self.printed.update(ocr)
        self.written.update(reference)
        for op in opcodes:
            seen = ocr[op.src_start : op.src_end]
            if op.tag == "equal":
                pairs_of = [(c, c) for c in seen]
            elif op.tag == "delete":
                pairs_of = [(c, "") for c in seen]
            elif op.tag == "replace" and len(seen) == op.dest_end - op.dest_start:
                pairs_of = list(zip(seen, reference[op.dest_start : op.dest_end], strict=True))
            else:
                continue
            for char, was in pairs_of:
                self.meant.setdefault(char, Counter())[was] += 1

    def rewrites(self) -> list[list[object]]:
        """[[as printed, as meant (one character or ""), times right, times printed]]: the
        characters foreign to the references that OCR prints for one other (or for nothing)."""
        found = []
        for char, times in _by_count(self.printed):
            if char == " " or self.written[char] > FOREIGN_SHARE * times or char not in self.meant:
                continue
            if not _rewritable(char):
                continue
            (was, right), *_ = _by_count(self.meant[char])
            if was != char and right >= max(REWRITE_MIN_COUNT, REWRITE_MIN_SHARE * times):
                found.append([char, was, right, times])
        return found


def _rewritable(char: str) -> bool:
    """Whether a character may be rewritten everywhere when the references never hold it: not a
    digit (references without numbers say nothing of the numbers, amounts and codes elsewhere)
    and not a mark that shapes words and lines (a hyphen, an apostrophe, brackets, quotes, stops:
    a line's final hyphen says the word goes on, and joins and abbreviations read them)."""
    marks = set(words.OPENERS + words.CLOSERS + words.INNER)
    return not unicodedata.category(char).startswith("N") and char not in marks


def _prior_scale(
    costs: dict[tuple[str, str], float],
    counts: dict[tuple[str, str], int],
    prior: dict[tuple[str, str], float],
) -> float:
    """The learned cost over the table's, a geometric mean over the rules both have weighted by
    how often each was seen, with CALIBRATION_WEIGHT sightings of a ratio of 1."""
    shared = [rule for rule in costs if rule in prior and prior[rule] > 0 and costs[rule] > 0]
    logs = sum(counts[rule] * math.log(costs[rule] / prior[rule]) for rule in shared)
    return math.exp(logs / (sum(counts[rule] for rule in shared) + CALIBRATION_WEIGHT))


def _as_often_as_not(seen: int, happened: int) -> bool:
    """Whether something seen `seen` times happened at least as often as not, by Laplace's rule
    (one pseudo-sighting each way), so with no sightings at all too."""
    return (happened + 1) / (seen + 2) >= 0.5


def _by_count(counts: Counter[Any]) -> list[tuple[Any, int]]:
    """Most frequent first, ties by key: the same order in every process (a set's is not)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


_PUNCTUATION = "\"'.,;:!?()[]{}<>«»“”‘’*-—–"


@dataclass(frozen=True)
class Channel:
    """A learned channel, ready to use: costs by rule, and the words the references hold."""

    costs: dict[tuple[str, str], float]  # (as printed, as meant) -> cost in confusion units
    counts: dict[tuple[str, str], int]
    vocabulary: dict[str, int]
    pairs: int
    # printed word -> {word meant: cost relative to keeping the printed word}, from how often OCR
    # printed one for the other ("tbe" for "the", "ho" for "he")
    words: dict[str, dict[str, float]]
    joins: tuple[int, int]  # (tokens OCR split that make a word, of those joined in the reference)
    rewrites: dict[str, str]  # a character OCR prints -> what the references hold there
    # (words of 4+ letters shaped like abbreviations, of those the reference kept as printed)
    abbreviations: tuple[int, int]
    # what the hand-made table's costs are multiplied by on this collection (see the docstring)
    prior_scale: float = 1.0
    # the cost of an edit no rule names: a rule neither the table nor the data has
    unseen_cost: float = 0.0

    def rewrite(self, text: str) -> str:
        """`text` with the learned rewrites made; a word they leave empty goes with its space."""
        if not self.rewrites or not any(char in self.rewrites for char in text):
            return text
        lines = []
        for line in text.split("\n"):
            words = [(w, "".join(self.rewrites.get(c, c) for c in w)) for w in line.split(" ")]
            lines.append(" ".join(new for old, new in words if new or not old))
        return "\n".join(lines)

    @classmethod
    def of(cls, state: dict[str, object], nats_per_unit: float) -> Channel:
        prior = {(seen, meant): cost for seen, meant, cost in confusions.rules()}
        meant_counts = state["meant"]
        assert isinstance(meant_counts, dict)
        costs: dict[tuple[str, str], float] = {}
        counts: dict[tuple[str, str], int] = {}
        rules = state["rules"]
        assert isinstance(rules, list)
        for seen, meant, n in rules:
            total = meant_counts.get(meant, 0)
            if not total:
                continue
            before = prior.get((seen, meant))
            p_prior = (
                math.exp(-before * nats_per_unit) if before is not None else UNSEEN_PROBABILITY
            )
            p = (n + PRIOR_WEIGHT * p_prior) / (total + PRIOR_WEIGHT)
            costs[(seen, meant)] = -math.log(min(p, 0.95)) / nats_per_unit
            counts[(seen, meant)] = int(n)
        vocabulary = state["vocabulary"]
        assert isinstance(vocabulary, dict)
        printed = state["printed"]
        assert isinstance(printed, dict)
        word_rules = state["words"]
        assert isinstance(word_rules, list)
        wrong: Counter[str] = Counter()
        for seen, _, n in word_rules:
            wrong[seen] += n
        misread: dict[str, dict[str, float]] = {}
        for seen, meant, n in word_rules:
            right = max(printed[seen] - wrong[seen], 0.5)  # how often it was printed rightly
            misread.setdefault(seen, {})[meant] = math.log(right / n) / nats_per_unit
        seen, right = state["joins"]  # type: ignore[misc]
        rewrites = {str(r[0]): str(r[1]) for r in state["rewrites"]}  # type: ignore[attr-defined]
        abbreviations = state["abbreviations"]
        assert isinstance(abbreviations, list)
        return cls(costs, counts, {str(w): int(c) for w, c in vocabulary.items()},
                   int(state["pairs"]), misread,  # type: ignore[call-overload]
                   (int(seen), int(right)), rewrites,
                   (int(abbreviations[0]), int(abbreviations[1])),
                   _prior_scale(costs, counts, prior),
                   -math.log(UNSEEN_PROBABILITY) / nats_per_unit)  # fmt: skip

    @property
    def joins_right(self) -> bool:
        """Whether joining tokens OCR split was right at least as often as not (so with no data)."""
        return _as_often_as_not(*self.joins)

    @property
    def abbreviations_kept(self) -> bool:
        """Whether words of 4+ letters shaped like abbreviations were kept as printed at least as
        often as not (so with no data): if not, they are misreadings to correct like any other."""
        return _as_often_as_not(*self.abbreviations)

    def rules(self) -> Sequence[tuple[str, str, float]]:
        """The learned rules, then the prior's for what the data never showed."""
        learned = [(seen, meant, cost) for (seen, meant), cost in self.costs.items()]
        rest = [
            (seen, meant, cost * self.prior_scale)
            for seen, meant, cost in confusions.rules()
            if (seen, meant) not in self.costs
        ]
        return learned + rest
