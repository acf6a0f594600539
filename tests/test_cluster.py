"""A real Dask cluster with no shared filesystem: `dask scheduler` and two `dask worker` processes
on localhost, each in an empty folder of its own and in a mount namespace where the client's folder
(its dataset, cache and run folder) is an empty tmpfs. A sweep through them gives the local
executor's rows; a second sweep finishes though one worker is killed in the middle; nothing is
left running."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import make_dataset, needs_tesseract

pytestmark = [pytest.mark.slow, pytest.mark.tesseract]

DASK = Path(sys.executable).with_name("dask")
UNSHARE = shutil.which("unshare")
COMPARED = ["row_key", "ocr_text", "hypothesis", "char_edits", "word_edits", "cer", "flex_errors"]


def _isolation_works(tmp_path: Path) -> bool:
    hidden = tmp_path / "probe"
    hidden.mkdir()
    (hidden / "file").write_text("x")
    if UNSHARE is None:
        return False
    done = subprocess.run([UNSHARE, "-m", "sh", "-c", f"mount -t tmpfs tmpfs {hidden} && ls "
                           f"{hidden}"], capture_output=True, text=True)  # fmt: skip
    return done.returncode == 0 and "file" not in done.stdout


class Cluster:
    def __init__(self, root: Path, hidden: Path):
        self.root, self.hidden = root, hidden
        self.file = root / "scheduler.json"
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], folder: Path) -> subprocess.Popen[bytes]:
        folder.mkdir(parents=True)
        env = {"PATH": os.environ["PATH"], "HOME": str(folder),
               "OCRBENCH_CACHE": str(folder / "cache")}  # fmt: skip
        # The client's folder is an empty tmpfs in the process's own mount namespace.
        wrapped = [UNSHARE or "unshare", "-m", "sh", "-c",
                   f'mount -t tmpfs tmpfs "{self.hidden}" && exec "$@"', "sh", *command]  # fmt: skip
        process = subprocess.Popen(wrapped, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        self.processes.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start([str(DASK), "worker", "--scheduler-file", str(self.file), "--nthreads",
                           "1", "--no-nanny", "--no-dashboard", "--name", name,
                           "--local-directory", str(self.root / name / "dask")],
                          self.root / name)  # fmt: skip

    def address(self) -> str:
        deadline = time.monotonic() + 60
        while True:  # the scheduler writes its file in place: it may be seen half-written
            try:
                return str(json.loads(self.file.read_text())["address"])
            except (FileNotFoundError, json.JSONDecodeError):
                assert time.monotonic() < deadline, f"no scheduler file at {self.file} in 60 s"
                time.sleep(0.2)

    def wait_for_workers(self, count: int) -> None:
        from dask.distributed import Client

        with Client(self.address(), timeout=30) as client:
            client.wait_for_workers(count, timeout=120)

    def stop(self) -> None:
        # Workers first: one told to stop while its scheduler is gone waits for it.
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    if not DASK.exists():
        pytest.skip(f"{DASK} is absent (the dask extra's command)")
    if not _isolation_works(tmp_path):
        pytest.skip("no mount namespace here (unshare -m with a tmpfs needs CAP_SYS_ADMIN): "
                    "the workers could not be kept off the client's disk")  # fmt: skip
    (tmp_path / "client").mkdir()
    found = Cluster(tmp_path / "cluster", tmp_path / "client")
    # --no-dashboard still serves on 8787: a port of its own, so no other cluster's is taken.
    found.start([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(found.file)],
                found.root / "scheduler")  # fmt: skip
    for name in ("w1", "w2"):
        found.worker(name)
    try:
        found.wait_for_workers(2)
        yield found
    finally:
        found.stop()


def spec(path: Path, dataset: Path, executor: str, psm: str = "7") -> Path:
    path.write_text(f"name: cluster\ndatasets: [{dataset}]\nengines: {{tesseract: {{psm: {psm}}}}}\n"
                    f"correctors: {{identity: {{}}, lexicon: {{}}}}\nexecutor: '{executor}'\n"
                    "workers: 2\n")  # fmt: skip
    return path


def sweep(spec_path: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "ocrbench.cli", "sweep", str(spec_path), "--out", str(out),
            "--quiet", "--no-report", *options]  # fmt: skip


def test_a_sweep_on_a_cluster_without_the_clients_disk(cluster: Cluster) -> None:
    needs_tesseract()
    client = cluster.hidden
    dataset = make_dataset(client / "data", [f"Invoice {n} Total {n * 7}.50" for n in range(6)])
    address = cluster.address()
    local = subprocess.run(sweep(spec(client / "local.yaml", dataset, "processes"),
                                 client / "local", "--cache", str(client / "cache-local")),
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert local.returncode == 0, local.stderr
    remote = subprocess.run(sweep(spec(client / "remote.yaml", dataset, f"dask:{address}"),
                                  client / "remote", "--cache", str(client / "cache"),
                                  "--workers", "5"),
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert remote.returncode == 0, remote.stderr
    # The cluster's two single-thread workers did the work, whatever number was asked for.
    assert json.loads((client / "remote" / "manifest.json").read_text())["workers"] == 2
    a = pd.read_parquet(client / "local" / "results.parquet").sort_values(["config", "sample_id"])
    b = pd.read_parquet(client / "remote" / "results.parquet").sort_values(["config", "sample_id"])
    assert len(a) == len(b) == 12
    pd.testing.assert_frame_equal(a[COMPARED].reset_index(drop=True),
                                  b[COMPARED].reset_index(drop=True))  # fmt: skip
    # What the workers computed came back and was cached here; they wrote no cache of their own.
    assert len(list((client / "cache" / "ocr").rglob("*.json"))) == 6
    assert not list(cluster.root.rglob("cache"))
    again = subprocess.run(sweep(client / "remote.yaml", client / "again", "--cache",
                                 str(client / "cache")), capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "OCR: 6 cached, 0 run; corrections: 6 cached, 0 run" in again.stdout, again.stdout
    # Each worker was given its share of this machine's cores, as local worker processes are.
    from dask.distributed import Client

    from ocrbench.executors import thread_share

    with Client(address, timeout=30) as connected:
        shares = connected.run(thread_share)
        assert list(shares.values()) == [max(1, (os.cpu_count() or 1) // 2)] * 2

        # Their stack samplers (GIL-holding, 17% of EasyOCR's seconds) were paused for the sweep
        # (test_a_worker_that_replaces_a_dead_one_...) and run again after it.
        def sampling(dask_worker: Any) -> list[str]:
            names = ("profile", "profile-cycle")
            return [n for n in names if dask_worker.periodic_callbacks[n].is_running()]

        both = ["profile", "profile-cycle"]
        assert list(connected.run(sampling).values()) == [both, both]


def sweep_under_way(cluster: Cluster) -> subprocess.Popen[str]:
    """A 160-row sweep on the cluster (40 pages, 2 engine settings, 2 correctors, no cache),
    its workers reading pages: still running, or the test could not interrupt it."""
    needs_tesseract()
    client = cluster.hidden
    lines = [f"Invoice {n} Total {n * 7}.50 due {n % 5} days" for n in range(40)]
    dataset = make_dataset(client / "data", lines)
    spec_path = spec(client / "spec.yaml", dataset, f"dask:{cluster.address()}", "[7, 13]")
    running = subprocess.Popen(sweep(spec_path, client / "run", "--no-cache"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    reading(running, [p.pid for p in cluster.processes])
    return running


def reading(running: subprocess.Popen[str], roots: list[int]) -> None:
    """Wait until Tesseract reads a page under one of `roots` (a sweep's OCR, the longest part
    of its work): a fixed sleep was too short on a loaded machine and too long on a fast one."""
    import psutil

    deadline = time.monotonic() + 120
    while True:
        for root in roots:
            with contextlib.suppress(psutil.Error):
                if any(child.name() == "tesseract"
                       for child in psutil.Process(root).children(recursive=True)):  # fmt: skip
                    return
        assert running.poll() is None, "the sweep ended before the test could interrupt it"
        assert time.monotonic() < deadline, "no page read in 120 s"
        time.sleep(0.02)


def test_a_sweep_finishes_when_a_worker_is_killed_in_the_middle(cluster: Cluster) -> None:
    client = cluster.hidden
    running = sweep_under_way(cluster)
    victim = cluster.processes[1]  # w1
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(10)
    out, err = running.communicate(timeout=600)
    assert running.returncode == 0, err
    journal = [
        json.loads(line) for line in (client / "run" / "rows.jsonl").read_text().splitlines()
    ]
    keys = [row["row_key"] for row in journal]
    assert len(keys) == len(set(keys)) == 2 * 2 * 40  # each row once: 2 engines x 2 correctors
    assert len(pd.read_parquet(client / "run" / "results.parquet")) == 160


def test_the_scheduler_gone_is_one_line_and_the_journal_is_whole(cluster: Cluster) -> None:
    client = cluster.hidden
    running = sweep_under_way(cluster)
    os.kill(cluster.processes[0].pid, signal.SIGKILL)
    _, err = running.communicate(timeout=300)
    assert running.returncode != 0
    last = err.strip().splitlines()[-1]
    assert last.startswith("ocrbench: error:") and "Dask scheduler" in last, err[-2000:]
    assert "Traceback" not in err
    journal = client / "run" / "rows.jsonl"  # what was journaled is whole: the next run resumes
    if journal.is_file():
        assert all(json.loads(line)["row_key"] for line in journal.read_text().splitlines())


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed")
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.jsonl").write_text('{"id": "a", "ocr": "Inv0ice", "text": "Invoice"}\n')
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(f"datasets: [{data}]\nengines: {{given: {{}}}}\n"
                         "executor: 'dask:tcp://127.0.0.1:9'\n")  # fmt: skip
    done = subprocess.run(sweep(spec_path, tmp_path / "out"), capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.startswith("ocrbench: error: cannot reach the Dask scheduler at "
                                  "tcp://127.0.0.1:9"), done.stderr  # fmt: skip
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_worker_without_the_model_fails_in_one_line_naming_it(cluster: Cluster) -> None:
    """A model file in a folder only the client has (here: a q8_0 made from the embedded Q4_K_M,
    which no package installs): the workers cannot resolve it, and the sweep says so in one line
    that names the worker and the model."""
    pytest.importorskip("llama_cpp")
    client = cluster.hidden
    models = client / "models"
    made = subprocess.run([sys.executable, "-m", "ocrbench.cli", "models", "quantize",
                           f"model_dir={models}", "--to", "q8_0"], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert made.returncode == 0, made.stderr
    data = client / "data"
    data.mkdir()
    (data / "manifest.jsonl").write_text('{"id": "a", "ocr": "Inv0ice tota1", "text": "x"}\n')
    spec_path = client / "spec.yaml"
    spec_path.write_text(f"datasets: [{data}]\nengines: {{given: {{}}}}\ncorrectors:\n"
                         f"  noisy-channel: {{model: {{quantization: q8_0, model_dir: {models}}}}}\n"
                         f"executor: 'dask:{cluster.address()}'\n")  # fmt: skip
    done = subprocess.run(sweep(spec_path, client / "run", "--no-cache"), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ocrbench: error: on worker "), done.stderr
    assert "q8_0" in lines[0] and str(models) in lines[0], lines[0]


def test_a_worker_that_replaces_a_dead_one_gets_the_sweeps_share_and_no_sampler() -> None:
    """Rows a replacement worker computes are timed under the same conditions as the others':
    its share of the cores (not all of them) and its stack sampler paused, as at the start."""
    pytest.importorskip("dask.distributed")
    from distributed import get_client

    from ocrbench import executors

    def state(dask_worker: Any) -> tuple[str | None, int, bool]:
        running = [dask_worker.periodic_callbacks[n].is_running()
                   for n in ("profile", "profile-cycle") if n in dask_worker.periodic_callbacks]  # fmt: skip
        return os.environ.get("OCRBENCH_THREADS"), os.getpid(), any(running)

    executor = executors.open_executor("dask", 2)
    try:
        client = get_client()
        share = str(max(1, (os.cpu_count() or 1) // 2))
        before = client.run(state)
        assert [(s, sampling) for s, _, sampling in before.values()] == [(share, False)] * 2
        victim = next(iter(before.values()))[1]
        os.kill(victim, signal.SIGKILL)
        for _ in range(90):
            time.sleep(1)
            now = client.run(state)
            if len(now) == 2 and victim not in {pid for _, pid, _ in now.values()}:
                break
        else:
            pytest.fail("no worker replaced the dead one in 90 s")
        assert [(s, sampling) for s, _, sampling in now.values()] == [(share, False)] * 2
    finally:
        executor.close()


def test_ctrl_c_of_a_local_dask_sweep_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group, the local cluster's worker processes too: each
    printed its KeyboardInterrupt traceback (about 70 lines) before the sweep's one line."""
    needs_tesseract()
    pytest.importorskip("distributed")
    dataset = make_dataset(tmp_path / "data", [f"Invoice {n} Total {n * 7}.50" for n in range(40)])
    spec_path = spec(tmp_path / "local.yaml", dataset, "dask")
    process = subprocess.Popen(
        sweep(spec_path, tmp_path / "out", "--cache", str(tmp_path / "cache")),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    # The cluster's workers at work: the journal's first rows came too late (its corrections
    # take under a second, and a Ctrl-C after them found the sweep done).
    reading(process, [process.pid])
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C does
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    said = [line for line in err.splitlines() if line.strip()]
    # The sweep's line last, no traceback; a stray line of distributed's at shutdown is not the
    # ~70 lines this was (seen once in about fifteen runs, not captured).
    assert said[-1] == "ocrbench: interrupted; finished work is kept, run again to resume", err
    assert "Traceback" not in err and len(said) <= 3, err
