"""Run folders: one run at a time, checked writable before any work, and no half-written file
whatever fails (a second run, a read-only folder, a full disk, a cache that cannot be written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ocrbench import rundir
from ocrbench.errors import OcrbenchError

CLI = [sys.executable, "-m", "ocrbench.cli"]


def text_dataset(root: Path, n: int = 3) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"s{i}", "ocr": f"Tbe line {i}", "text": f"The line {i}"})
             for i in range(n)]  # fmt: skip
    (root / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return root


def ocrbench(*args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    if cache is not None:
        env["OCRBENCH_CACHE"] = str(cache)
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_second_holder_is_refused_and_named(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with rundir.locked(out):
        child = subprocess.run(
            [sys.executable, "-c", "from pathlib import Path; from ocrbench import rundir\n"
             f"with rundir.locked(Path({str(out)!r})): pass"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert child.returncode != 0
        assert f"in use by another ocrbench run (pid {os.getpid()})" in child.stderr
        with rundir.locked(out):  # the same process again: re-entrant
            pass
    with rundir.locked(out):  # released
        pass


def test_a_report_is_refused_while_a_run_writes_its_folder(
    tmp_path: Path,
) -> None:
    """`ocrbench report DIR` took no lock: rendered while a sweep rewrote DIR, it wrote a report
    of the old results (16 samples) beside the new ones (40)."""
    data = text_dataset(tmp_path / "data")
    out = tmp_path / "out"
    done = ocrbench("run", "--dataset", str(data), "--engine", "given", "--out", str(out),
                    "--quiet", "--no-report", cache=tmp_path / "c")  # fmt: skip
    assert done.returncode == 0, done.stderr
    with rundir.locked(out):  # a run writing the folder
        line = one_line_error(ocrbench("report", str(out)))
    assert f"in use by another ocrbench run (pid {os.getpid()})" in line
    assert not (out / "index.html").exists()
    assert ocrbench("report", str(out)).returncode == 0  # and once it is done
    assert (out / "index.html").exists()
    missing = one_line_error(ocrbench("report", str(tmp_path / "nothing")))
    assert "no results.parquet here" in missing and not (tmp_path / "nothing").exists()


def a_run_and_its_baseline(tmp_path: Path) -> tuple[Path, Path]:
    """A finished run (the given engine, no report) and a baseline written from it."""
    data = text_dataset(tmp_path / "data")
    out = tmp_path / "out"
    done = ocrbench("run", "--dataset", str(data), "--engine", "given", "--out", str(out),
                    "--quiet", "--no-report", cache=tmp_path / "c")  # fmt: skip
    assert done.returncode == 0, done.stderr
    baseline = tmp_path / "baseline.json"
    assert ocrbench("check", str(out), "--write-baseline", str(baseline)).returncode == 0
    return out, baseline


def test_a_damaged_results_file_is_one_line(tmp_path: Path) -> None:
    """A results.parquet cut short (copied half-way, a disk error) gave pyarrow's traceback in
    `report` and `check`."""
    out, baseline = a_run_and_its_baseline(tmp_path)
    parquet = out / "results.parquet"
    parquet.write_bytes(parquet.read_bytes()[:1000])
    for command in (["report", str(out)], ["check", str(out), "--baseline", str(baseline)]):
        line = one_line_error(ocrbench(*command))
        assert f"{parquet} is damaged" in line, line


@pytest.mark.parametrize("content", ["other columns", "no rows", "a column short"])
def test_results_that_are_not_ocrbench_rows_are_one_line(tmp_path: Path, content: str) -> None:
    """A valid parquet file that is not a run's rows gave KeyError/ValueError tracebacks in
    report, check and compare."""
    out, baseline = a_run_and_its_baseline(tmp_path)
    parquet = out / "results.parquet"
    rows = pd.read_parquet(parquet)
    changed = {"other columns": pd.DataFrame({"x": [1]}), "no rows": rows.head(0),
               "a column short": rows.drop(columns=["char_edits"])}[content]  # fmt: skip
    changed.to_parquet(parquet)
    commands = [["report", str(out)], ["check", str(out), "--baseline", str(baseline)],
                ["compare", str(out), str(out)]]  # fmt: skip
    for command in commands:
        line = one_line_error(ocrbench(*command))
        assert f"{parquet} is not" in line or f"{parquet} holds no rows" in line, line


@pytest.mark.parametrize("content", ["[]", "folder"])
def test_a_manifest_that_is_not_one_is_one_line(tmp_path: Path, content: str) -> None:
    out, _ = a_run_and_its_baseline(tmp_path)
    manifest = out / "manifest.json"
    manifest.unlink()
    if content == "folder":
        manifest.mkdir()
    else:
        manifest.write_text(content)
    line = one_line_error(ocrbench("report", str(out)))
    assert str(manifest) in line, line


def test_temporary_files_a_killed_run_left_are_cleared_by_the_next_holder(tmp_path: Path) -> None:
    """A run killed while writing left `.tmp-results.parquet.XXXX` behind for good."""
    out = tmp_path / "out"
    out.mkdir()
    left = [out / ".tmp-results.parquet.4gh92qoh", out / ".tmp-index.html.x1"]
    for file in left:
        file.write_bytes(b"half a file")
    (out / "mine.tmp-notes").write_text("a user's file")
    # Below it, what other writers are writing now (`--out runs` while runs/x is written, a
    # cache inside the folder): not this folder's, and maybe live.
    nested = [out / "x" / ".tmp-results.parquet.abc", out / "cache" / "ocr" / "ab" / ".tmp-z.json"]
    for file in nested:
        file.parent.mkdir(parents=True)
        file.write_bytes(b"being written")
    with rundir.locked(out):
        assert not any(file.exists() for file in left)
    assert (out / "mine.tmp-notes").exists()
    assert all(file.exists() for file in nested)


def test_another_thread_of_the_process_is_another_run(tmp_path: Path) -> None:
    """Two threads running sweeps into one folder both went ahead (the lock was re-entrant for
    the whole process), and the journal held every row twice."""
    import threading

    out = tmp_path / "out"
    refused: list[str] = []

    def second() -> None:
        try:
            with rundir.locked(out):
                pass
        except rundir.RunDirBusy as error:
            refused.append(str(error))

    with rundir.locked(out):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
    assert refused and "in use by another ocrbench run" in refused[0]


def test_out_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    data = text_dataset(tmp_path / "data")
    out = tmp_path / "out"
    out.write_text("not a folder")
    line = one_line_error(ocrbench("run", "--dataset", str(data), "--engine", "given", "--out",
                                   str(out), "--quiet", cache=tmp_path / "c"))  # fmt: skip
    assert "is a file, not a folder" in line


def test_readonly_out_fails_before_any_work(tmp_path: Path, readonly_dir: Path) -> None:
    data = tmp_path / "images"
    from conftest import make_dataset

    make_dataset(data, ["Invoice No: 12345"])
    cache = tmp_path / "c"
    line = one_line_error(ocrbench("run", "--dataset", str(data), "--engine", "tesseract:psm=7",
                                   "--out", str(readonly_dir / "run"), "--quiet",
                                   cache=cache))  # fmt: skip
    assert "cannot" in line and str(readonly_dir) in line
    assert not (cache / "ocr").exists(), "OCR ran before the run found it could not write"


def test_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path: Path, full_disk: Path) -> None:
    data = text_dataset(tmp_path / "data", n=40)
    out = full_disk / "run"
    done = ocrbench("run", "--dataset", str(data), "--engine", "given", "--corrector", "lexicon",
                    "--out", str(out), "--quiet", cache=tmp_path / "c")  # fmt: skip
    line = one_line_error(done)
    assert "No space left on device" in line
    left = [p.name for p in full_disk.rglob("*") if p.name.startswith(".tmp-")]
    assert not left, left
    assert not (out / "index.html").exists() or (out / "index.html").read_text().endswith(
        "</html>\n"
    )


def test_sweep_on_a_full_disk_is_one_line(tmp_path: Path, full_disk: Path) -> None:
    data = text_dataset(tmp_path / "data", n=40)
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"datasets: [{data}]\nengines: {{given: {{}}}}\nworkers: 1\n")
    done = ocrbench("sweep", str(spec), "--out", str(full_disk / "run"), "--quiet",
                    cache=tmp_path / "c")  # fmt: skip
    assert "No space left on device" in one_line_error(done)
    assert not [p for p in full_disk.rglob("*") if p.name.startswith(".tmp-")]


def test_unwritable_cache_is_a_warning_and_the_run_goes_on(
    tmp_path: Path, readonly_dir: Path
) -> None:
    data = text_dataset(tmp_path / "data")
    done = ocrbench("run", "--dataset", str(data), "--engine", "given", "--corrector", "lexicon",
                    "--out", str(tmp_path / "out"), "--quiet", "--no-report",
                    "--cache", str(readonly_dir / "cache"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "cannot write the cache" in warnings[0], done.stderr
    assert (tmp_path / "out" / "results.parquet").is_file()


def test_replace_atomically_removes_its_temporary_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "index.html"
    target.write_text("old")

    def half_then_full(temporary: Path) -> None:
        temporary.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OcrbenchError, match="cannot write .*index.html: No space left on device"):
        rundir.replace_atomically(target, half_then_full)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_new_results_remove_what_described_the_old_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report (`index.html`, `summary.md`, `summary-by-KEY.md`) and the manifest
    describe the results beside them: a later run into the same folder (with --no-report, or
    killed before its manifest is written) must not leave them beside results they do not
    describe."""
    from ocrbench import results

    out = tmp_path / "run"
    results.write(out, [{"sample_id": "a", "cer": 0.5}], {"command": "first"})
    stale = [out / name for name in ("summary-by-degrade.md", "index.html", "summary.md")]
    (out / ".report-cache.json").write_text("{}")  # keyed by the rows: it may stay
    for path in stale:
        path.write_text("the first run's figures\n", encoding="utf-8")
    kept = out / "notes.md"  # not ours: left alone
    kept.write_text("mine\n", encoding="utf-8")
    results.write(out, [{"sample_id": "a", "cer": 0.1}], {"command": "second"})
    assert not any(path.exists() for path in stale) and kept.exists()
    assert results.load_manifest(out)["command"] == "second"

    def killed(path: Path, text: str) -> Path:  # the manifest's write never happens
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "write_text", killed)
    with pytest.raises(KeyboardInterrupt):
        results.write(out, [{"sample_id": "a", "cer": 0.9}], {"command": "third"})
    assert pd.read_parquet(out / results.RESULTS)["cer"].iloc[0] == 0.9
    assert results.load_manifest(out) == {}  # none, rather than the second run's


def test_results_that_are_a_folder_are_said_as_such(tmp_path: Path) -> None:
    from ocrbench import results

    (tmp_path / results.RESULTS).mkdir()
    with pytest.raises(OcrbenchError, match="results.parquet is a folder, not a run's results"):
        results.load(tmp_path)
