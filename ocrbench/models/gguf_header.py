"""What a GGUF file's own header says its quantization is (`general.file_type`).

A file's quantization is otherwise known from its name only ("...-Q8_0.gguf"), and a file renamed,
linked or replaced under another quantization's name would be measured and reported as that one: a
"q8_0" row holding Q4_1 weights. So the header's key-value section is read (pure Python, no
llama_cpp: importing ocrbench stays cheap), only as far as `general.file_type`, and compared with
the name. Only the header is read, never the weights, and once per (path, size, mtime).

GGUF (little endian): b"GGUF", uint32 version, uint64 tensor count, uint64 key-value count, then
per key-value a string key (uint64 length + UTF-8), a uint32 value type and the value.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import BinaryIO

from ocrbench.cache import FileVersion, file_version
from ocrbench.errors import SetupError

# llama.cpp's llama_ftype (LLAMA_FTYPE_MOSTLY_* in llama_cpp.py, copied, not imported) -> our names.
FILE_TYPES = {
    0: "f32",
    1: "f16",
    2: "q4_0",
    3: "q4_1",
    4: "q4_1",  # MOSTLY_Q4_1_SOME_F16 (long removed): Q4_1 with F16 embeddings and output
    7: "q8_0",
    8: "q5_0",
    9: "q5_1",
    10: "q2_k",
    11: "q3_k_s",
    12: "q3_k_m",
    13: "q3_k_l",
    14: "q4_k_s",
    15: "q4_k_m",
    16: "q5_k_s",
    17: "q5_k_m",
    18: "q6_k",
    19: "iq2_xxs",
    20: "iq2_xs",
    21: "q2_k_s",
    22: "iq3_xs",
    23: "iq3_xxs",
    24: "iq1_s",
    25: "iq4_nl",
    26: "iq3_s",
    27: "iq3_m",
    28: "iq2_s",
    29: "iq2_m",
    30: "iq4_xs",
    31: "iq1_m",
    32: "bf16",
    36: "tq1_0",
    37: "tq2_0",
    38: "mxfp4_moe",
    39: "nvfp4",
    40: "q1_0",
    41: "q2_0",
}

_NAMES = frozenset(FILE_TYPES.values())
FILE_TYPE_KEY = "general.file_type"

# GGUF value types with a fixed size -> their layout; 8 is a string, 9 an array.
_FIXED = {
    0: struct.Struct("<B"),
    1: struct.Struct("<b"),
    2: struct.Struct("<H"),
    3: struct.Struct("<h"),
    4: struct.Struct("<I"),
    5: struct.Struct("<i"),
    6: struct.Struct("<f"),
    7: struct.Struct("<?"),
    10: struct.Struct("<Q"),
    11: struct.Struct("<q"),
    12: struct.Struct("<d"),
}
_UINT32, _UINT64, _STRING, _ARRAY = 4, 10, 8, 9
_INTEGERS = (0, 1, 2, 3, 4, 5, 10, 11)  # llama.cpp writes a uint32; any integer type is read
_KEY = FILE_TYPE_KEY.encode()
_CHUNK = 1 << 16


class _Malformed(Exception):
    """A header that ends early or holds what no GGUF file holds."""


class _Reader:
    """The header, read through a buffer of its own: a vocabulary is 100,000+ strings to skip
    (Gemma 3 writes `general.file_type` after them)."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.size = size
        self.buffer = b""
        self.start = 0  # the file offset of buffer[0]
        self.at = 0  # the reading position in the buffer (past its end after a long skip)

    def _load(self, count: int) -> None:
        """Make buffer[at:at + count] hold the next `count` bytes of the file."""
        if self.at + count <= len(self.buffer):
            return
        self.start += self.at
        self.at = 0
        if self.start + count > self.size:
            raise _Malformed("the file ends inside its header")
        self.file.seek(self.start)
        self.buffer = self.file.read(max(count, _CHUNK))
        if len(self.buffer) < count:
            raise _Malformed("the file ends inside its header")

    def take(self, count: int) -> bytes:
        self._load(count)
        data = self.buffer[self.at : self.at + count]
        self.at += count
        return data

    def number(self, kind: int) -> int | float | bool:
        layout = _FIXED[kind]
        self._load(layout.size)
        value: int | float | bool = layout.unpack_from(self.buffer, self.at)[0]
        self.at += layout.size
        return value

    def skip(self, count: int) -> None:
        if count < 0 or self.start + self.at + count > self.size:
            raise _Malformed("a length runs past the end of the file")
        self.at += count

    def string(self) -> bytes:
        length = int(self.number(_UINT64))
        if self.start + self.at + length > self.size:
            raise _Malformed("a string runs past the end of the file")
        return self.take(length)

    def skip_strings(self, count: int) -> None:
        length = _FIXED[_UINT64]
        for _ in range(count):
            if self.at + 8 > len(self.buffer):
                self._load(8)
            self.at += 8 + length.unpack_from(self.buffer, self.at)[0]
        self.skip(0)  # the last one must end inside the file

    def skip_value(self, kind: int) -> None:
        if kind in _FIXED:
            self.skip(_FIXED[kind].size)
        elif kind == _STRING:
            self.skip_strings(1)
        elif kind == _ARRAY:
            element, count = int(self.number(_UINT32)), int(self.number(_UINT64))
            if element in _FIXED:
                self.skip(_FIXED[element].size * count)
            elif element == _STRING:
                self.skip_strings(count)
            elif element == _ARRAY:
                for _ in range(count):
                    self.skip_value(element)
            else:
                raise _Malformed(f"unknown array element type {element}")
        else:
            raise _Malformed(f"unknown value type {kind}")


def _read_file_type(path: Path, size: int) -> int | None:
    with path.open("rb") as file:
        reader = _Reader(file, size)
        if reader.take(4) != b"GGUF":
            return None
        if reader.number(_UINT32) not in (2, 3):  # 1: 32-bit lengths, long unsupported
            return None  # (and a big-endian file reads as another number)
        reader.number(_UINT64)  # the tensor count
        for _ in range(int(reader.number(_UINT64))):
            key = reader.string()
            kind = int(reader.number(_UINT32))
            if key == _KEY and kind in _INTEGERS:
                return int(reader.number(kind))
            reader.skip_value(kind)
    return None


_file_types: dict[FileVersion, int | None] = {}


def file_type(path: Path) -> int | None:
    """The header's `general.file_type` (llama_ftype); None when it has none (older files), or the
    header cannot be read (not GGUF, truncated: loading the file reports those)."""
    key = file_version(path)
    if key not in _file_types:
        try:
            _file_types[key] = _read_file_type(path, key[1])
        except (_Malformed, OSError):
            _file_types[key] = None
    return _file_types[key]


def contradiction(path: Path, named: str | None) -> str | None:
    """What the header says ("Q4_1") when it contradicts the quantization the file is named with;
    None when it does not: the same one, a name without one, or a header that records none
    (files older than the key are taken at their name's word)."""
    if named is None:
        return None
    found = file_type(path)
    if found is None or FILE_TYPES.get(found) == named:
        return None
    said = FILE_TYPES[found].upper() if found in FILE_TYPES else f"an unknown type {found}"
    if named in _NAMES:
        return said
    # A name no GGUF type has ("q8", "8bit", "q4_k"): judged by its bits, which must agree.
    bits, held = _bits(named), _bits(FILE_TYPES.get(found, ""))
    return said if bits is not None and held is not None and bits != held else None


def _bits(name: str) -> int | None:
    """The bits a quantization's name says: "q8" 8, "i1-q4_k_m" 4 (not the imatrix's 1), "bf16"
    16, "8bit" 8; None where it says none it can be held to ("mxfp4", "1.58bit")."""
    found = re.search(r"(?<![a-z0-9])(?:iq|q|bf|fp|f)(\d+)", name) or re.search(
        r"(?<![\d.])(\d+)[ _-]?bits?\b", name
    )
    return int(found.group(1)) if found else None


def check_header(path: Path, named: str | None) -> None:
    """SetupError, in one line, when the header says another quantization than the name."""
    said = contradiction(path, named)
    if said is not None:
        raise SetupError(
            f"model file {path} is named {named} but its GGUF header says {said} "
            f"({FILE_TYPE_KEY} {file_type(path)}); rename or re-make it"
        )
