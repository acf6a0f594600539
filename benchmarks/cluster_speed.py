"""What more processes and a Dask cluster buy a cold sweep, measured side by side in one run.

Three cold runs of the same sweep (default: sweeps/default.yaml), each on an empty cache and into
a new folder, report included, as users type them:

1. `--workers 1` (one process; torch and llama.cpp still use every core inside it);
2. `--workers 2` (two local worker processes, each given its share of the cores);
3. the spec with `executor: dask:ADDRESS`, on a localhost cluster this script starts: `dask
   scheduler` and two `dask worker --nthreads 1` processes (each given its share of the cores by
   ocrbench when the sweep connects). Tasks carry the images' bytes and the client keeps the
   cache, as on machines that share no disk.

Targets (issue 12): 2 processes against 1 >= 1.9x; the 2-worker cluster at least 0.95 of 2 local
processes' speed. Models are already on disk (resolving is not timed work).
Usage: python benchmarks/cluster_speed.py [--spec sweeps/default.yaml] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cache_speed import ROOT, record, shown, timed  # noqa: E402

DASK = Path(sys.executable).with_name("dask")


def dask_spec(spec: Path, address: str, folder: Path) -> Path:
    """The spec with `executor: dask:ADDRESS`, its relative paths made absolute, no gate."""
    source = yaml.safe_load(spec.read_text())
    for entry in source["datasets"]:
        entry["path"] = str((spec.parent / entry["path"]).resolve())
    source.pop("gate", None)
    source["executor"] = f"dask:{address}"
    out = folder / spec.name
    out.write_text(yaml.safe_dump(source, sort_keys=False))
    return out


def start_cluster(folder: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    scheduler_file = folder / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                  **quiet)]  # fmt: skip
    deadline = time.monotonic() + 60
    while not scheduler_file.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    for name in ("w1", "w2"):
        processes.append(subprocess.Popen(
            [str(DASK), "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
             "--no-nanny", "--no-dashboard", "--name", name, "--local-directory",
             str(folder / name)], **quiet))  # fmt: skip
    from dask.distributed import Client

    address = str(json.loads(scheduler_file.read_text())["address"])
    with Client(address, timeout=30) as client:
        client.wait_for_workers(2, timeout=120)
    return address, processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """End the cluster, workers first (a worker told to stop while its scheduler is gone waits
    for it), then SIGKILL for one still there after 10 s."""
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def inside(out: Path) -> tuple[float, float]:
    """Seconds spent inside the work, summed over every process: OCR (once per engine setting
    and page) and correction (every row). The rest of a run's wall time is starting, loading
    models, waiting and the report."""
    import pandas as pd

    frame = pd.read_parquet(out / "results.parquet")
    ocr = frame.drop_duplicates(["dataset", "sample_id", "engine", "params"])["ocr_seconds"]
    return float(ocr.sum()), float(frame["correct_seconds"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="sweeps/default.yaml")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    spec = (ROOT / args.spec).resolve()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sweep = ["sweep", args.spec, "--quiet"]
        single = [*sweep, "--workers", "1", "--out", str(work / "s1")]
        double = [*sweep, "--workers", "2", "--out", str(work / "s2")]
        one, one_work = timed(single, work / "c1")
        print(f"1 process: {one:.1f} s", file=sys.stderr)
        two, two_work = timed(double, work / "c2")
        print(f"2 processes: {two:.1f} s", file=sys.stderr)
        address, processes = start_cluster(work)
        try:
            on_dask = ["sweep", str(dask_spec(spec, address, work)), "--quiet", "--out",
                       str(work / "s3")]  # fmt: skip
            cluster, cluster_work = timed(on_dask, work / "c3")
        finally:
            stop(processes)
        rows.append(("sweep, cold, 1 process", single, one, one_work))
        rows.append(("sweep, cold, 2 local processes", double, two, two_work))
        rows.append(("sweep, cold, 2-worker localhost Dask cluster (spec with executor: "
                     "dask:ADDRESS)", on_dask, cluster, cluster_work))  # fmt: skip
        shown_rows = [(name, shown(command, tmp).replace(address, "ADDRESS"), seconds, done,
                       inside(Path(command[command.index("--out") + 1])))
                      for name, command, seconds, done in rows]  # fmt: skip
    ratios = [
        ("1 process / 2 local processes (cold)", one / two, ">= 1.9 (goal)"),
        ("2 local processes / 2-worker Dask cluster (the cluster's share of local speed)",
         two / cluster, ">= 0.95"),
    ]  # fmt: skip
    lines = [
        f"Measured {date.today()} on {platform.node()} ({os.cpu_count()} cores), "
        f"`python benchmarks/cluster_speed.py --spec {args.spec}`; each command ran on an empty "
        "`OCRBENCH_CACHE` into a new folder and wrote its report:",
        "",
        "| what | command (`$TMP`: a fresh temporary folder) | seconds | OCR run "
        "| corrections run | OCR s, all processes | correction s, all processes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, command, seconds, done, (ocr, correction) in shown_rows:
        cells = [
            f"`{command}`",
            f"{seconds:.2f}",
            str(done["ocr_run"]),
            str(done.get("corrections_run", 0)),
            f"{ocr:.1f}",
            f"{correction:.1f}",
        ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += ["", "| ratio | value | target |", "|---|---|---|"]
    lines += [f"| {name} | {value:.2f}x | {target} |" for name, value, target in ratios]
    table = "\n".join(lines)
    print(table)
    if args.record:
        record("cluster_speed", table)


if __name__ == "__main__":
    main()
