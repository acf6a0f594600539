"""noisy-channel's learned channel: what it learns from (OCR, reference) pairs, the weighted edit
search that turns those rules into readings, and the trained corrector that uses both."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocrbench.correctors import channel, confusions, search
from ocrbench.correctors.noisy_channel import (
    HAND_MADE,
    JOIN,
    LEARNED_CHANNEL,
    LEARNED_WORD,
    UNSEEN_EDIT,
    NoisyChannel,
)
from ocrbench.types import Correction, OcrResult

pytest.importorskip("symspellpy")  # the English word list the channel checks readings against

# The OCR of one collection: "x" for "w", which the hand-made table lacks, "li" for "h" and "tb"
# for "th", which it has, each printed many times; and a one-off slip.
PAIRS = [
    ("tbe man xas on tbe road", "the man was on the road"),
    ("xhen tbey came liome", "when they came home"),
    ("a xord of xisdom and a liorse", "a word of wisdom and a horse"),
    ("tbe qxz was rare", "the qxy was rare"),
    ("a blue bell", "a blue bell"),  # "b" and "l" are letters of the references too
] * 3


def _readings(corrector: NoisyChannel, text: str) -> dict[str, dict[str, tuple[float, str]]]:
    return {
        found["token"]: {r: (c, s) for r, c, s in found["readings"]}
        for found in corrector.explain(text)
    }


def test_pairs_are_cut_into_words_at_the_spaces_both_sides_share() -> None:
    assert list(channel.chunks("tbe  cat sat", "the cat sat")) == [
        ("tbe", "the"),
        ("cat", "cat"),
        ("sat", "sat"),
    ]
    # merged words stay one chunk with their reference, so a split is seen as such
    assert list(channel.chunks("thecat sat", "the cat sat")) == [
        ("thecat", "the cat"),
        ("sat", "sat"),
    ]


def test_rules_are_edits_alone_joined_and_widened_by_their_neighbours() -> None:
    assert set(channel.edits("tbe", "the")) == {
        ("b", "h"),
        ("tb", "th"),
        ("be", "he"),
        ("tbe", "the"),
    }
    # two neighbouring edits (replace and delete, however the alignment cuts them) are one rule too
    assert ("li", "h") in set(channel.edits("liat", "hat"))
    assert ("rn", "m") in set(channel.edits("rnodern", "modern"))
    assert all(len(a) <= channel.MAX_SIDE and len(b) <= channel.MAX_SIDE and a for a, b in
               channel.edits("abcdefgh", "abXYZfgh"))  # fmt: skip


def test_learn_counts_rules_seen_twice_and_the_references_words() -> None:
    state = channel.learn(PAIRS)
    assert json.loads(json.dumps(state)) == state  # what the fit cache stores
    rules = {(a, b): n for a, b, n in state["rules"]}
    assert rules[("x", "w")] >= 12 and rules[("li", "h")] >= 6 and rules[("tb", "th")] >= 12
    assert ("z", "y") not in rules or rules[("z", "y")] >= channel.MIN_COUNT
    assert state["pairs"] == len(PAIRS)
    assert state["vocabulary"]["horse"] == 3 and "liorse" not in state["vocabulary"]
    misread = {(a, b): n for a, b, n in state["words"]}
    assert misread[("tbe", "the")] == 9
    once = channel.learn([*PAIRS, ("a bxg dog", "a big dog")])
    assert ("bxg", "big") not in {(a, b) for a, b, _ in once["words"]}  # seen once: noise
    assert ("x", "i") not in {(a, b) for a, b, _ in once["rules"]}


def test_learned_costs_follow_the_data_and_the_prior_stays_for_the_rest() -> None:
    learned = channel.Channel.of(channel.learn(PAIRS), 2.0)
    prior = {(a, b): c for a, b, c in confusions.rules()}
    # seen often: cheaper than a rule the data never showed
    assert learned.costs[("li", "h")] < 1.5
    untouched = next(r for r in prior if r not in learned.costs)
    assert untouched in {(a, b) for a, b, _ in learned.rules()}
    # a rule seen rarely against a frequent truth costs more than one seen for nearly every truth
    few = channel.Channel.of(channel.learn(PAIRS + [("the hat", "the hat")] * 50), 2.0)
    assert few.costs[("li", "h")] > learned.costs[("li", "h")]
    assert learned.costs[("x", "w")] < 1.5 and ("x", "w") not in prior


def test_the_hand_made_table_is_scaled_by_how_far_the_shared_rules_are_off() -> None:
    prior = {(a, b): c for a, b, c in confusions.rules()}
    learned = channel.Channel.of(channel.learn(PAIRS), 2.0)
    shared = [rule for rule in learned.costs if rule in prior]
    assert shared  # "li" -> "h" and "tb" -> "th" are in the table too
    # here the data show them likelier than the table says: the table's other rules get cheaper
    assert all(learned.costs[rule] < prior[rule] for rule in shared)
    assert learned.prior_scale < 1.0
    untouched = next(r for r in prior if r not in learned.costs)
    scaled = {(a, b): c for a, b, c in learned.rules()}[untouched]
    assert scaled == pytest.approx(prior[untouched] * learned.prior_scale)
    # many more sightings of the same ratios move the scale further from 1 (less shrinkage)
    more = channel.Channel.of(channel.learn(PAIRS * 20), 2.0)
    assert abs(math.log(more.prior_scale)) > abs(math.log(learned.prior_scale))
    # nothing shared: the table as it is
    assert channel.Channel.of(channel.learn([("a cat", "a cat")] * 3), 2.0).prior_scale == 1.0
    # the corrector's hand-made readings follow the scale
    corrector = NoisyChannel()
    trained = corrector.trained(corrector.fit(PAIRS))
    before, after = _readings(corrector, "Tota1"), _readings(trained, "Tota1")
    hand = [r for r, (_, s) in after["Tota1"].items() if s == HAND_MADE and r in before["Tota1"]]
    assert hand
    for reading in hand:
        assert after["Tota1"][reading][0] == pytest.approx(
            before["Tota1"][reading][0] * learned.prior_scale, abs=1e-3
        )


def test_the_search_reaches_the_word_through_learned_rules_and_is_bounded() -> None:
    rules = search.RuleIndex.of([("li", "h", 0.5), ("tb", "th", 0.5), ("e", "c", 1.0)])
    lexicon = search.Lexicon.of(["horse", "home", "other", "the", "hat"])
    known = lexicon.words.__contains__
    assert search.readings("liorse", rules, lexicon, known=known) == {"horse": 0.5}
    assert search.readings("otber", rules, lexicon, known=known) == {"other": 0.5}
    assert search.readings("zzz", rules, lexicon, known=known) == {}  # nothing leads to a word
    # the printed word itself is no reading; max_edits bounds the rules one reading combines
    assert search.readings("tbe", rules, lexicon, known=known, max_edits=0) == {}
    # a word no lexicon prefix allows stops at once; a huge rule set stops at MAX_EXPLORED
    many = search.RuleIndex.of([(c, d, 0.01) for c in "ab" for d in "abcdefghijklmnop"])
    wide = search.Lexicon.of(
        ["".join(w) for w in __import__("itertools").product("abcdefghij", repeat=4)]
    )
    stats = search.SearchStats()
    search.readings(
        "ab" * 30, many, wide, known=lambda w: False, max_edits=60, max_cost=99, stats=stats
    )
    assert stats.explored == search.MAX_EXPLORED and stats.capped


def test_trained_corrector_proposes_what_the_training_ocr_got_wrong_and_says_where_from() -> None:
    corrector = NoisyChannel()
    trained = corrector.trained(corrector.fit(PAIRS))
    assert trained.version() != corrector.version()
    assert corrector.trained(corrector.fit(PAIRS)).version() == trained.version()
    text = "tbe xind of tbe xest"  # words the training set never had
    before, after = _readings(corrector, text), _readings(trained, text)
    assert "wind" not in before.get("xind", {}) and "west" not in before.get("xest", {})
    assert after["xind"]["wind"][1] == LEARNED_CHANNEL
    assert after["xest"]["west"][1] == LEARNED_CHANNEL
    assert after["tbe"]["the"][1] == LEARNED_WORD  # a whole word it saw misread
    assert all(source == HAND_MADE for found in before.values() for _, source in found.values())
    # a known word the training OCR never misread is left alone, trained or not
    assert "of" not in after


def test_where_no_learned_rule_reaches_a_word_one_edit_no_rule_names_may() -> None:
    """Each collection misreads in ways its training set never showed ("wiqdom"): where the
    learned rules (and the table behind them) read an unknown word into no word at all, one edit
    no rule names is allowed, at the price of a rule never seen; not beside Greek."""
    corrector = NoisyChannel()
    trained = corrector.trained(corrector.fit(PAIRS))
    unseen = trained._learned().source.unseen_cost  # type: ignore[union-attr]
    assert unseen == pytest.approx(-math.log(channel.UNSEEN_PROBABILITY) / 2.0)
    found = _readings(trained, "the wiqdom of it")["wiqdom"]  # q for s: no rule has it
    assert found["wisdom"] == (round(unseen, 3), UNSEEN_EDIT)  # explain rounds to 0.001
    # a capitalised word is more often a name the lexicon lacks than a misreading
    assert all(
        src != UNSEEN_EDIT for _, src in _readings(trained, "Wiqdom").get("Wiqdom", {}).values()
    )
    # a word the rules do reach gets no reading through an unseen edit
    assert all(source != UNSEEN_EDIT for _, source in _readings(trained, "xind")["xind"].values())
    # untrained, nothing changes
    assert "wisdom" not in _readings(corrector, "the wiqdom of it").get("wiqdom", {})
    # with Greek on the page a Latin word may be Greek the Latin model read: no English mimic
    greek = NoisyChannel(lang="eng+grc")
    beside = _readings(greek.trained(greek.fit(PAIRS)), "the wiqdom of it").get("wiqdom", {})
    assert all(source != UNSEEN_EDIT for _, source in beside.values())


def test_the_learned_channel_reads_digits_the_collection_prints_for_letters() -> None:
    """Headlines of old newspapers print "8" for "S" beside other misreadings ("8EAAON"): the
    hand-made table reads only a mixed token's digits, the learned rules read all of it."""
    pairs = [*PAIRS, ("the 8ea xas calm", "the sea was calm")] * 2
    corrector = NoisyChannel()
    trained = corrector.trained(corrector.fit(pairs))
    assert "sweet" not in _readings(corrector, "a 8xeet song").get("8xeet", {})
    assert _readings(trained, "a 8xeet song")["8xeet"]["sweet"][1] == LEARNED_CHANNEL
    assert "8xeet" not in _readings(trained, "a 8-xeet song")  # a code: read as printed


def test_the_training_set_says_whether_longer_words_before_a_full_stop_are_abbreviations() -> None:
    """A short unknown word before a full stop is left alone as an abbreviation ("infr."); of four
    letters or more, a newspaper's is more often a misreading ("uaual." for "usual."): trained,
    the training set decides, by how often its references kept such words as printed."""
    misread = [("it was uaual. then", "it was usual. then"), ("a boat. no", "a boat. no")] * 3
    learned = channel.learn(misread)
    assert learned["abbreviations"] == [3, 0]  # "boat." is a word; "no" is no abbreviation
    corrector = NoisyChannel()
    assert "baaia" not in _readings(corrector, "its baaia. now")
    trained = corrector.trained(corrector.fit(PAIRS + misread))
    assert trained.describe(trained.fit(PAIRS + misread))["abbreviations"]["left alone"] is False
    assert _readings(trained, "its baaia. now")["baaia"]["basis"][1] == LEARNED_CHANNEL
    assert "Bt." not in _readings(trained, "as Bt. now") and "Bt" not in _readings(trained, "Bt.")
    # a commentary whose references keep them: left alone, trained or not
    scholarly = [*misread, *[("see infr. 95 and supr. 3", "see infr. 95 and supr. 3")] * 3]
    assert channel.learn(scholarly)["abbreviations"] == [9, 6]
    kept = corrector.trained(corrector.fit(PAIRS + scholarly))
    assert "baaia" not in _readings(kept, "its baaia. now")


def test_trained_corrector_proposes_joining_words_split_by_a_space() -> None:
    corrector = NoisyChannel()
    trained = corrector.trained(corrector.fit(PAIRS))
    text = "the un fairness of the com- mon law, self- evident, to day"
    joins = {
        f["token"]: f["readings"] for f in trained.explain(text) if f["readings"][0][2] == JOIN
    }
    assert joins == {
        "un fairness": [("unfairness", 1.0, JOIN)],
        "com- mon": [("common", 1.0, JOIN)],
    }
    # "self- evident" joins into no word; "to day" is two known words; untrained joins nothing
    assert not any(r[2] == JOIN for f in corrector.explain(text) for r in f["readings"])
    assert trained.describe(trained_state := corrector.fit(PAIRS))["joins"] == {
        "seen": 0,
        "right": 0,
        "used": True,
    }
    # References that keep what OCR split ("pro- bably", as ICDAR 2017's do): joins are off.
    kept = [("it was pro bably so", "it was pro- bably so"), ("un fairness", "un- fairness")] * 3
    state = corrector.fit(PAIRS + kept)
    assert corrector.describe(state)["joins"] == {"seen": 6, "right": 0, "used": False}
    assert "bably" not in state["vocabulary"] and "pro" not in state["vocabulary"]  # no words
    assert not any(
        r[2] == JOIN for f in corrector.trained(state).explain(text) for r in f["readings"]
    )
    assert trained_state == corrector.fit(PAIRS)


def test_describe_lists_the_most_frequent_confusions_with_costs() -> None:
    corrector = NoisyChannel()
    described = corrector.describe(corrector.fit(PAIRS))
    assert described["pairs"] == len(PAIRS) and described["rules"] > 0
    top = {(c["ocr"], c["truth"]): c for c in described["confusions"]}
    assert ("li", "h") in top and top[("li", "h")]["cost"] > 0
    counts = [c["count"] for c in described["confusions"]]
    assert counts == sorted(counts, reverse=True)


def _untrained_and_trained(model_dir: str, text: str) -> tuple[str, Correction]:
    """`text` corrected by noisy-channel on the model, untrained and trained on PAIRS."""
    corrector = NoisyChannel(model_dir=model_dir)
    trained = corrector.trained(corrector.fit(PAIRS))
    try:
        return corrector.correct(OcrResult(text=text)).text, trained.correct(OcrResult(text=text))
    finally:
        trained.close()
        corrector.close()


def test_trained_corrector_fixes_the_collections_misreadings_with_the_model(model_dir: str) -> None:
    untrained_text, result = _untrained_and_trained(model_dir, "He xent to see tbe xorld again.")
    assert result.text == "He went to see the world again."
    assert "xent" in untrained_text and "xorld" in untrained_text
    assert ("xorld", "world") in result.changes


def test_an_unseen_edit_fixes_a_misreading_the_training_set_never_showed(model_dir: str) -> None:
    text = "It was a tale of great wiqdom and courage."
    untrained_text, result = _untrained_and_trained(model_dir, text)
    assert "wiqdom" in untrained_text
    assert result.text == "It was a tale of great wisdom and courage."


def test_joins_change_only_the_space_they_remove(model_dir: str) -> None:
    corrector = NoisyChannel(model_dir=model_dir)
    trained = corrector.trained(corrector.fit(PAIRS))
    text = "He  spoke of the un fairness\tof the com- mon law.\nA sec ond line,  self- evident. "
    try:
        result = trained.correct(OcrResult(text=text))
    finally:
        trained.close()
    assert result.text == (
        "He  spoke of the unfairness\tof the common law.\nA second line,  self- evident. "
    )
    assert set(result.changes) == {
        ("un fairness", "unfairness"),
        ("com- mon", "common"),
        ("sec ond", "second"),
    }


def test_what_fit_learns_is_the_same_in_every_process() -> None:
    """The state names the trained corrector's version (and the row keys): string hashing, which
    differs per process, must not order it."""
    script = (
        "import json, sys; sys.path.insert(0, 'tests'); from test_learned_channel import PAIRS;"
        "from ocrbench.correctors import channel;"
        "print(json.dumps(channel.learn(PAIRS * 2 + [('rnore tlian', 'more than')] * 2)))"
    )
    states = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[1],
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(states) == 1


# Tesseract's "᾽" where the transcribers wrote "ʼ" (the references never hold "᾽"); "|" it
# prints for nothing; "é", which the references also hold, and "~", right once only: no rewrite.
ELIDED = [
    ("ἀλλ᾽ ἔστιν | καλόν", "ἀλλʼ ἔστιν καλόν"),
    ("τ᾽ ἐστὶ café", "τʼ ἐστὶ café"),
    ("πάντ᾽ ~ ὁρᾷ", "πάντʼ ὁρᾷ"),
    ("| λόγος δ᾽", "λόγος δʼ"),
    ("a word |", "a word"),
    ("| a | word", "a word"),
] * 3


def test_characters_foreign_to_the_references_are_rewritten_as_learned() -> None:
    state = channel.learn(ELIDED)
    rewrites = {r[0]: r[1:] for r in state["rewrites"]}  # as printed: [meant, right, printed]
    assert rewrites == {"᾽": ["ʼ", 12, 12], "|": ["", 15, 15]}
    corrector = NoisyChannel(lang="eng+grc")
    trained = corrector.trained(state)
    fixed = trained.correct(OcrResult("οὐδ᾽ ἔστιν | café"))  # nothing else is suspicious here
    assert fixed.text == "οὐδʼ ἔστιν café"  # the emptied word went with its space
    assert fixed.changes == (("οὐδ᾽ ἔστιν | café", "οὐδʼ ἔστιν café"),)  # words: 4 -> 3
    assert trained.correct(OcrResult("οὐδ᾽ ἔστιν")).changes == (("οὐδ᾽", "οὐδʼ"),)
    assert corrector.correct(OcrResult("οὐδ᾽ ἔστιν | café")).text == "οὐδ᾽ ἔστιν | café"
    described = corrector.describe(state)["rewrites"]
    assert {"ocr": "᾽", "truth": "ʼ", "right": 12, "printed": 12} in described


def test_no_rewrite_of_digits_or_of_the_marks_that_shape_words_and_lines() -> None:
    """References without a digit or a hyphen (literary text) taught "8" -> "S", "0" -> "o" and
    "-" -> "": applied to every character of a page, they changed "1998" to "199S", "INV-2024"
    to "INV2o24" and took a line's final hyphen away. A collection's references can say a
    character is foreign to them, not that numbers and hyphens elsewhere are misreadings."""
    pairs = []
    for i in range(60):
        pairs.append((f"8EASON tick-et {i % 2 and 'g0od' or 'w0rd'} ſome ᾽", "SEASON ticket "
                      f"{i % 2 and 'good' or 'word'} some ʼ"))  # fmt: skip
    learned = {rule[0]: rule[1] for rule in channel.learn(pairs)["rewrites"]}
    assert "ſ" in learned and "᾽" in learned  # foreign letters and marks are still rewritten
    assert not {"8", "0", "-"} & set(learned), learned
