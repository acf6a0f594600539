"""The OCR channel: which misreadings are plausible, and what a reading could have been.

A rule (seen, meant, cost) says OCR may print `seen` where the page had `meant`; the cost (in
confusion units, ~1 for a common misreading) says how unlikely that is. `variants` inverts the
channel: the strings a token could have been, each with the total cost of the misreadings that
would turn it into what OCR printed.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Callable
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
def _rules_by_first_char() -> dict[str, list[Rule]]:
    rules: dict[str, list[Rule]] = defaultdict(list)
    for a, b, cost in _SYMMETRIC:
        rules[a[0]].append((a, b, cost))
        rules[b[0]].append((b, a, cost))
    for seen, meant, cost in _ONE_WAY + _accent_rules():
        rules[seen[0]].append((seen, meant, cost))
    return dict(rules)


def variants(word: str, max_edits: int = 2, *, symbols_only: bool = False) -> dict[str, float]:
    """What `word` could have been, within `max_edits` misreadings: {variant: lowest cost}.

    The word itself is not included. Rules apply to non-overlapping stretches of the printed word,
    so "rnay" -> "may" is one edit and "shaU" -> "shall" another. `symbols_only` keeps the letters
    as printed and reads only digits and symbols again ("N0" -> "No", but "BF8" never -> "BPS").
    """
    rules = _rules_by_first_char()
    if symbols_only:
        rules = {first: found for first, found in rules.items() if first in MISREAD_SYMBOLS}
    found: dict[str, float] = {}

    def walk(i: int, built: str, cost: float, edits: int) -> None:
        if i == len(word):
            if edits and cost < found.get(built, float("inf")):
                found[built] = cost
            return
        walk(i + 1, built + word[i], cost, edits)
        if edits < max_edits:
            for seen, meant, rule_cost in rules.get(word[i], ()):
                if word.startswith(seen, i):
                    walk(i + len(seen), built + meant, cost + rule_cost, edits + 1)

    walk(0, "", 0.0, 0)
    found.pop(word, None)
    return found


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
