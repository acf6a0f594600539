"""The lexicon corrector: a dictionary-only baseline, no language model.

A suspicious token (a word symspellpy's English word list lacks, or letters mixed with digits OCR
prints for letters) is replaced only when one reading is clearly the best:
  1. readings reachable by OCR confusions ("shaU" -> "shall", "Inv0ice" -> "Invoice"), the
     cheapest misreading winning if it is common (`min_count`) and not too costly (`max_cost`);
  2. failing that, and only if `max_edit_distance` > 0, symspellpy's lookup within that distance.
A reading wins only if it is `dominance` times more frequent than any other reading as cheap: the
baseline never guesses between "lile" -> "life" and "lile" -> "file". With no context to judge
by, it also leaves alone what is more often right than wrong: capitalised unknown words (names),
short abbreviations ("infr."), a line's first lowercase word (the tail of a hyphenated word), and
lost spaces ("Ashgrove" is not "Ash grove"). Numbers, amounts, dates, codes, other scripts, known
words, whitespace and line structure are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

from ocrbench.correctors import words
from ocrbench.correctors.candidates import (
    MAX_LENGTH,
    candidates,
    left_alone,
    normal_case,
    suspicious,
)
from ocrbench.correctors.loads import Clock, once
from ocrbench.errors import SetupError
from ocrbench.types import Correction, OcrResult

ALGORITHM = "lx4"  # 3: its seconds leave out the one-off loads; 4: reads its input as NFC


@once
def _symspell(max_edit_distance: int) -> Any:
    try:
        from symspellpy import SymSpell
    except ImportError:
        raise SetupError(
            "the lexicon corrector needs symspellpy: pip install 'ocrbench[llm]'"
        ) from None
    speller = SymSpell(max_dictionary_edit_distance=max_edit_distance)
    path = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    with resources.as_file(path) as file:
        speller.load_dictionary(str(file), term_index=0, count_index=1)
    return speller


@dataclass(frozen=True)
class Lexicon:
    name: ClassVar[str] = "lexicon"

    max_edit_distance: int = 0  # symspell's reach beyond OCR confusions (0: confusions only)
    max_edits: int = 2  # OCR misreadings combined in one reading
    dominance: float = 10.0  # how much more frequent the winner must be than an equal rival
    min_length: int = 3  # shorter tokens ("ot", "aa") are too ambiguous to correct alone
    min_count: int = 3_000_000  # rarer words ("terns", "fermi") are no one's first guess
    max_cost: float = 2.0  # costlier readings (two unusual misreadings: "ihe" -> "inc") are guesses

    def __post_init__(self) -> None:
        if not 0 <= self.max_edit_distance <= 3:
            raise ValueError(f"max_edit_distance must be 0-3, not {self.max_edit_distance}")
        if self.max_edits < 0:
            raise ValueError(f"max_edits must be >= 0, not {self.max_edits}")
        if self.dominance < 1:
            raise ValueError(f"dominance must be >= 1, not {self.dominance}")
        if self.min_count < 0:
            raise ValueError(f"min_count must be >= 0, not {self.min_count}")
        if self.max_cost < 0:
            raise ValueError(f"max_cost must be >= 0, not {self.max_cost}")
        if self.min_length < 1:
            raise ValueError(f"min_length must be >= 1, not {self.min_length}")

    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            symspell = version("symspellpy")
        except PackageNotFoundError:
            symspell = "absent"
        return f"lexicon-{ALGORITHM} symspellpy-{symspell} {words.english_version()}"

    def correct(self, ocr: OcrResult) -> Correction:
        clock = Clock()  # its seconds leave out the dictionaries' one-off loads
        lexicon = words.english()
        lines = words.composed(ocr.text).split("\n")
        changes = []
        for i, line in enumerate(lines):
            replacements = []
            for k, token in enumerate(words.tokens(line)):
                if not self._worth_a_try(token.core, lexicon) or left_alone(token, k == 0):
                    continue
                reading = self._reading(token.core, lexicon)
                if reading is not None:
                    new = token.lead + reading + token.trail
                    replacements.append((token, new))
                    changes.append((token.text, new))
            for token, new in reversed(replacements):
                line = line[: token.start] + new + line[token.end :]
            lines[i] = line
        return Correction(text="\n".join(lines), seconds=clock.seconds(), changes=tuple(changes))

    def _worth_a_try(self, core: str, lexicon: words.WordList) -> bool:
        """Suspicious, long enough, and not a capitalised unknown word: with no context to tell,
        "Ashgrove" or "Okafor" is a name, not a misreading."""
        if len(core) < self.min_length or not suspicious(core, lexicon):
            return False
        capitalised = core[:1].isupper() and normal_case(core)
        return not capitalised or words.kind(core) is words.Kind.CONFUSED

    def _reading(self, core: str, lexicon: words.WordList) -> str | None:
        # No lost spaces: without context "Ashgrove" -> "Ash grove" is a guess, not a fix.
        found = {
            reading: cost
            for reading, cost in candidates(core, lexicon, self.max_edits).items()
            if " " not in reading
            and cost <= self.max_cost
            and lexicon.count(reading) >= self.min_count
        }
        if found:
            cheapest = min(found.values())
            tied = [r for r, cost in found.items() if cost == cheapest]
            return self._dominant(tied, core, lexicon)
        if self.max_edit_distance and core.isalpha() and len(core) <= MAX_LENGTH:
            return self._suggestion(core, lexicon)
        return None

    def _dominant(self, readings: list[str], core: str, lexicon: words.WordList) -> str | None:
        """The reading far more frequent than every other one, if there is one."""
        counts = {r: lexicon.count(r) for r in readings}
        # Among case variants of one word ("NO", "No"), the one cased like the token comes first.
        ranked = sorted(
            readings, key=lambda r: (counts[r], r == words.case_like(r, core)), reverse=True
        )
        # Case variants of one word ("NO", "No") are one reading for the word list.
        rivals = [r for r in ranked[1:] if r.lower() != ranked[0].lower()]
        if rivals and counts[ranked[0]] < self.dominance * counts[rivals[0]]:
            return None
        return ranked[0]

    def _suggestion(self, core: str, lexicon: words.WordList) -> str | None:
        from symspellpy import Verbosity

        found = _symspell(self.max_edit_distance).lookup(
            core.lower(), Verbosity.CLOSEST, max_edit_distance=self.max_edit_distance
        )
        if not found:
            return None
        if len(found) > 1 and found[0].count < self.dominance * found[1].count:
            return None
        if found[0].count < self.min_count:
            return None
        reading = words.case_like(found[0].term, core)
        return reading if normal_case(reading) and reading != core else None
