"""Reading a sweep spec file: whatever the path holds, a problem is one ConfigError line, and the
command line prints it as one line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocrbench.errors import ConfigError

try:  # before specs.py existed the loader lived in sweep.py (tried first: an editable install
    # can find a newer checkout's specs.py for an older checkout's package)
    from ocrbench.sweep import load_spec as load  # type: ignore[attr-defined]
except ImportError:
    from ocrbench.specs import load


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A text-only dataset: the `given` engine reads its OCR, so no Tesseract is needed."""
    root = tmp_path / "data"
    root.mkdir()
    sample = {"id": "a", "ocr": "Inv0ice", "text": "Invoice"}
    (root / "manifest.jsonl").write_text(json.dumps(sample) + "\n")
    return root


def spec_file(tmp_path: Path, dataset: Path, extra: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(f"datasets: [{dataset}]\nengines: {{given: {{}}}}\n{extra}", encoding="utf-8")
    return path


def one_line_error(path: Path, phrase: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(path)
    text = str(error.value)
    assert "\n" not in text and str(path) in text and phrase in text, text


def test_a_folder_is_not_a_spec(tmp_path: Path) -> None:
    one_line_error(tmp_path, "is a folder; give the sweep spec file")


def test_a_spec_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    one_line_error(path, "not UTF-8 text (byte 0xe9 at offset 9); save the sweep spec as UTF-8")


def test_a_control_character_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bell.yaml"
    path.write_text("name: a\x07b\n", encoding="utf-8")
    one_line_error(path, "malformed YAML (unacceptable character #x0007")


def test_gate_accepts_allow_missing(tmp_path: Path, dataset: Path) -> None:
    path = spec_file(tmp_path, dataset, "gate: {baseline: b.json, allow_missing: true}\n")
    assert load(path).gate == {"baseline": "b.json", "allow_missing": True}


def test_a_named_model_folder_that_does_not_exist_fails_at_load(
    tmp_path: Path, dataset: Path
) -> None:
    """Checked before the sweep starts, at its place in the file, and nothing is created (a repo
    other than the embedded default, so the original code fails without writing 242 MB)."""
    nowhere = tmp_path / "no-models"
    path = spec_file(
        tmp_path,
        dataset,
        "correctors:\n  noisy-channel:\n    repo_id: someone/tiny-GGUF\n"
        f"    model_dir: {nowhere}\n",
    )
    one_line_error(path, f"correctors.noisy-channel.model: model folder {nowhere}")
    with pytest.raises(ConfigError, match="does not exist; create it"):
        load(path)
    assert not nowhere.exists()


@pytest.mark.parametrize("kind", ["folder", "latin-1"])
def test_the_cli_prints_one_line(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "specs"
    target.mkdir()
    if kind == "latin-1":
        target = target / "bad.yaml"
        target.write_bytes(b"name: \xff\n")
    done = subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "sweep", str(target)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path), "OCRBENCH_CACHE": str(tmp_path / "cache")},
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ocrbench: error: "), done.stderr


def test_gpu_layers_auto_is_what_this_build_can_tell_apart() -> None:
    from ocrbench import models

    assert models.gpu_layer_settings(False, 18) == [0]  # no offload: all the same CPU work
    assert models.gpu_layer_settings(True, 18) == [0, 9, -1]  # none, half, all
    assert models.gpu_layer_settings(True, 7) == [0, 4, -1]
    assert models.gpu_layer_settings(True, None) == [0, -1]  # blocks unknown: none and all


def test_gpu_layers_auto_on_a_build_without_offload_runs_0_and_says_so_once(
    tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocrbench import models
    from ocrbench.models import loading

    monkeypatch.setattr(loading, "gpu_offload", lambda: False)
    monkeypatch.setattr(models, "gpu_offload", lambda: False)
    monkeypatch.setattr(models, "resolve", lambda spec, **kwargs: tmp_path)  # no model needed
    extra = """correctors:
  - name: lexicon
  - name: noisy-channel
    model: {quantization: [q4_k_m, q8_0], gpu_layers: auto}
  - name: prompt
    model: {gpu_layers: auto}
"""
    spec = load(spec_file(tmp_path, dataset, extra))
    layers = [c.kwargs.get("gpu_layers") for c in spec.correctors]
    assert layers == [None, 0, 0, 0]
    assert len(spec.notes) == 1 and "no GPU offload" in spec.notes[0]


def test_gpu_layers_auto_with_offload_sweeps_none_half_and_all(
    tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocrbench import models

    monkeypatch.setattr(models, "gpu_offload", lambda: True)
    monkeypatch.setattr(models, "block_count", lambda spec: 18)
    monkeypatch.setattr(models, "resolve", lambda spec, **kwargs: tmp_path)
    extra = "correctors:\n  noisy-channel: {model: {gpu_layers: auto}}\n"
    spec = load(spec_file(tmp_path, dataset, extra))
    assert [c.kwargs["gpu_layers"] for c in spec.correctors] == [0, 9, -1] and not spec.notes


@pytest.mark.parametrize("slices", ["meta.degrade", "[degrade]", "[meta.]", "[3]"])
def test_slices_must_be_a_list_of_meta_keys(tmp_path: Path, dataset: Path, slices: str) -> None:
    one_line_error(spec_file(tmp_path, dataset, f"slices: {slices}\n"),
                   "slices: a list of sample meta keys")  # fmt: skip
    assert load(spec_file(tmp_path, dataset, "slices: [meta.degrade]\n")).slices == (
        "meta.degrade",
    )


@pytest.mark.parametrize("address", ["localhost", "tcp://host", "http://h:1", "tcp://h:port"])
def test_a_malformed_scheduler_address_is_one_line(
    tmp_path: Path, dataset: Path, address: str
) -> None:
    one_line_error(spec_file(tmp_path, dataset, f'executor: "dask:{address}"\n'),
                   "is not a scheduler address; write it as dask:tcp://HOST:PORT")  # fmt: skip
    assert load(spec_file(tmp_path, dataset, 'executor: "dask:tcp://10.0.0.5:8786"\n'))


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        ("workers: true\n", "workers must be a positive integer"),
        ("name: [a, b]\n", "name must be text"),
        ("name: {a: 1}\n", "name must be text"),
        ("gate: {baseline: 3}\n", "gate: baseline must be a path"),
        ("gate: {baseline: b.json, cer_tolerance: lots}\n", "gate: cer_tolerance must be"),
        ("gate: {baseline: b.json, cer_tolerance: .nan}\n", "gate: cer_tolerance must be"),
        ("gate: {baseline: b.json, allow_missing: 2}\n", "gate: allow_missing must be true"),
        ("gate: {baseline: b.json, shared: maybe}\n", "gate: shared must be true"),
    ],
)
def test_values_of_the_wrong_kind_are_one_line_at_load(
    tmp_path: Path, dataset: Path, extra: str, phrase: str
) -> None:
    """Caught when the spec is read, not taken as something else (`workers: true` as 1, a list
    as the name "['a', 'b']") nor found only when `--gate` runs."""
    one_line_error(spec_file(tmp_path, dataset, extra), phrase)


def test_a_numeric_name_is_its_text(tmp_path: Path, dataset: Path) -> None:
    assert load(spec_file(tmp_path, dataset, "name: 2026\n")).name == "2026"


def test_a_key_given_twice_is_one_line_not_the_last_one_silently(tmp_path: Path) -> None:
    """`noisy-channel: {margin: 3.0}` then `noisy-channel: {}` ran one configuration, the last:
    YAML keeps the last of two equal keys without a word."""
    path = tmp_path / "twice.yaml"
    path.write_text(
        "name: t\ndatasets: [../datasets/invoices-synth]\nengines: {given: {}}\n"
        "correctors:\n  noisy-channel: {margin: 3.0}\n  noisy-channel: {}\n"
    )
    with pytest.raises(ConfigError, match=r"line 6.*'noisy-channel' is given twice.*a list"):
        load(path)


def test_a_number_with_a_leading_zero_is_decimal_as_on_the_command_line(
    tmp_path: Path, dataset: Path
) -> None:
    """YAML 1.1 read `psm: 010` as octal 8, silently, while `tesseract:psm=010` is 10."""
    path = tmp_path / "spec.yaml"
    path.write_text(f"datasets: [{dataset}]\nengines: {{tesseract: {{psm: 010}}}}\n")
    assert dict(load(path).engines[0].params)["psm"] == 10


@pytest.mark.parametrize(
    ("extra", "phrase"),
    [
        (
            "correctors: {noisy-channel: {quantization: q8_0, model: {quantization: q4_k_m}}}\n",
            "quantization is given both beside and inside model",
        ),
        ("correctors: {lexicon: {model: {max_edits: 1}}}\n", "model: max_edits is no model"),
    ],
)
def test_model_settings_given_twice_or_out_of_place_are_one_line(
    tmp_path: Path, dataset: Path, extra: str, phrase: str
) -> None:
    """`model: {quantization: q4_k_m}` silently overrode `quantization: q8_0` beside it, and
    `model:` took any parameter, even on a corrector with no model."""
    one_line_error(spec_file(tmp_path, dataset, extra), phrase)


def test_a_limit_of_yes_is_refused_at_load(tmp_path: Path, dataset: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(f"datasets: [{{path: {dataset}, limit: yes}}]\nengines: {{given: {{}}}}\n")
    one_line_error(path, "datasets[0].limit must be a positive integer")


def test_a_dataset_beside_the_spec_wins_over_one_in_the_working_directory(
    tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: paths are relative to the spec. A folder of that name in the working directory
    was taken instead where the spec's own had no manifest yet."""
    beside = tmp_path / "specs" / "data"
    beside.mkdir(parents=True)
    (tmp_path / "specs" / "spec.yaml").write_text("datasets: [data]\nengines: {given: {}}\n")
    monkeypatch.chdir(tmp_path)  # where `dataset` (tmp_path / "data") is
    assert load(tmp_path / "specs" / "spec.yaml").datasets[0].path == beside.resolve()


def test_allow_download_is_one_setting_not_an_axis(tmp_path: Path, dataset: Path) -> None:
    """`allow_download: [false, true]` ran the same configuration twice, listed as two (it decides
    where the model file comes from, not what is computed)."""
    extra = "correctors: {noisy-channel: {model: {allow_download: [false, true]}}}\n"
    one_line_error(spec_file(tmp_path, dataset, extra), "allow_download takes one value")
