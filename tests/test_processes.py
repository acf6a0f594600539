"""Processes: a sweep's workers end with it however it is killed, and two runs into one folder at
once never both write (one finishes, the other says which process holds the folder)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ocrbench import executors

from conftest import make_dataset, needs_tesseract

pytestmark = pytest.mark.tesseract

LINES = [f"Invoice {n} Total {n * 7}.50 due" for n in range(12)]


def spec_file(tmp_path: Path, dataset: Path) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: procs\ndatasets: [{dataset}]\nengines: {{tesseract: {{psm: [7, 13]}}}}\n"
                    "correctors: {identity: {}, lexicon: {}}\nworkers: 2\n")  # fmt: skip
    return spec


def sweep_command(spec: Path, out: Path, cache: Path) -> list[str]:
    return [sys.executable, "-m", "ocrbench.cli", "sweep", str(spec), "--out", str(out),
            "--cache", str(cache), "--quiet", "--no-report"]  # fmt: skip


def pool_workers(sweep: psutil.Process) -> list[psutil.Process]:
    """The pool's worker processes: the fork server's children (the sweep's own children are the
    fork server and multiprocessing's resource tracker), Tesseract's processes left out."""
    try:
        servers = [p for p in sweep.children() if "forkserver" in " ".join(p.cmdline())]
        return [p for s in servers for p in s.children() if "tesseract" not in p.name()]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGKILL, False), (signal.SIGTERM, False), (signal.SIGHUP, False),
     (signal.SIGHUP, True)],  # a closed terminal sends it to the whole group, workers too
)  # fmt: skip
def test_workers_end_with_a_killed_sweep(tmp_path: Path, sig: signal.Signals, group: bool) -> None:
    needs_tesseract()
    dataset = make_dataset(tmp_path / "data", LINES)
    command = sweep_command(spec_file(tmp_path, dataset), tmp_path / "out", tmp_path / "cache")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while len(workers) < 2:  # the pool's two worker processes have started
        assert process.poll() is None, "the sweep ended before its workers could be killed"
        assert time.monotonic() < deadline, "no worker processes appeared"
        workers = pool_workers(parent)
        time.sleep(0.05)
    everything = parent.children(recursive=True)  # workers, the fork server, its helpers
    if group:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    process.wait(timeout=30)
    gone, alive = psutil.wait_procs(everything, timeout=10)
    for survivor in alive:
        survivor.kill()
    assert not alive, f"{[p.name() for p in alive]} outlived a sweep ended by {sig.name}"
    said = process.stderr.read().decode()  # type: ignore[union-attr]
    # multiprocessing's resource tracker, which outlives a killed sweep for a moment, warned
    # (two lines) of the semaphores it then cleans up itself
    assert "leaked semaphore" not in said and "UserWarning" not in said, said
    if sig != signal.SIGKILL:  # a CI runner's stop, a closed terminal: as Ctrl-C, said
        assert process.returncode == 128 + sig
        assert "Traceback" not in said and "finished work is kept" in said, said


def test_two_sweeps_into_one_folder_at_once(tmp_path: Path) -> None:
    """Ten times: the same sweep started twice at once into one new folder. One finishes; the
    other exits at once, naming the process that holds the folder; every row is journaled once."""
    needs_tesseract()
    dataset = make_dataset(tmp_path / "data", LINES[:6])
    spec = spec_file(tmp_path, dataset)
    for attempt in range(10):
        out = tmp_path / f"out{attempt}"
        command = sweep_command(spec, out, tmp_path / f"cache{attempt}")
        both = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]  # fmt: skip
        done = [(p.wait(timeout=300), *p.communicate()) for p in both]
        codes = sorted(code for code, _, _ in done)
        assert codes == [0, 2], done
        (refused,) = [err for code, _, err in done if code == 2]
        assert "in use by another ocrbench run (pid " in refused, refused
        assert len(refused.strip().splitlines()) == 1, refused
        rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
        keys = [row["row_key"] for row in rows]
        assert len(rows) == 2 * 2 * 6 and len(set(keys)) == len(keys)
        assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_a_sweep_under_nohup_outlives_its_terminal(tmp_path: Path) -> None:
    """SIGHUP ends a sweep as Ctrl-C does, unless it was started ignoring SIGHUP (nohup)."""
    needs_tesseract()
    dataset = make_dataset(tmp_path / "data", LINES[:4])
    command = ["nohup", *sweep_command(spec_file(tmp_path, dataset), tmp_path / "out",
                                       tmp_path / "cache")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    time.sleep(1.0)
    process.send_signal(signal.SIGHUP)
    assert process.wait(timeout=300) == 0


INVOICES = Path(__file__).parent.parent / "datasets" / "invoices-synth"


def slow_dataset(root: Path, samples: int = 3) -> Path:
    """Pages of nine bundled invoices each: seconds of Tesseract's reading per page, with
    nothing written to stderr (an orphaned Tesseract would die of SIGPIPE at its first word)."""
    from PIL import Image

    page = Image.new("L", (3000, 4242), 255)
    invoices = sorted((INVOICES / "images").glob("*-invoice.png"))[:9]
    for k, invoice in enumerate(invoices):
        with Image.open(invoice) as image:
            page.paste(image.convert("L"), ((k % 3) * 1000, (k // 3) * 1414))
    root.mkdir(parents=True)
    page.save(root / "page0.png", dpi=(300, 300))  # Tesseract says nothing of its resolution
    for n in range(1, samples):
        (root / f"page{n}.png").write_bytes((root / "page0.png").read_bytes())
    rows = [json.dumps({"id": f"page{n}", "image": f"page{n}.png", "text": "Invoice"})
            for n in range(samples)]  # fmt: skip
    (root / "manifest.jsonl").write_text("\n".join(rows) + "\n")
    return root


def tesseracts_reading(folder: Path) -> list[psutil.Process]:
    """The Tesseract processes (anyone's) reading a page of this folder."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if (
                process.info["name"] == "tesseract"
                and str(folder) in " ".join(process.info["cmdline"] or [])
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
    return found


@pytest.mark.parametrize("stopped", ["sweep", "run", "worker"])
def test_a_stop_while_tesseract_reads_leaves_no_tesseract_running(
    tmp_path: Path, stopped: str
) -> None:
    """SIGTERM to a sweep, to a single-process run, or to one of a sweep's workers, while
    Tesseract reads a page: its Tesseract ends too. It outlived them, re-parented to init, until
    its page was read (a worker ended at SIGTERM's default action ran no cleanup, and pytesseract
    left Tesseract running when its wait was interrupted)."""
    needs_tesseract()
    dataset = slow_dataset(tmp_path / "data").resolve()
    out, cache = tmp_path / "out", tmp_path / "cache"
    if stopped == "run":
        command = [sys.executable, "-m", "ocrbench.cli", "run", "--dataset", str(dataset),
                   "--engine", "tesseract", "--no-cache", "--out", str(out), "--quiet",
                   "--no-report"]  # fmt: skip
    else:
        spec = tmp_path / "spec.yaml"
        spec.write_text(f"name: slow\ndatasets: [{dataset}]\nengines: {{tesseract: {{}}}}\n"
                        "correctors: {identity: {}}\nworkers: 2\n")  # fmt: skip
        command = sweep_command(spec, out, cache)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not (reading := tesseracts_reading(dataset)):
        assert process.poll() is None, "the run ended before Tesseract read"
        assert time.monotonic() < deadline, "Tesseract never started"
        time.sleep(0.05)
    time.sleep(0.3)  # well into the page
    if stopped == "worker":
        reading[0].parent().send_signal(signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    deadline = time.monotonic() + 2  # far less than a page's reading
    while (left := tesseracts_reading(dataset)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for survivor in left:
        survivor.kill()
    assert not left, f"Tesseract outlived a {stopped} ended by SIGTERM"
    said = process.stderr.read().decode()  # type: ignore[union-attr]
    assert "Traceback" not in said and len(said.strip().splitlines()) == 1, said
    if stopped == "worker":
        assert process.returncode == 2 and "a worker process died" in said, said
    else:
        assert process.returncode == 128 + signal.SIGTERM and "finished work is kept" in said


def a_workers_pid(_: int) -> int:
    return os.getpid()


def test_idle_workers_end_at_once_when_a_sweep_aborts() -> None:
    """SIGTERM raises in a worker's task now, so that the task's cleanup runs (`close(abort=True)`
    terminates the workers): a worker waiting for its next task ends at once all the same."""
    executor = executors.open_executor("processes", 2)
    assert len({pid for _, pid in executor.map_unordered(a_workers_pid, range(6))}) >= 1
    processes = list(executor.pool._processes.values())  # type: ignore[union-attr]
    time.sleep(0.2)  # every worker back waiting for a task
    start = time.monotonic()
    executor.close(abort=True)
    assert time.monotonic() - start < 2
    assert not [p for p in processes if p.is_alive()]


def deaf_for_a_minute(_: int) -> int:
    """A task the worker's SIGTERM cannot stop (as a long C call, a model's decode, holds off its
    handler until it returns)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)
    return os.getpid()


def test_a_worker_deaf_to_sigterm_is_killed_when_a_sweep_aborts() -> None:
    """An aborted pool joined its workers for 5 s and went on: one still in a long call kept
    its cores busy, in a notebook until that call returned."""
    executor = executors.open_executor("processes", 2)
    assert next(executor.map_unordered(a_workers_pid, range(2)))
    processes = list(executor.pool._processes.values())  # type: ignore[union-attr]
    executor.pool.submit(deaf_for_a_minute, 0)  # type: ignore[union-attr]
    time.sleep(0.5)  # the worker is in the task
    start = time.monotonic()
    executor.close(abort=True)
    assert time.monotonic() - start < 10
    assert not [p for p in processes if p.is_alive()]
