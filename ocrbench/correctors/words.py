"""Words in OCR lines: where they are, what kind they are, and whether English knows them.

Shared by the `lexicon` and `noisy-channel` correctors, so both leave the same things alone:
numbers, amounts, dates, codes and words in other scripts are never candidates for a change.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from importlib import resources

from ocrbench.correctors.confusions import MISREAD_SYMBOLS
from ocrbench.correctors.loads import once
from ocrbench.errors import SetupError

# Punctuation that may cling to either end of a word; '@', '$' and '|' are not in it because OCR
# reads letters as them ("Tot@l", "$ale", "|ine"), so they belong to the word's core.
OPENERS = "\"'([{<«“‘„¡¿*"
CLOSERS = "\"'.,;:!?)]}>»”’*"
INNER = "'’-"  # inside a word: don't, well-known
_GLUE = ",.;:!?"  # inside a token only when OCR lost the space after it: "hereof,and"
_NUMBER = re.compile(
    r"""^[-+±~]?[$€£¥#]?[-+]?
        (\d[\d.,:/'’\-–]*\d|\d)          # 12, 1,234.50, 12/05/2024, 10:30, 1999-2000
        (%|st|nd|rd|th|d|s|am|pm|k|m|g|kg|mg|km|cm|mm|ml|l|lb|lbs|oz|ft|h|hr|hrs|min|x|
         to|vo|mo)?\.?$   # 5%, 21st, 1990s, 8am, 12kg, 6d., 4to
    """,
    re.VERBOSE | re.IGNORECASE,
)


class Kind(Enum):
    """What a token is, as far as correction goes."""

    EMPTY = "empty"  # only punctuation
    NUMBER = "number"  # numbers, amounts, dates, times, ordinals: never touched
    CODE = "code"  # INV-2024-0042, SKU12, A4: letters and digits that mean what they say
    FOREIGN = "foreign"  # has a letter from a script other than Latin (e.g. Greek)
    CONFUSED = "confused"  # letters mixed with digits or symbols OCR mistakes for letters: N0
    WORD = "word"  # Latin letters (with inner apostrophes or hyphens)
    OTHER = "other"  # anything else (symbols, unusual mixtures): left alone


@dataclass(frozen=True)
class Token:
    """A whitespace-delimited token of a line: `lead` + `core` + `trail` sits at [start, end)."""

    start: int
    end: int
    lead: str
    core: str
    trail: str

    @property
    def text(self) -> str:
        return self.lead + self.core + self.trail


def tokens(line: str) -> Iterator[Token]:
    """The line's tokens with their offsets; whitespace between them is never part of one."""
    for match in re.finditer(r"\S+", line):
        text = match.group()
        core = text.lstrip(OPENERS)
        lead = text[: len(text) - len(core)]
        stripped = core.rstrip(CLOSERS)
        trail = core[len(stripped) :]
        yield Token(match.start(), match.end(), lead, stripped, trail)


def composed(text: str) -> str:
    """The text in NFC, as the metrics read it: an accent decomposed ("e" + U+0301) would make a
    word a token of no kind, and the same page would be corrected otherwise in NFD."""
    return unicodedata.normalize("NFC", text)


def is_latin_letter(char: str) -> bool:
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN")


def kind(core: str) -> Kind:
    """Classify a token's core (its text without clinging punctuation)."""
    if not any(c.isalnum() for c in core):
        return Kind.EMPTY
    if any(c.isalpha() and not is_latin_letter(c) for c in core):
        return Kind.FOREIGN
    if _NUMBER.match(core):
        return Kind.NUMBER
    letters = sum(c.isalpha() for c in core)
    digits = sum(c.isdigit() for c in core)
    if letters and all(c.isalpha() or c in INNER or c in _GLUE for c in core):
        return Kind.WORD
    if letters and digits and _looks_like_code(core):
        return Kind.CODE
    if letters and all(c.isalpha() or c in MISREAD_SYMBOLS or c in INNER for c in core):
        return Kind.CONFUSED
    if digits and not letters:
        return Kind.NUMBER
    return Kind.OTHER


def _looks_like_code(core: str) -> bool:
    """Identifiers: separators, runs of digits, or digits OCR never prints for a letter (A4)."""
    if any(c in "-_/#.:" for c in core) or re.search(r"\d\d", core):
        return True
    return any(c.isdigit() and c not in MISREAD_SYMBOLS for c in core)


def case_like(word: str, model: str) -> str:
    """`word` with the capitalisation pattern of `model` (lower, Title or UPPER)."""
    letters = [c for c in model if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


@dataclass(frozen=True, eq=False)
class WordList:
    """English words with their corpus frequencies (symspellpy's bundled 82,765-word list)."""

    counts: dict[str, int]
    sha256: str = ""  # of the file read: a corrector's version names the list it corrects with

    def knows(self, word: str) -> bool:
        """Whether every part of a word (split at hyphens and apostrophes) is English."""
        parts = [p for p in re.split(r"['’\-]", word.lower()) if p]
        return bool(parts) and all(p in self.counts or _is_suffix(p) for p in parts)

    def count(self, word: str) -> int:
        return self.counts.get(word.lower(), 0)


def _is_suffix(part: str) -> bool:
    return part in {"s", "d", "ll", "t", "re", "ve", "m"}  # father's, I'd, we'll, don't, ...


def english_version() -> str:
    """The English list as a corrector's version names it (its content, not symspellpy's version:
    a list shadowed on the path, or edited, corrects otherwise)."""
    return f"en-words:{english().sha256[:16]}"


@once
def english() -> WordList:
    """The bundled English frequency list, read once per process."""
    try:
        source = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
        text = source.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        raise SetupError(
            "the English word list comes with symspellpy, which is not installed: "
            "pip install 'ocrbench[llm]'"
        ) from None
    counts = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if count:
            counts[word] = int(count)
    return WordList(counts, hashlib.sha256(text.encode("utf-8")).hexdigest())
