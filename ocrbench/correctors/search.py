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

    @classmethod
    def of(cls, words: Iterable[str]) -> Lexicon:
        lowered = frozenset(w.lower() for w in words if w)
        prefixes = frozenset(w[:k] for w in lowered for k in range(1, len(w) + 1))
        return cls(lowered, prefixes)


@dataclass(frozen=True, eq=False)
class RuleIndex:
    """Rules by the first character of what they read, for the search's inner loop."""

    by_first: dict[str, list[Rule]]

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleIndex:
        by_first: dict[str, list[Rule]] = defaultdict(list)
        for seen, meant, cost in rules:
            if seen:
                by_first[seen[0]].append((seen, meant, cost))
        return cls(dict(by_first))


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
    stats: SearchStats | None = None,
) -> dict[str, float]:
    """Up to `limit` readings of `word` that `known` accepts, {reading: cost}, cheapest first."""
    end = len(word)
    found: dict[str, float] = {}
    best: dict[tuple[int, str, int], float] = {}
    # (cost, tie, position, reading so far, edits, free edits)
    frontier: list[tuple[float, int, int, str, int, int]] = [(0.0, 0, 0, "", 0, 0)]
    tie = explored = 0

    def push(cost: float, i: int, built: str, edits: int, free: int) -> None:
        nonlocal tie
        if cost > max_cost or (built and built.lower() not in lexicon.prefixes):
            return
        state = (i, built, free)
        if best.get(state, float("inf")) <= cost:
            return
        best[state] = cost
        tie += 1
        heapq.heappush(frontier, (cost, tie, i, built, edits, free))

    while frontier and explored < MAX_EXPLORED and len(found) < limit:
        cost, _, i, built, edits, free = heapq.heappop(frontier)
        if best.get((i, built, free), float("inf")) < cost:
            continue  # a cheaper way here was found after this one was queued
        explored += 1
        if i == end:
            if edits and built != word and built not in found and known(built):
                found[built] = cost
        else:
            push(cost, i + 1, built + word[i], edits, free)
        if edits >= max_edits:
            continue
        if i < end:
            for seen, meant, rule_cost in rules.by_first.get(word[i], ()):
                if word.startswith(seen, i):
                    push(cost + rule_cost, i + len(seen), built + meant, edits + 1, free)
        if free < max_free:
            if i < end:
                push(cost + free_cost, i + 1, built, edits + 1, free + 1)  # a letter OCR added
            for letter in _letters(word):
                if i < end and letter != word[i].lower():
                    push(cost + free_cost, i + 1, built + letter, edits + 1, free + 1)
                push(cost + free_cost, i, built + letter, edits + 1, free + 1)  # a letter lost
    if stats is not None:
        stats.explored, stats.capped = explored, bool(frontier) and len(found) < limit
    return dict(sorted(found.items(), key=lambda item: (item[1], item[0])))


def _letters(word: str) -> Sequence[str]:
    """Letters a free edit may write: upper case in an upper-case word."""
    return LETTERS.upper() if word.isupper() and len(word) > 1 else LETTERS
