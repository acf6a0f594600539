"""Candidate search over the OCR channel: the cheapest readings, in bounded work per token."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrbench.correctors import confusions, words
from ocrbench.correctors.candidates import MAX_LENGTH, candidates
from ocrbench.correctors.confusions import MAX_EXPLORED, MAX_SPELLED, SearchStats, variants


def alternating(length: int) -> str:
    """A letter, then `$` and `|` in turn: each symbol has two readings, so 3**(length - 1)."""
    return ("a" + "$|" * length)[:length]


def searched(word: str, max_edits: int, symbols_only: bool = False) -> tuple[dict, SearchStats]:
    stats = SearchStats()
    return variants(word, max_edits, symbols_only=symbols_only, stats=stats), stats


def every_reading(word: str, max_edits: int, symbols_only: bool = False) -> dict[str, float]:
    """Every way to apply the rules, walked one by one: what `variants` finds when not capped."""
    rules = confusions._rules_by_first_char()
    found: dict[str, float] = {}

    def walk(i: int, built: str, cost: float, edits: int) -> None:
        if i == len(word):
            if edits and cost < found.get(built, float("inf")):
                found[built] = cost
            return
        walk(i + 1, built + word[i], cost, edits)
        if edits < max_edits and not (symbols_only and word[i] not in confusions.MISREAD_SYMBOLS):
            for seen, meant, rule_cost in rules.get(word[i], ()):
                if word.startswith(seen, i):
                    walk(i + len(seen), built + meant, cost + rule_cost, edits + 1)

    walk(0, "", 0.0, 0)
    found.pop(word, None)
    return found


@pytest.mark.parametrize("length", [13, 17, 30, 10_000])
def test_explored_readings_stay_within_the_cap(length: int) -> None:
    word = alternating(length)
    # As candidates() reads a token of letters and symbols: every symbol may be misread.
    found, stats = searched(word, length - 1, symbols_only=True)
    assert stats.capped
    assert stats.explored <= MAX_EXPLORED
    assert sum(map(len, found)) <= stats.spelled <= 2 * MAX_SPELLED
    # What it does find first is the cheapest: one "|" read as "l" or "I".
    assert min(found.values()) == 0.5 <= stats.complete_below


@pytest.mark.parametrize(
    ("word", "max_edits"),
    [("n" * 10_000, 2), ("n" * 10_000, 1), (("x" * 140 + "rn") * 70, 2), ("Ul" * 5_000, 3)],
)
def test_long_tokens_of_letters_stay_within_the_caps(word: str, max_edits: int) -> None:
    found, stats = searched(word, max_edits)
    assert stats.capped
    assert stats.explored <= MAX_EXPLORED
    assert sum(map(len, found)) <= stats.spelled <= 2 * MAX_SPELLED


@pytest.mark.parametrize(
    ("word", "max_edits", "symbols_only"),
    [
        ("rnay", 2, False),
        ("shaU", 2, False),
        ("clicese", 1, False),
        ("clicese", 2, False),
        ("Inv0ice", 2, False),
        ("N0", 1, True),
        ("Tot@l", 1, True),
        ("a$|$|$|", 6, True),  # 729 readings: small enough to walk every one
        ("sothethinshadowpointodtotwelve", 2, False),  # the real token that needs the most
        ("n" * MAX_LENGTH, 2, False),  # the letter with the most rules: the most any token needs
    ],
)
def test_uncapped_search_finds_every_reading_at_its_lowest_cost(
    word: str, max_edits: int, symbols_only: bool
) -> None:
    found, stats = searched(word, max_edits, symbols_only)
    assert not stats.capped and stats.complete_below == float("inf")
    assert found == every_reading(word, max_edits, symbols_only)


def test_the_cheapest_readings_of_ordinary_tokens() -> None:
    assert variants("shaU")["shall"] == 1.0
    assert variants("rnay")["may"] == 1.0
    assert variants("N0", 1, symbols_only=True) == {"No": 0.5, "NO": 0.5}
    assert "N0" not in variants("N0")  # never the word itself


def test_a_capped_search_has_every_reading_below_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    word = "a$|$|$|"
    everything = every_reading(word, 6, symbols_only=True)
    monkeypatch.setattr(confusions, "MAX_EXPLORED", 40)
    found, stats = searched(word, 6, symbols_only=True)
    assert stats.capped and stats.explored == 40
    below = {r: cost for r, cost in everything.items() if cost < stats.complete_below}
    assert below and len(below) < len(everything)
    assert {r: found[r] for r in below} == below
    assert all(cost >= everything[r] for r, cost in found.items())


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[SearchStats]:
    """Every search a corrector makes, recorded."""
    searches: list[SearchStats] = []
    search = confusions.variants

    def recorded(word: str, max_edits: int = 2, **options: bool) -> dict[str, float]:
        searches.append(SearchStats())
        return search(word, max_edits, stats=searches[-1], **options)

    monkeypatch.setattr(confusions, "variants", recorded)
    return searches


LINES = [
    "Total a$|$|$|$|$|$|$|$|$|$|$|$|$|$|$ due",  # a token of MAX_LENGTH characters
    f"Total {alternating(MAX_LENGTH - 1)} due",
    f"Total {alternating(MAX_LENGTH + 1)} due",  # too long to search at all
]


@pytest.mark.parametrize("line", LINES)
def test_lexicon_bounds_the_search_on_a_line_of_symbols(
    line: str, counted: list[SearchStats]
) -> None:
    pytest.importorskip("symspellpy")
    from ocrbench.correctors.lexicon import Lexicon
    from ocrbench.types import OcrResult

    assert Lexicon().correct(OcrResult(line)).text == line
    assert all(stats.explored <= MAX_EXPLORED for stats in counted)
    assert len(counted) == (1 if len(line.split()[1]) <= MAX_LENGTH else 0)


@pytest.mark.parametrize("line", LINES)
def test_noisy_channel_candidates_are_bounded_too(
    line: str, counted: list[SearchStats], tmp_path: Path
) -> None:
    pytest.importorskip("symspellpy")
    from ocrbench.correctors.noisy_channel import NoisyChannel, _Line

    # A model that cannot load: candidate generation alone must not need it.
    corrector = NoisyChannel(repo_id="nobody/nothing", model_dir=str(tmp_path))
    found = corrector._readings(_Line.of(line), 1)
    assert all(stats.explored <= MAX_EXPLORED for stats in counted)
    assert len(counted) == (1 if len(line.split()[1]) <= MAX_LENGTH else 0)
    assert found == candidates(line.split()[1], words.english())
