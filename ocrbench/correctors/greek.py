"""Polytonic Greek for the noisy channel: a word list, and the two ways OCR misreads Greek.

Classical commentaries quote Greek inside English. Tesseract with `eng+grc` reads most of it, but
- misplaces accents and breathings or swaps look-alike letters: "τροφης" for τροφῆς,
  "ἐλευθέρον" for ἐλευθέρου, "κελαινοῖξ" for κελαινοῖς;
- reads whole words with its Latin model: "ws" for ὡς, "Alas" for Αἴας, "dxpéowepos" for
  ἀκρέσπερος (accents lost, each letter replaced by the Latin one it looks like).
Both are channels like the English one: this module proposes the Greek words that OCR could have
turned into what it printed, each with a cost, and the language model chooses (Gemma 3 knows
polytonic Greek well: it prefers ὡς to "ws" by 14 nats in a commentary line).

The words are Tesseract's own `grc` word list (137,070 forms), taken from the installed
`grc.traineddata` with Tesseract's `combine_tessdata` and `dawg2wordlist`, so nothing is
downloaded: whoever OCRs Greek with Tesseract has it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ocrbench.correctors.loads import once
from ocrbench.errors import SetupError

REAL_WORD_COST = 1.0  # reading a known word as another: real-word errors are the rarer kind
SCRIPT_COST = 1.0  # reading a word with the wrong script's model: the price of a Greek reading
LOOKALIKE_COST = 0.4  # a Latin letter for the Greek letter it looks like (second choices)
DIACRITIC_COST = 0.5  # an accent, breathing or iota subscript wrong, missing or added
EDIT_COST = 1.5  # any other letter changed, lost or added
ELISION = "᾽’ʼ'"  # an elided word ends in one of these: δ᾽, ἀλλ’ (the word list has no elisions)

# What Tesseract's Latin model prints for each Greek letter: the first is the letter it looks
# most like (free), the others cost LOOKALIKE_COST. Accents are lost in the Latin reading.
_LATIN_LOOKS = {
    "α": "ad@", "β": "b8", "γ": "yvrt", "δ": "d86a", "ε": "ec€¢", "ζ": "z", "η": "n7y",
    "θ": "0o6@8", "ι": "itl1", "κ": "kx", "λ": "a", "μ": "upm", "ν": "vy", "ξ": "fe",
    "ο": "o0", "π": "wrmt", "ρ": "p", "σ": "oca", "ς": "sc", "τ": "trf", "υ": "vu",
    "φ": "pd", "χ": "x", "ψ": "yw", "ω": "w",
}  # fmt: skip
# (Capitals add their own: Δ and Λ look like A, Γ like T.) The digits and symbols among them:
_SYMBOLS = frozenset(c for looks in _LATIN_LOOKS.values() for c in looks if not c.isalpha())
# Greek letters Tesseract's Greek model confuses with each other.
_GREEK_LOOKALIKES = {frozenset(p) for p in ("νυ", "νγ", "ςξ", "ςβ", "σο", "ιί", "ηῃ", "ωῳ", "αᾳ")}
_NEVER = 99.0  # the cost of what a channel does not allow
_LOOK_KEY = str.maketrans({greek: looks[0] for greek, looks in _LATIN_LOOKS.items()})
# Latin letters the Latin model prints for the same Greek ones (υ as v or u, τ as t or r, ...):
# one letter in the keys words are looked up by, so a misreading of either kind is found.
_FOLD = str.maketrans("uyrc0@", "vvtooo")


def bare(word: str) -> str:
    """Lowercase, without accents, breathings or iota subscripts: "Αἴας" -> "αιας"."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def has_greek(word: str) -> bool:
    return any(unicodedata.name(c, "").startswith("GREEK") for c in word if c.isalpha())


def is_greek(word: str) -> bool:
    """Greek letters only (combining marks allowed), at least one of them."""
    letters = [c for c in word if not unicodedata.combining(c)]
    return bool(letters) and all(unicodedata.name(c, "").startswith("GREEK") for c in letters)


def _is_ascii_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _latin_cost(seen: str, meant: str) -> float:
    """Cost of OCR printing Latin `seen` (bare, lowercase) where the page had Greek `meant`."""
    looks = _LATIN_LOOKS.get(meant, "")
    if seen == looks[:1]:
        return 0.0
    return LOOKALIKE_COST if seen in looks else EDIT_COST


def _greek_cost(seen: str, meant: str) -> float:
    """Cost of OCR printing Greek letter `seen` (NFC, lowercase) where the page had `meant`:
    only marks and look-alike letters; another letter costs `_NEVER` (see `respellings`)."""
    if seen == meant:
        return 0.0
    if bare(seen) == bare(meant) or frozenset((seen, meant)) in _GREEK_LOOKALIKES:
        return DIACRITIC_COST
    if frozenset((bare(seen), bare(meant))) in _GREEK_LOOKALIKES:
        return DIACRITIC_COST * 2
    return _NEVER


def _distance(
    seen: str,
    meant: str,
    substitution: Callable[[str, str], float],
    extra: float = EDIT_COST,
    lost: float = EDIT_COST,
) -> float:
    """Weighted edit distance: `substitution(s, m)` per changed letter, `extra` per letter OCR
    added, `lost` per letter it lost."""
    row = [j * lost for j in range(len(meant) + 1)]
    for i, s in enumerate(seen, 1):
        previous, row[0] = row[0], i * extra
        for j, m in enumerate(meant, 1):
            current = min(row[j] + extra, row[j - 1] + lost, previous + substitution(s, m))
            previous, row[j] = row[j], current
    return row[-1]


@dataclass(frozen=True, eq=False)
class GreekWords:
    """The word list, indexed by bare spelling and by how a Latin model would print each word."""

    forms: frozenset[str]
    by_bare: dict[str, tuple[str, ...]]
    by_look: dict[str, tuple[str, ...]]
    sha256: str
    # The indexes' keys as the tuples a fuzzy search takes, made once.
    bare_keys: tuple[str, ...] = field(init=False, repr=False)
    look_keys: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bare_keys", tuple(self.by_bare))
        object.__setattr__(self, "look_keys", tuple(self.by_look))

    @classmethod
    def of(cls, words: list[str], sha256: str) -> GreekWords:
        forms = set()
        by_bare: dict[str, list[str]] = {}
        by_look: dict[str, list[str]] = {}
        for raw in words:
            word = _marks_joined(unicodedata.normalize("NFC", raw.strip()))
            if _listable(word):
                forms.add(word)
                _index(word, by_bare, by_look)
        return cls(
            frozenset(forms),
            {k: tuple(v) for k, v in by_bare.items()},
            {k: tuple(v) for k, v in by_look.items()},
            sha256,
        )

    def with_words(self, extra: Iterable[str]) -> GreekWords:
        """This list with the Greek words of `extra` it lacks (a training set's references: the
        commentary's own Greek, half of which Tesseract's list does not have)."""
        added = sorted(
            {w for w in (_marks_joined(unicodedata.normalize("NFC", x)) for x in extra)
             if _listable(w) and w not in self.forms and w[-1] not in ELISION}
        )  # fmt: skip
        if not added:
            return self
        by_bare = {k: list(v) for k, v in self.by_bare.items()}
        by_look = {k: list(v) for k, v in self.by_look.items()}
        for word in added:
            _index(word, by_bare, by_look)
        digest = hashlib.sha256("\n".join([self.sha256, *added]).encode()).hexdigest()
        return GreekWords(
            self.forms | frozenset(added),
            {k: tuple(v) for k, v in by_bare.items()},
            {k: tuple(v) for k, v in by_look.items()},
            digest,
        )

    def knows(self, word: str) -> bool:
        """Whether the list has the word as written, or in lower case, or in capitals."""
        word = unicodedata.normalize("NFC", word)
        if word in self.forms or word.lower() in self.forms:
            return True
        return word.isupper() and bare(word) in self.by_bare

    def respellings(self, printed: str, limit: int, *, known: bool = False) -> dict[str, float]:
        """Known Greek words that Tesseract's Greek model may have printed as `printed`:
        {reading: cost}, the `limit` cheapest. A breathing printed apart from its capital
        ("᾿Αργείων") is put back on it first.

        Only marks and look-alike letters are read again, never the letters themselves: the list
        lacks half the words of a commentary's Greek, and the model, offered a common word a
        letter or two away from a rare correct one, takes it (σθένοντος -> θέλοντος).
        For a `known` word, no reading drops a mark or only turns an acute into a grave accent:
        the model prefers "προς" to πρὸς and has no ear for where Greek puts a grave."""
        word = _marks_joined(unicodedata.normalize("NFC", printed))
        key = bare(word)
        edits = 1 if len(key) <= 4 else 2
        seen = word.lower()
        found: dict[str, float] = {}
        for other in _near(key, self.bare_keys, edits):
            for form in self.by_bare[other]:
                cost = _distance(seen, form.lower(), _greek_cost, _NEVER, _NEVER)
                if known and not _plausible_for_known(seen, form.lower()):
                    continue
                if cost < _NEVER:
                    found[_case_like(form, word)] = cost
        if word != printed and self.knows(word):
            found[word] = 0.0
        found.pop(printed, None)
        return _cheapest(found, word, limit)

    def greek_readings(self, word: str, limit: int) -> dict[str, float]:
        """Greek words that Tesseract's Latin model may have printed as `word` (Latin letters):
        {reading: SCRIPT_COST + cost of the look-alike letters}, the `limit` cheapest."""
        seen = bare(word)
        letters = sum(_is_ascii_letter(c) for c in seen)
        if letters < 2 or not all(_is_ascii_letter(c) or c in _SYMBOLS for c in seen):
            return {}
        edits = 1 if len(seen) <= 3 else 2 if len(seen) <= 7 else 3
        found: dict[str, float] = {}
        for look in _near(seen.translate(_FOLD), self.look_keys, edits):
            for form in self.by_look[look]:
                found[form] = SCRIPT_COST + _distance(seen, bare(form), _latin_cost)
        found.pop(word, None)
        kept = _cheapest(found, word, limit)
        # Latin capitals are no evidence of Greek ones: the Latin model prints τοῦ as "TOU"
        # and καίπερ as "Kaimep". Both spellings go to the model.
        return kept | {_case_like(form, word): cost for form, cost in kept.items()}


def _listable(word: str) -> bool:
    # The list repeats many words in capitals ("ΚΑΤΑΣΤΡΟΦΗ͂Σ"); capitals are made on demand.
    return is_greek(word) and not (len(word) > 1 and word.isupper())


def _index(word: str, by_bare: dict[str, list[str]], by_look: dict[str, list[str]]) -> None:
    key = bare(word)
    by_bare.setdefault(key, []).append(word)
    by_look.setdefault(key.translate(_LOOK_KEY).translate(_FOLD), []).append(word)


def _plausible_for_known(seen: str, meant: str) -> bool:
    """Whether a known word `seen` may be a misreading of `meant` (same length): every mark it
    has is in `meant` on the same letter, an acute or grave possibly read for a circumflex
    (τών for τῶν). No marks lost, none moved, no acute for a grave: the model prefers "προς" to
    πρὸς and περὶ to πέρι, and has no ear for where Greek puts a grave."""
    if len(seen) != len(meant):
        return False
    for s, m in zip(seen, meant, strict=True):
        have, want = _marks_of(s), _marks_of(m)
        if _CIRCUMFLEX in want:
            have = {_CIRCUMFLEX if mark in _ACUTE_GRAVE else mark for mark in have}
        if not have <= want:
            return False
    return True


_CIRCUMFLEX = "\u0342"
_ACUTE_GRAVE = ("\u0301", "\u0300")


def _marks_of(letter: str) -> set[str]:
    return {c for c in unicodedata.normalize("NFD", letter) if unicodedata.combining(c)}


# Breathings and accents as spacing characters, which OCR prints before a capital: their
# combining equivalents.
_SPACING_MARKS = {
    "᾿": "\u0313", "᾽": "\u0313", "῾": "\u0314", "῎": "\u0313\u0301", "῍": "\u0313\u0300",
    "῏": "\u0313\u0342", "῞": "\u0314\u0301", "῝": "\u0314\u0300", "῟": "\u0314\u0342",
}  # fmt: skip


def _marks_joined(word: str) -> str:
    """A spacing breathing before a capital joined to it: "᾿Αργείων" -> "Ἀργείων"."""
    if len(word) > 1 and word[0] in _SPACING_MARKS and word[1].isupper():
        return unicodedata.normalize("NFC", word[1] + _SPACING_MARKS[word[0]] + word[2:])
    return word


def _case_like(form: str, printed: str) -> str:
    """A word-list form as the page would print it: in capitals, without accents (Greek's
    convention), where OCR printed capitals; else as the list has it (proper names capitalised,
    the rest lower case)."""
    letters = [c for c in printed if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() for c in letters):
        return bare(form).upper()
    return form


def _cheapest(found: dict[str, float], printed: str, limit: int) -> dict[str, float]:
    """The `limit` cheapest readings; of a word the list has in lower case and capitalised (at
    the start of a sentence: "Καί"), only the lower case, and no capitals where OCR printed
    none."""
    found = {
        form: cost
        for form, cost in found.items()
        if not form[:1].isupper() or printed[:1].isupper() and form.lower() not in found
    }
    ranked = sorted(found.items(), key=lambda item: (item[1], item[0]))
    return dict(ranked[:limit])


def _near(key: str, keys: tuple[str, ...], edits: int) -> list[str]:
    """The keys within `edits` plain edits of `key` (rapidfuzz: C++, ~15 ms over 90,000 keys)."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    return [
        match
        for match, _, _ in process.extract(
            key, keys, scorer=Levenshtein.distance, score_cutoff=edits, limit=None
        )
    ]


# -- the word list, from the installed Tesseract ----------------------------------------------


def _tessdata() -> Path:
    """Where Tesseract keeps its language packs ($TESSDATA_PREFIX, else what it says)."""
    if os.environ.get("TESSDATA_PREFIX"):
        return Path(os.environ["TESSDATA_PREFIX"])
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        raise SetupError(_HINT) from None
    found = re.search(r'"([^"]+)"', listed)
    if not found:
        raise SetupError(f"could not find Tesseract's tessdata folder in: {listed[:200]!r}")
    return Path(found.group(1))


_HINT = (
    "the Greek word list comes from Tesseract's grc language pack: "
    "apt-get install tesseract-ocr tesseract-ocr-grc (or run `make setup`)"
)


def _extract(traineddata: Path, dest: Path) -> None:
    """Tesseract's tools turn the pack's word graph into a word list."""
    tools = [shutil.which(t) for t in ("combine_tessdata", "dawg2wordlist")]
    if not all(tools):
        raise SetupError(f"combine_tessdata and dawg2wordlist are missing: {_HINT}")
    with tempfile.TemporaryDirectory() as work:
        prefix = Path(work) / "grc."
        dawg, unicharset = f"{prefix}lstm-word-dawg", f"{prefix}lstm-unicharset"
        commands = [
            [str(tools[0]), "-e", str(traineddata), dawg, unicharset],
            [str(tools[1]), unicharset, dawg, f"{prefix}txt"],
        ]
        try:
            for command in commands:
                subprocess.run(command, capture_output=True, check=True)
        except subprocess.CalledProcessError as error:
            raise SetupError(
                f"could not read the word list of {traineddata}: {error.stderr.decode()[-300:]}"
            ) from None
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_suffix(".partial")
        shutil.copyfile(f"{prefix}txt", partial)
        partial.replace(dest)  # atomic: a cut run leaves no half list behind


def _cache_dir() -> Path:
    from ocrbench.cache import default_root

    return default_root() / "words"


@once
def words() -> GreekWords:
    """The Greek word list of the installed `grc` pack, extracted once and cached by its sha256."""
    traineddata = _tessdata() / "grc.traineddata"
    if not traineddata.is_file():
        raise SetupError(f"{traineddata} is missing: {_HINT}")
    sha256 = hashlib.sha256(traineddata.read_bytes()).hexdigest()
    listed = _cache_dir() / f"grc-{sha256[:16]}.txt"
    if not listed.is_file():
        _extract(traineddata, listed)
    return GreekWords.of(listed.read_text(encoding="utf-8").splitlines(), sha256)
