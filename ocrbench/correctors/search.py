"""Readings of a printed word that are words of a lexicon: a weighted edit search over the lexicon.

Best-first over partial readings, cheapest first: at each place of the printed word, keep its
character, apply a rule of the channel (as printed -> as meant, with its cost), or, at most
`max_free` times, make an edit no rule names (substitute, drop or insert one letter) at a fixed
cost. A partial reading lives on only while some lexicon word starts with it (a set of the
lexicon's prefixes), so the search follows the lexicon instead of spelling every variant, and it
stops after MAX_EXPLORED partial readings whatever the word.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

MAX_EXPLORED = 4_000
LETTERS = "abcdefghijklmnopqrstuvwxyz"

Rule = tuple[str, str, float]


@dataclass(frozen=True, eq=False)
class Lexicon:
    """Words (lower case) and every prefix of them, for pruning a search."""

    words: frozenset[str]
    prefixes: frozenset[str] = field(repr=False)
    # prefix ("" too) -> the characters some word has next, in order
    following: dict[str, str] = field(repr=False, default_factory=dict)

    @classmethod
    def of(cls, words: Iterable[str]) -> Lexicon:
        lowered = frozenset(w.lower() for w in words if w)
        prefixes = frozenset(w[:k] for w in lowered for k in range(1, len(w) + 1))
        following: dict[str, set[str]] = defaultdict(set)
        for prefix in prefixes:
            following[prefix[:-1]].add(prefix[-1])
        return cls(lowered, prefixes, {k: "".join(sorted(v)) for k, v in following.items()})


@dataclass(frozen=True, eq=False)
class RuleIndex:
    """Rules by what they read, for the search's inner loop: at each place of a word, a look-up
    per length of the printed side instead of a pass over every rule (thousands, once learned)."""

    by_seen: dict[str, list[tuple[int, str, float]]]  # as printed -> [(order, as meant, cost)]
    longest: int

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleIndex:
        by_seen: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
        for order, (seen, meant, cost) in enumerate(rules):
            if seen:
                by_seen[seen].append((order, meant, cost))
        return cls(dict(by_seen), max((len(seen) for seen in by_seen), default=0))

    def at(self, word: str, i: int) -> list[tuple[int, str, float]]:
        """The rules that read word[i:...]: (length read, as meant, cost), in the order given."""
        found = []
        for length in range(1, min(self.longest, len(word) - i) + 1):
            for order, meant, cost in self.by_seen.get(word[i : i + length], ()):
                found.append((order, length, meant, cost))
        found.sort()
        return [(length, meant, cost) for _, length, meant, cost in found]


@dataclass
class SearchStats:
    explored: int = 0
    capped: bool = False


def readings(
    word: str,
    rules: RuleIndex,
    lexicon: Lexicon,
    *,
    known: Callable[[str], bool],
    max_edits: int = 3,
    max_free: int = 0,
    free_cost: float = 3.0,
    max_cost: float = 8.0,
    limit: int = 12,
    max_explored: int = MAX_EXPLORED,
    stats: SearchStats | None = None,
) -> dict[str, float]:
    """Up to `limit` readings of `word` that `known` accepts, {reading: cost}, cheapest first."""
    end = len(word)
    # The rules that read each place, with what they mean in lower case (the prefixes' case).
    applying = [
        [(length, meant, meant.lower(), cost) for length, meant, cost in rules.at(word, i)]
        for i in range(end)
    ]
    prefixes, following = lexicon.prefixes, lexicon.following
    found: dict[str, float] = {}
    best: dict[tuple[int, str, int], float] = {}
    # (cost, tie, position, reading so far, edits, free edits, the reading in lower case)
    frontier: list[tuple[float, int, int, str, int, int, str]] = [(0.0, 0, 0, "", 0, 0, "")]
    tie = explored = 0
    never = float("inf")

    def push(cost: float, i: int, built: str, edits: int, free: int, low: str) -> None:
        nonlocal tie
        if cost > max_cost or (low and low not in prefixes):
            return
        state = (i, built, free)
        if best.get(state, never) <= cost:
            return
        best[state] = cost
        tie += 1
        heapq.heappush(frontier, (cost, tie, i, built, edits, free, low))

    while frontier and explored < max_explored and len(found) < limit:
        cost, _, i, built, edits, free, low = heapq.heappop(frontier)
        if best.get((i, built, free), never) < cost:
            continue  # a cheaper way here was found after this one was queued
        explored += 1
        if i == end:
            if edits and built != word and built not in found and known(built):
                found[built] = cost
        else:
            push(cost, i + 1, built + word[i], edits, free, low + word[i].lower())
        if edits >= max_edits:
            continue
        nexts = following.get(low, "")  # the letters some lexicon word has after this reading
        if i < end:
            # What push would refuse, refused here first, cheaply: too dear, or a next letter no
            # lexicon word has after this reading.
            for length, meant, meant_low, rule_cost in applying[i]:
                if cost + rule_cost <= max_cost and (not meant_low or meant_low[0] in nexts):
                    push(cost + rule_cost, i + length, built + meant, edits + 1, free,
                         low + meant_low)  # fmt: skip
        if free < max_free:
            dear = cost + free_cost
            if i < end:
                push(dear, i + 1, built, edits + 1, free + 1, low)  # a letter OCR added
            # Only letters some lexicon word has next: the others' readings would be pruned.
            for letter in _letters(word, nexts):
                if i < end and letter != word[i].lower():
                    push(dear, i + 1, built + letter, edits + 1, free + 1, low + letter.lower())
                push(dear, i, built + letter, edits + 1, free + 1, low + letter.lower())  # lost
    if stats is not None:
        stats.explored, stats.capped = explored, bool(frontier) and len(found) < limit
    return dict(sorted(found.items(), key=lambda item: (item[1], item[0])))


def _letters(word: str, allowed: str) -> Sequence[str]:
    """Letters a free edit may write, of those `allowed`: upper case in an upper-case word."""
    letters = "".join(c for c in allowed if c in LETTERS)
    return letters.upper() if word.isupper() and len(word) > 1 else letters
