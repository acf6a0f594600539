"""Candidate readings of a suspicious token: OCR confusions that land on known words.

Shared by `noisy-channel` (which lets a language model choose among them) and `lexicon` (which
takes one only when it is unambiguous).
"""

from __future__ import annotations

import re

from ocrbench.correctors import confusions
from ocrbench.correctors.words import Kind, Token, WordList, kind

MAX_LENGTH = 30  # longer tokens are not words OCR misread: garbage, URLs, runs of symbols


def normal_case(word: str) -> bool:
    """lower, Title or UPPER in each part: a misread letter often leaves a telltale capital
    ("shaU"), while "Invoice-No" and "O'Brien" are fine."""
    for part in re.split(r"[-'’\s]", word):
        letters = "".join(c for c in part if c.isalpha())
        if not (letters.islower() or letters.isupper() or letters.istitle() or not letters):
            return False
    return True


def joined(first: Token, second: Token, gap: str, lexicon: WordList) -> str | None:
    """The word two neighbouring tokens make when OCR split it with a space: a known word where
    one part alone is not ("un fairness"), or where the first ends in a hyphen ("com- mon")."""
    if first.trail or second.lead or gap != " ":
        return None
    if not all(kind(t.core.removesuffix("-")) is Kind.WORD for t in (first, second)):
        return None
    word = first.core.removesuffix("-") + second.core
    if not (lexicon.knows(word) and normal_case(word)):
        return None
    if first.core.endswith("-") or any(suspicious(t.core, lexicon) for t in (first, second)):
        return word
    return None


def suspicious(core: str, lexicon: WordList) -> bool:
    """Whether a token's core may be a misreading worth checking."""
    what = kind(core)
    if what is Kind.CONFUSED:
        return True
    if what is not Kind.WORD:
        return False
    return not (lexicon.knows(core) and normal_case(core))


def abbreviation(core: str, trail: str) -> bool:
    """A short unknown word before a full stop ("infr.", "Il.", "Ph."): a scholar's abbreviation
    more often than a misreading (unless its capitals or digits give it away: "shaU.")."""
    short = sum(c.isalpha() for c in core) <= 5
    return trail.startswith(".") and short and normal_case(core) and kind(core) is Kind.WORD


def initials(core: str) -> bool:
    """An abbreviation's shape no data overrules: up to three letters ("J.", "Mr.", "Pte."), or
    not letters alone ("J.P."). Longer ones ("infr.", "Sergt.", or "uaual." for "usual.") are
    left alone only where a training set shows such words kept at least as often as not."""
    return not core.isalpha() or len(core) < 4


def fragment(token: Token, first: bool) -> bool:
    """A line that starts with an unknown lowercase word most often starts with the end of a word
    hyphenated on the line before ("tention", "perly"): no reading of it alone is right."""
    return first and token.core.islower() and kind(token.core) is Kind.WORD


def left_alone(token: Token, first: bool) -> bool:
    """Suspicious tokens that are nevertheless better left as printed."""
    return abbreviation(token.core, token.trail) or fragment(token, first)


def likelier_readings(core: str, lexicon: WordList, ratio: float) -> dict[str, float]:
    """For a known word, the one-misreading readings `ratio` times more frequent ("aud" -> "and",
    "bis" -> "his"): the real-word errors a word list alone cannot see."""
    if kind(core) is not Kind.WORD or len(core) > MAX_LENGTH:
        return {}
    floor = ratio * max(lexicon.count(core), 1)
    found = {
        reading: cost
        for reading, cost in confusions.variants(core, 1).items()
        if normal_case(reading) and lexicon.count(reading) >= floor
    }
    return dict(sorted(found.items(), key=lambda item: (item[1], item[0])))


def candidates(core: str, lexicon: WordList, max_edits: int = 2) -> dict[str, float]:
    """What a suspicious core could have been: {known reading: channel cost}, cheapest first."""
    if len(core) > MAX_LENGTH:
        return {}
    found: dict[str, float] = {}

    def offer(reading: str, cost: float) -> None:
        if reading == core or not normal_case(reading):
            return
        if cost < found.get(reading, float("inf")):
            found[reading] = cost

    # Letters beside digits are read as printed: "N0" may be "No", but a postcode's "BF8" is not
    # "BPS". Only the digits and symbols are read again, each of them.
    confused = kind(core) is Kind.CONFUSED
    symbols = sum(c in confusions.MISREAD_SYMBOLS for c in core)
    edits = symbols if confused else max_edits
    for reading, cost in confusions.variants(core, edits, symbols_only=confused).items():
        if lexicon.knows(reading):
            offer(reading, cost)
    for reading in confusions.splits(core, lexicon.knows):
        offer(reading, confusions.SPACE_COST)
    if "-" in core.strip("-"):
        joined = core.replace("-", "")
        if lexicon.knows(joined):
            offer(joined, confusions.HYPHEN_COST)
    return dict(sorted(found.items(), key=lambda item: (item[1], item[0])))
