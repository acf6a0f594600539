"""The OCR channel: which misreadings are plausible, and what a reading could have been.

A rule (seen, meant, cost) says OCR may print `seen` where the page had `meant`; the cost (in
confusion units, ~1 for a common misreading) says how unlikely that is. `variants` inverts the
channel: the strings a token could have been, each with the total cost of the misreadings that
would turn it into what OCR printed.
"""

from __future__ import annotations

import heapq
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

# Both directions are plausible for these shapes: (a, b, cost).
_SYMMETRIC = [
    ("rn", "m", 1.0),
    ("cl", "d", 1.0),
    ("vv", "w", 1.0),
    ("VV", "W", 1.0),
    ("li", "h", 1.0),
    ("ii", "u", 1.0),
    ("ii", "n", 1.0),
    ("in", "m", 1.2),
    ("ni", "m", 1.2),
    ("ri", "n", 1.2),
    ("tl", "d", 1.2),
    ("c", "e", 1.0),
    ("n", "u", 1.0),
    ("b", "h", 1.0),
    ("f", "s", 1.2),  # the long s: "ſome" read as "fome"
    ("l", "i", 1.0),
    ("l", "I", 1.0),
    ("i", "j", 1.5),
    ("t", "f", 1.5),
    ("t", "l", 1.5),
    ("o", "c", 1.5),
    ("o", "a", 1.5),
    ("o", "e", 1.5),
    ("a", "e", 1.5),
    ("a", "s", 1.5),
    ("y", "v", 1.5),
    ("h", "k", 1.5),
    ("g", "q", 1.5),
    ("C", "G", 1.5),
    ("O", "Q", 1.5),
    ("O", "D", 1.5),
    ("T", "Y", 1.5),
    ("E", "F", 1.5),
    ("P", "F", 1.5),
    ("R", "K", 1.5),
    ("m", "n", 1.5),
    ("u", "v", 1.5),
    ("O", "C", 1.5),
    ("B", "E", 1.5),
    ("B", "R", 1.5),
    ("K", "E", 1.5),
    ("h", "n", 1.5),
    ("e", "s", 1.5),
    ("a", "n", 1.5),
    ("a", "u", 1.5),
    ("t", "s", 1.5),
    ("l", "f", 1.5),
]
# One direction only: what OCR prints for a broken or unusual letter.
_ONE_WAY = [
    ("U", "ll", 1.0),
    ("U", "li", 1.2),
    ("U", "il", 1.2),
    ("H", "li", 1.0),
    ("H", "ll", 1.2),
    ("d", "il", 1.2),
    ("d", "ll", 1.2),
    ("d", "li", 1.2),
    ("Ii", "h", 1.0),
    ("n", "fi", 1.5),
    ("B", "fi", 1.5),
    ("û", "fl", 1.0),
    ("!", "l", 1.0),
    ("8", "S", 0.7),
    ("ſ", "s", 0.2),
    ("ﬁ", "fi", 0.2),
    ("ﬂ", "fl", 0.2),
    ("ﬀ", "ff", 0.2),
    ("0", "o", 0.5),
    ("0", "O", 0.5),
    ("1", "l", 0.5),
    ("1", "I", 0.5),
    ("1", "i", 0.7),
    ("5", "s", 0.7),
    ("5", "S", 0.5),
    ("6", "b", 0.7),
    ("6", "G", 0.7),
    ("8", "B", 0.7),
    ("@", "a", 0.5),
    ("$", "s", 0.7),
    ("$", "S", 0.7),
    ("|", "l", 0.5),
    ("|", "I", 0.5),
    ("°", "o", 1.0),
    ("°", "g", 1.0),
]
SPACE_COST = 1.0  # a space OCR missed ("kingwas") or added
HYPHEN_COST = 1.0  # a line-end hyphen left inside a word ("pro-bably")
ACCENT_COST = 0.7  # an accent OCR invented ("thé"): French-trained engines do it


def _accent_rules() -> list[tuple[str, str, float]]:
    """Every accented Latin letter of Latin-1 and Latin Extended-A -> its bare letter."""
    rules = []
    for code in range(0xC0, 0x180):
        char = chr(code)
        base = unicodedata.normalize("NFD", char)[0]
        if char.isalpha() and base != char and base.isascii():
            rules.append((char, base, ACCENT_COST))
    return rules


# Characters that only appear in a word because OCR misread a letter.
MISREAD_SYMBOLS = frozenset(seen for seen, _, _ in _ONE_WAY if not seen.isalpha())

Rule = tuple[str, str, float]


@cache
def rules() -> tuple[Rule, ...]:
    """Every hand-made rule as (as printed, as meant, cost), both directions of the symmetric."""
    both = [(a, b, cost) for a, b, cost in _SYMMETRIC] + [(b, a, cost) for a, b, cost in _SYMMETRIC]
    return tuple(both + _ONE_WAY + _accent_rules())


@cache
def _rules_by_first_char() -> dict[str, list[Rule]]:
    by_first: dict[str, list[Rule]] = defaultdict(list)
    for a, b, cost in _SYMMETRIC:
        by_first[a[0]].append((a, b, cost))
        by_first[b[0]].append((b, a, cost))
    for seen, meant, cost in _ONE_WAY + _accent_rules():
        by_first[seen[0]].append((seen, meant, cost))
    return dict(by_first)


# What one `variants` search may do, however long or odd the token. A token of MAX_LENGTH
# characters within two misreadings needs at most ~3,100 states and 0.7 million characters (30
# n's, the letter with the most rules), real OCR tokens at most 1,555 and 0.16 million (ICDAR 2017
# and the bundled invoices); one of k misread symbols has 3**k readings ("a$|$|$|" alone 729).
MAX_EXPLORED = 10_000  # partial readings expanded
MAX_SPELLED = 2_000_000  # characters of the readings spelled out


@dataclass
class SearchStats:
    """What one `variants` search did: the partial readings it expanded, the characters of the
    readings it spelled, whether it stopped at a cap with readings left unexplored, and the cost
    below which its result is complete (infinite when it was not capped)."""

    explored: int = 0
    spelled: int = 0
    capped: bool = False
    complete_below: float = float("inf")


# The misreadings of a partial reading, last first: (earlier, kept_from, at, meant) says
# word[kept_from:at] was kept as printed, then `meant` read at `at`. Readings that extend one
# share it rather than copy a string, so a state costs as little in a 10,000-character token.
_Misreads = tuple["_Misreads | None", int, int, str]
_NEVER = float("inf")


def variants(
    word: str,
    max_edits: int = 2,
    *,
    symbols_only: bool = False,
    stats: SearchStats | None = None,
) -> dict[str, float]:
    """What `word` could have been, within `max_edits` misreadings: {variant: lowest cost}.

    The word itself is not included. Rules apply to non-overlapping stretches of the printed word,
    so "rnay" -> "may" is one edit and "shaU" -> "shall" another. `symbols_only` keeps the letters
    as printed and reads only digits and symbols again ("N0" -> "No", but "BF8" never -> "BPS").
    The search is best-first (cheapest partial reading first) and stops at MAX_EXPLORED states or
    MAX_SPELLED characters of readings; capped, it still has every reading cheaper than
    `stats.complete_below`, at its lowest cost.
    """
    rules = _rules_by_first_char()
    if symbols_only:
        rules = {first: found for first, found in rules.items() if first in MISREAD_SYMBOLS}
    end = len(word)
    # The rules that apply at each position, and from each position the next one where any
    # does: a stretch no rule reads again is kept in one step, not one state per character.
    applying = [
        [
            (len(seen), meant, cost)
            for seen, meant, cost in rules.get(char, ())
            if word.startswith(seen, i)
        ]
        for i, char in enumerate(word)
    ]
    next_stop = [end] * (end + 1)
    for i in range(end - 1, -1, -1):
        next_stop[i] = i if applying[i] else next_stop[i + 1]

    # The word as printed is in no result, but holding it at cost 0 keeps out every way back to
    # it through misreadings; it is taken out at the end.
    found = {word: 0.0}
    spelled = 0
    # Partial readings at a place some rule applies, with a misreading left to spend:
    # (cost, tie, edits, position, kept_from, misreads). `tie` falls with each push, so of
    # equally cheap states the newest, the deepest, goes first.
    frontier: list[tuple[float, int, int, int, int, _Misreads | None]] = []
    if max_edits > 0 and next_stop[0] < end:
        frontier.append((0.0, 0, 0, next_stop[0], 0, None))
    tie = explored = 0
    while frontier and explored < MAX_EXPLORED and spelled < MAX_SPELLED:
        cost, _, edits, i, kept_from, misreads = heapq.heappop(frontier)
        explored += 1
        # Keep word[i] as printed: on to the next place a rule applies, or to the end.
        keep = next_stop[i + 1]
        if keep < end:
            tie -= 1
            heapq.heappush(frontier, (cost, tie, edits, keep, kept_from, misreads))
        elif misreads is not None:
            reading = _spelled(word, misreads, kept_from)
            spelled += len(reading)
            if cost < found.get(reading, _NEVER):
                found[reading] = cost
        # Or misread it; after the last misreading allowed, the rest is kept as printed.
        last = edits + 1 == max_edits
        before = None  # the reading up to i, spelled once for all the readings that end here
        for length, meant, rule_cost in applying[i]:
            misread_cost = cost + rule_cost
            after = end if last else next_stop[i + length]
            if after < end:
                tie -= 1
                extended = (misreads, kept_from, i, meant)
                state = (misread_cost, tie, edits + 1, after, i + length, extended)
                heapq.heappush(frontier, state)
                continue
            if before is None:
                before = _spelled(word, misreads, kept_from, i)
            reading = before + meant + word[i + length :]
            spelled += len(reading)
            if misread_cost < found.get(reading, _NEVER):
                found[reading] = misread_cost
    if stats is not None:
        stats.explored, stats.spelled, stats.capped = explored, spelled, bool(frontier)
        # Every state left costs at least this, and so does every reading reached through one.
        stats.complete_below = frontier[0][0] if frontier else _NEVER
    del found[word]
    return found


def _spelled(word: str, misreads: _Misreads | None, kept_from: int, upto: int | None = None) -> str:
    """The reading `misreads` spell, then word[kept_from:upto] (to the end by default)."""
    parts = [word[kept_from:upto]]
    while misreads is not None:
        misreads, earlier_kept_from, at, meant = misreads
        parts += [meant, word[earlier_kept_from:at]]
    return "".join(reversed(parts))


def splits(word: str, known: Callable[[str], bool]) -> list[str]:
    """`word` with one space inserted where OCR lost one, both sides being known words.

    A split after inner punctuation ("hereof,and" -> "hereof, and") needs the same.
    """
    result: list[str] = []
    if sum(c.isalpha() for c in word) < 3:  # "aa" is not "a a"
        return result
    for i in range(1, len(word)):
        left, right = word[:i], word[i:]
        if not left[-1].isalpha() and left[-1] not in ",.;:!?":
            continue
        bare = left.rstrip(",.;:!?")
        if _word_alone(bare, known) and _word_alone(right, known) and right[0].isalpha():
            result.append(f"{left} {right}")
    return result


# Word lists hold every pair of letters; in running text only these short words stand alone.
_SHORT_WORDS = frozenset(
    {"a", "A", "I", "O", "am", "an", "as", "at", "be", "by", "do", "go", "he", "if", "in", "is"}
    | {"it", "me", "my", "no", "of", "on", "or", "so", "to", "up", "us", "we", "ye"}
)


def _word_alone(word: str, known: Callable[[str], bool]) -> bool:
    short = word in _SHORT_WORDS or word.lower() in _SHORT_WORDS and len(word) == 2
    return (len(word) > 2 or short) and known(word)
