"""Sweeps: spec validation, the grid, the two-phase cache, and resuming after kills."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ocrbench import results, sweep
from ocrbench.cache import Cache
from ocrbench.errors import ConfigError

from conftest import make_dataset, needs_tesseract

LINES = [
    "Invoice No: 12345", "Date: 2023/09/15", "Total Amt: $1,230.00", "Acme Supplies Ltd",
    "12 Harbour Street", "Qty 3 Widget 4.50", "Subtotal 13.50", "VAT 20% 2.70",
    "Thank you for your business", "Payment due in 30 days", "Account 0042-7781", "Page 1 of 1",
]  # fmt: skip

# Columns that are measurements of time, which differ between any two runs of the same work.
TIMING = ["ocr_seconds", "correct_seconds"]


def write_spec(tmp: Path, dataset: Path, body: str = "") -> Path:
    spec = tmp / "spec.yaml"
    spec.write_text(
        body
        or f"""
name: tiny
datasets:
  - path: {dataset}
engines:
  tesseract:
    psm: [7, 13]
correctors:
  identity: {{}}
workers: 2
"""
    )
    return spec


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data", LINES)


def test_grid_is_the_product_of_lists(dataset: Path, tmp_path: Path) -> None:
    spec = sweep.load_spec(
        write_spec(
            tmp_path,
            dataset,
            f"""
datasets: [{dataset}]
engines:
  tesseract: {{psm: [3, 6, 7], lang: [eng, eng+grc]}}
  given: {{}}
correctors: [identity]
""",
        )
    )
    assert len(spec.engines) == 7 and len(spec.correctors) == 1
    assert {e.kwargs["psm"] for e in spec.engines if e.name == "tesseract"} == {3, 6, 7}


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ("engines: [tesseract\n  datasets: x", "malformed YAML"),
        ("datasets: [DATA]\nengines: {tesseract: {pms: [3]}}", "unknown parameter 'pms' (did you mean 'psm'?)"),
        ("datasets: [DATA]\nengines: {tesseract: {psm: [3, 99]}}", "psm must be between 0 and 13"),
        ("datasets: [DATA]\nengines: {}", "'engines' is missing or empty"),
        ("datasets: [DATA]\nengines: {tesseract: {psm: []}}", "grid is empty"),
        ("datasets: [/no/such/place]\nengines: {tesseract: {}}", "/no/such/place does not exist"),
        ("datasets: [DATA]\nengines: {tesseract: {}}\ncorrector: {identity: {}}", "unknown key 'corrector'"),
        ("datasets: [DATA]\nengines: {tesseract: {}}\ncorrectors: {idenity: {}}", "did you mean 'identity'"),
    ],
)  # fmt: skip
def test_bad_specs_are_one_clear_error(
    body: str, phrase: str, dataset: Path, tmp_path: Path
) -> None:
    path = write_spec(tmp_path, dataset, body.replace("DATA", str(dataset)))
    with pytest.raises(ConfigError) as error:
        sweep.load_spec(path)
    assert phrase in str(error.value) and str(path) in str(error.value)


def test_bad_spec_from_the_command_line_has_no_traceback(dataset: Path, tmp_path: Path) -> None:
    path = write_spec(
        tmp_path, dataset, f"datasets: [{dataset}]\nengines: {{tesseract: {{pms: 3}}}}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "ocrbench.cli", "sweep", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "pms" in done.stderr


@pytest.mark.tesseract
def test_second_sweep_does_no_work_and_ocr_runs_once_per_engine(
    dataset: Path, tmp_path: Path
) -> None:
    needs_tesseract()
    spec = sweep.load_spec(
        write_spec(
            tmp_path,
            dataset,
            f"""
datasets: [{{path: {dataset}, limit: 4}}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}, lexicon: {{}}}}
""",
        )
    )
    cache = Cache(tmp_path / "cache")
    first = sweep.run(spec, tmp_path / "one", cache=cache, workers=2, progress=False)
    # Two correctors over one engine config: the images are read once, not twice.
    assert first["work"]["ocr_run"] == 4 and first["work"]["ocr_cached"] == 8
    second = sweep.run(spec, tmp_path / "two", cache=cache, workers=2, progress=False)
    assert second["work"]["ocr_run"] == 0 and second["work"]["corrections_run"] == 0
    a, b = results.load(tmp_path / "one"), results.load(tmp_path / "two")
    pd.testing.assert_frame_equal(a, b)


def journal_rows(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=TIMING).reset_index(drop=True)


@pytest.mark.tesseract
@pytest.mark.llm
@pytest.mark.slow
def test_killed_sweeps_resume_to_the_same_rows(dataset: Path, tmp_path: Path) -> None:
    """Kill a sweep at random points, with SIGKILL among them, then finish it: row for row the same
    as a run that was never interrupted (timings aside)."""
    needs_tesseract()
    pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    # noisy-channel makes the correction phase long enough to be cut part-way through
    spec = write_spec(
        tmp_path,
        dataset,
        f"""
datasets: [{dataset}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}, noisy-channel: {{}}}}
workers: 2
""",
    )
    reference_dir, resumed_dir = tmp_path / "reference", tmp_path / "resumed"
    command = [sys.executable, "-m", "ocrbench.cli", "sweep", str(spec), "--quiet", "--no-report"]
    done = subprocess.run([*command, "--out", str(reference_dir), "--cache", str(tmp_path / "c1")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rng = random.Random(7)
    kills = 0
    journal = resumed_dir / sweep.JOURNAL
    total = len(LINES) * 2
    for attempt, sig in enumerate([signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGINT]):
        before = journal_rows(journal)
        process = subprocess.Popen(
            [*command, "--out", str(resumed_dir), "--cache", str(tmp_path / "c2")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        if attempt == 0:
            time.sleep(rng.uniform(0.5, 1.5))  # during start-up or the OCR phase
        else:  # part-way through the corrections: after a random number of new rows
            target = before + rng.randint(1, max(1, (total - before) // 2))
            deadline = time.monotonic() + 60
            while process.poll() is None and journal_rows(journal) < target:
                assert time.monotonic() < deadline, "the sweep made no progress"
                time.sleep(0.01)
        if process.poll() is None:
            process.send_signal(sig)
            kills += 1
        process.wait(timeout=60)
        if sig == signal.SIGKILL:
            # the worker processes of a SIGKILLed parent are orphans: end them as a user's shell would
            subprocess.run(["pkill", "-9", "-s", str(process.pid)], check=False)
    assert kills >= 3, "the sweep finished before it could be interrupted"
    done = subprocess.run([*command, "--out", str(resumed_dir), "--cache", str(tmp_path / "c2")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    reference, resumed = results.load(reference_dir), results.load(resumed_dir)
    assert len(resumed) == len(LINES) * 2
    assert not resumed.duplicated(["config_id", "sample_id"]).any()
    pd.testing.assert_frame_equal(stable(reference), stable(resumed))
    keys = []
    for line in (resumed_dir / sweep.JOURNAL).read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line cut by SIGKILL, which the journal ignores
        keys.append((row["config_id"], row["sample_id"]))
    assert len(set(keys)) == len(keys), "a row was journaled twice"


@pytest.mark.tesseract
@pytest.mark.slow
def test_dask_executor_gives_the_same_rows(dataset: Path, tmp_path: Path) -> None:
    """The same grid on a local Dask cluster and on local processes: the same results."""
    needs_tesseract()
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    body = f"""
datasets: [{{path: {dataset}, limit: 3}}]
engines: {{tesseract: {{psm: 7}}}}
correctors: {{identity: {{}}, lexicon: {{}}}}
workers: 2
"""
    local = sweep.load_spec(write_spec(tmp_path, dataset, body))
    on_dask = sweep.load_spec(write_spec(tmp_path, dataset, body + "executor: dask\n"))
    assert on_dask.executor == "dask"
    sweep.run(local, tmp_path / "local", cache=Cache(tmp_path / "c1"), progress=False)
    manifest = sweep.run(on_dask, tmp_path / "dask", cache=Cache(tmp_path / "c2"), progress=False)
    assert manifest["executor"] == "dask" and manifest["work"]["ocr_run"] == 3
    a, b = results.load(tmp_path / "local"), results.load(tmp_path / "dask")
    pd.testing.assert_frame_equal(stable(a), stable(b))
