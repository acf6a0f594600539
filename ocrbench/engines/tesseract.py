"""Tesseract, run as a child process (pytesseract finds the binary and its version)."""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ocrbench import pages
from ocrbench.errors import SetupError
from ocrbench.models.hashing import sha256_of
from ocrbench.types import OcrResult, Word

INSTALL_HINT = (
    "install it with `apt-get install tesseract-ocr tesseract-ocr-eng` (Debian/Ubuntu) "
    "or `brew install tesseract` (macOS), or run `make setup`"
)


def _pytesseract() -> Any:
    try:
        import pytesseract
    except ImportError:
        raise SetupError(
            'pytesseract is not installed: pip install "ocrbench[tesseract]"'
        ) from None
    return pytesseract


@functools.cache
def _tesseract_version() -> str:
    pytesseract = _pytesseract()
    try:
        return str(pytesseract.get_tesseract_version())
    except pytesseract.TesseractNotFoundError:
        raise SetupError(f"the tesseract binary was not found: {INSTALL_HINT}") from None


def _installed(option: str = "") -> tuple[str, frozenset[str]]:
    """Tesseract's version and the language packs it finds (in TESSDATA_PREFIX, or in the
    folder of a `--tessdata-dir` option)."""
    return _tesseract_version(), frozenset(_languages(option, os.environ.get("TESSDATA_PREFIX"))[1])


def forget() -> None:
    """Ask Tesseract again on next use (after its binary or language data changed)."""
    _tesseract_version.cache_clear()
    _languages.cache_clear()


@functools.cache
def _languages(option: str, prefix: str | None) -> tuple[Path, tuple[str, ...]]:
    """(the tessdata folder, its languages), as `tesseract --list-langs` reports them; asked once
    per process for each folder option and TESSDATA_PREFIX."""
    _tesseract_version()  # the install hint, if there is no binary
    command = [_pytesseract().pytesseract.tesseract_cmd, *option.split(), "--list-langs"]
    listed = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = (listed.stdout + listed.stderr).splitlines()
    found = re.search(r'"(.*)"', lines[0]) if lines else None
    if listed.returncode != 0 or found is None:
        raise SetupError(f"tesseract --list-langs failed: {' '.join(lines)[:200]}")
    return Path(found.group(1)), tuple(line.strip() for line in lines[1:] if line.strip())


def tessdata_dir(config: str) -> Path:
    """The folder Tesseract reads its language data from with these extra options."""
    return _languages(_tessdata_option(config), os.environ.get("TESSDATA_PREFIX"))[0]


def _tessdata_option(config: str) -> str:
    """The `--tessdata-dir DIR` of a config string, or ""."""
    words = shlex.split(config)
    for i, word in enumerate(words):
        if word == "--tessdata-dir" and i + 1 < len(words):
            return f"--tessdata-dir {shlex.quote(words[i + 1])}"
    return ""


# Options whose value is not a file Tesseract reads (the value of -c is looked at on its own).
_VALUED = {"-l", "--psm", "--oem", "--dpi", "--tessdata-dir", "-c"}


def _files_read(config: str, folder: Path) -> list[str]:
    """The files a config string makes Tesseract read, each by its sha256: a word list
    (`--user-words`), patterns (`--user-patterns`), config files (a path, or a name in the
    tessdata folder's configs/), a `-c NAME_file=PATH`. Their content changes the OCR, so
    it is part of the engine's version, not only their names."""
    words = shlex.split(config)
    found = []
    for i, word in enumerate(words):
        previous = words[i - 1] if i else ""
        if previous == "-c":  # user_words_file=..., user_patterns_file=...
            name, _, value = word.partition("=")
            places = [Path(value)] if name.endswith("_file") else []
        elif previous in ("--user-words", "--user-patterns"):
            places = [Path(word)]
        elif word.startswith("-") or previous in _VALUED:
            places = []
        else:  # a config file, by path or by its name in tessdata/configs or tessconfigs
            places = [Path(word), folder / "configs" / word, folder / "tessconfigs" / word]
        file = next((place for place in places if place.name and place.is_file()), None)
        if file is not None:
            found.append(f"{word}:{sha256_of(file)[:16]}")
            if previous not in ("-c", "--user-words", "--user-patterns"):
                found += _named_in(file)
    return found


def _named_in(config_file: Path) -> list[str]:
    """The files a config file's `NAME_file PATH` lines make Tesseract read, by their sha256."""
    found = []
    for line in config_file.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, value = line.strip().partition(" ")
        file = Path(value.strip())
        if name.endswith("_file") and value.strip() and file.is_file():
            found.append(f"{value.strip()}:{sha256_of(file)[:16]}")
    return found


# Set by lang, psm and oem, which the version hashes the language data of: Tesseract obeys the
# last one it is given, so one in config would read other data under this version.
_OWN_OPTIONS = ("-l", "--psm", "--oem")


def _own_option(config: str) -> str | None:
    for word in shlex.split(config):
        if any(word == o or word.startswith(f"{o}=") for o in _OWN_OPTIONS):
            return word
    return None


@dataclass(frozen=True)
class Tesseract:
    """`lang` as Tesseract takes it ("eng", "eng+grc"); `psm` page segmentation mode 0-13; `oem`
    engine mode 0-3; `config` extra command-line options passed through
    (e.g. "-c preserve_interword_spaces=1")."""

    name: ClassVar[str] = "tesseract"
    lang: str = "eng"
    psm: int = 3
    oem: int = 3
    config: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.psm <= 13:
            raise ValueError(f"psm must be between 0 and 13, not {self.psm}")
        if not 0 <= self.oem <= 3:
            raise ValueError(f"oem must be between 0 and 3, not {self.oem}")
        if not self.lang or any(not part for part in self.lang.split("+")):
            raise ValueError(f"lang must be like 'eng' or 'eng+grc', not {self.lang!r}")
        own = _own_option(self.config)
        if own is not None:
            raise ValueError(
                f"config must not hold {own!r}: the parameters lang=, psm= and oem= set those"
            )

    def version(self) -> str:
        """Tesseract's version and the sha256 of each language model it will read: the same
        `lang` names other weights in another tessdata folder (fast or best, retrained)."""
        option = _tessdata_option(self.config)
        version, langs = _installed(option)
        missing = [lang for lang in self.lang.split("+") if lang not in langs]
        if missing:
            packs = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
            raise SetupError(
                f"Tesseract has no language pack for {', '.join(missing)} "
                f"(installed: {', '.join(sorted(langs)) or 'none'}): apt-get install {packs}"
            )
        folder = tessdata_dir(self.config)
        models = self.lang.split("+") + (["osd"] if self.psm in (0, 1) and "osd" in langs else [])
        files = [f"{m}:{sha256_of(folder / f'{m}.traineddata')[:16]}" for m in models]
        return " ".join([version, *files, *_files_read(self.config, folder), f"/ {pages.VERSION}"])

    def recognize(self, image: Path) -> OcrResult:
        self.version()  # fail with the install hint before the first page, not inside Tesseract
        # One OpenMP thread, as Tesseract advises where several processes read at once (a sweep's
        # workers); 1.00x of two on this project's machine (benchmarks/tesseract_threads.py). A
        # user's own OMP_THREAD_LIMIT still wins.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        options = f"--psm {self.psm} --oem {self.oem} {self.config}".strip()
        try:
            # A file, not a Pillow image: pytesseract re-saved an image as a lossy JPEG.
            with pages.as_file(image) as page:
                start = time.perf_counter()
                # One pass: the word table carries the text too, laid out as Tesseract lays it.
                data = _image_to_data(page, self.lang, options)
                seconds = time.perf_counter() - start
        except _TesseractFailed as error:
            raise SetupError(f"tesseract failed on {image}: {error}") from None
        words, text = _layout(data)
        return OcrResult(text=text, seconds=seconds, words=words)


class _TesseractFailed(Exception):
    """Tesseract exited with an error: what it said on stderr, in one line."""


def _image_to_data(page: Path, lang: str, options: str) -> dict[str, list[Any]]:
    """Tesseract's word table for a page: what `pytesseract.image_to_data(page, lang, options,
    output_type=Output.DICT)` gave, from the same command line, so the text and layout (and the
    OCR cached under this version) stay the same. Run here, not by pytesseract: an interrupt
    (Ctrl-C, SIGTERM) in its wait left Tesseract running, re-parented to init once ocrbench ended,
    and writing its output into /tmp after pytesseract had cleaned up there."""
    # pytesseract's own arguments: its `-c tessedit_create_tsv=1` rather than the `tsv` config
    # file, which a --tessdata-dir folder may lack; the page by its real path, never "-"/"stdin".
    config = f"-c tessedit_create_tsv=1 {options}"
    with tempfile.TemporaryDirectory(prefix="ocrbench-tesseract-") as folder:
        output = Path(folder) / "page"
        command = [
            _pytesseract().pytesseract.tesseract_cmd,
            os.path.realpath(page),
            str(output),
            "-l",
            lang,
            *shlex.split(config, posix=sys.platform != "win32"),
        ]
        try:
            # No console window per page on Windows (pytesseract's STARTUPINFO did the same).
            hidden = getattr(subprocess, "CREATE_NO_WINDOW", 0)
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, creationflags=hidden,
            )  # fmt: skip
        except FileNotFoundError:
            raise SetupError(f"the tesseract binary was not found: {INSTALL_HINT}") from None
        with process:
            try:
                _, said = process.communicate()
            except BaseException:
                # Stopped while Tesseract reads (Ctrl-C, the CLI's Terminated, a sweep worker's
                # SIGTERM): end it before its folder goes, rather than leave it running.
                process.kill()
                process.wait()
                raise
        if process.returncode:  # pytesseract's TesseractError message: stderr on one line
            message = " ".join(said.decode("utf-8", errors="replace").splitlines()).strip()
            raise _TesseractFailed(message)
        table = output.with_suffix(".tsv").read_bytes().decode("utf-8")
    return _table(table)


def _table(tsv: str) -> dict[str, list[Any]]:
    """Tesseract's TSV as pytesseract's `file_to_dict(tsv, "\\t", -1)` reads it: a list per
    column; every cell but the last column's (the word) a number when it reads as one, truncated
    to an int (a confidence of 96.5 is 96)."""
    rows = [row.split("\t") for row in tsv.strip().split("\n")]
    if len(rows) < 2:
        return {}
    header = rows.pop(0)
    if len(rows[-1]) < len(header):  # a last word that is empty loses its cell in strip()
        rows[-1].append("")
    words = len(header) - 1
    table: dict[str, list[Any]] = {}
    for i, head in enumerate(header):
        table[head] = [row[i] if i == words else _number(row[i]) for row in rows if len(row) > i]
    return table


def _number(cell: str) -> int | str:
    try:
        return int(float(cell))
    except ValueError:
        return cell


def _layout(data: dict[str, list[Any]]) -> tuple[tuple[Word, ...], str]:
    """Words with boxes, and the text as `tesseract stdout` prints it: a line per text line, a
    blank line between paragraphs."""
    words: list[Word] = []
    paragraphs: dict[tuple[int, int, int], dict[int, list[str]]] = {}
    for i, text in enumerate(data["text"]):
        confidence = float(data["conf"][i])
        if not text.strip() or confidence < 0:
            continue
        box = (data["left"][i], data["top"][i], data["width"][i], data["height"][i])
        words.append(Word(text=text, box=box, confidence=confidence / 100))
        paragraph = (data["page_num"][i], data["block_num"][i], data["par_num"][i])
        paragraphs.setdefault(paragraph, {}).setdefault(data["line_num"][i], []).append(text)
    text = "\n\n".join(
        "\n".join(" ".join(line) for line in lines.values()) for lines in paragraphs.values()
    )
    return tuple(words), text
