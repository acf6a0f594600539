"""What the caches and the process pool buy, measured side by side in one run.

1. `ocrbench run` on the bundled dataset with Tesseract, as users type it (report included): a
   cold run (empty cache) vs the identical command again (target: the second at least 20x faster,
   and no OCR; its report reuses the charts and sample tables made for the same results), and
   the same into a new folder (warm cache, but the report is made from scratch there).
2. A sweep (default: sweeps/default.yaml), report included: cold on one process vs cold on N
   processes (target: >= 1.6x on 2 cores), then the same sweep again on a warm cache (target:
   >= 20x, no OCR and no correction; it resumes every row from its folder), and into a new
   folder on that warm cache (every OCR and correction a cache hit).

Each cold run gets a fresh empty cache and a fresh output folder; the warm run is the cold
command again, its output folder included, and then once more into a new folder. Models are
already on disk (resolving is not timed work). Every figure is printed with the command it timed.
Usage: python benchmarks/cache_speed.py [--spec sweeps/default.yaml] [--workers 2] [--record]
--record writes the table into benchmarks/RESULTS.md between this benchmark's markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OCRBENCH = [sys.executable, "-m", "ocrbench.cli"]


def timed(
    args: list[str], cache: Path, env: dict[str, str] | None = None
) -> tuple[float, dict[str, object]]:
    """The command's wall seconds and its manifest's work counts (`env`: variables to add)."""
    env = {**os.environ, **(env or {}), "OCRBENCH_CACHE": str(cache)}
    start = time.perf_counter()
    done = subprocess.run([*OCRBENCH, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: ocrbench {shlex.join(args)}\n{done.stderr}")
    out = Path(args[args.index("--out") + 1])
    manifest = json.loads((out / "manifest.json").read_text())
    return seconds, manifest["work"]


def shown(args: list[str], tmp: str) -> str:
    """The command as a user types it, with the benchmark's temporary folder as `$TMP`."""
    return "ocrbench " + shlex.join(args).replace(tmp, "$TMP")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="sweeps/default.yaml")
    parser.add_argument("--dataset", default="datasets/invoices-synth")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run = ["run", "--dataset", args.dataset, "--engine", "tesseract", "--quiet"]
        run = [*run, "--out", str(work / "run")]
        elsewhere = [*run[:-1], str(work / "run-elsewhere")]
        cold, cold_work = timed(run, work / "cache-run")
        warm, warm_work = timed(run, work / "cache-run")
        moved, moved_work = timed(elsewhere, work / "cache-run")
        rows.append(("`ocrbench run` tesseract, cold cache", run, cold, cold_work))
        rows.append(("the same command again, warm cache", run, warm, warm_work))
        rows.append(("into a new folder, warm cache (charts drawn)", elsewhere, moved, moved_work))
        ratios = {"run: cold / warm": cold / warm, "run: cold / warm, new folder": cold / moved}

        sweep = ["sweep", args.spec, "--quiet"]
        single = [*sweep, "--workers", "1", "--out", str(work / "s1")]
        parallel = [*sweep, "--workers", str(args.workers), "--out", str(work / "s2")]
        parallel_elsewhere = [*parallel[:-1], str(work / "s3")]
        one, one_work = timed(single, work / "c1")
        many, many_work = timed(parallel, work / "c2")
        again, again_work = timed(parallel, work / "c2")
        cached, cached_work = timed(parallel_elsewhere, work / "c2")
        rows.append(("sweep, cold, 1 process", single, one, one_work))
        rows.append((f"sweep, cold, {args.workers} processes", parallel, many, many_work))
        rows.append(("the same sweep again (resumed from its folder)", parallel, again, again_work))
        rows.append(("into a new folder, warm cache (charts drawn)", parallel_elsewhere, cached,
                     cached_work))  # fmt: skip
        ratios[f"sweep: 1 process / {args.workers} processes (cold)"] = one / many
        ratios["sweep: cold / warm"] = many / again
        ratios["sweep: cold / warm, new folder"] = many / cached

    lines = [
        f"Measured {date.today()} on {platform.node()} ({os.cpu_count()} cores), "
        f"`python benchmarks/cache_speed.py --spec {args.spec} --workers {args.workers}`; every "
        "command writes its report; a cold command ran on an empty `OCRBENCH_CACHE`, the warm one "
        "after it on the cache it filled:",
        "",
        "| what | command (`$TMP`: a fresh temporary folder) | seconds | OCR run / cached "
        "| corrections run / cached | rows resumed |",
        "|---|---|---|---|---|---|",
    ]
    for name, command, seconds, done in rows:
        lines.append(
            f"| {name} | `{shown(command, tmp)}` | {seconds:.2f} "
            f"| {done['ocr_run']} / {done['ocr_cached']} "
            f"| {done.get('corrections_run', 0)} / {done.get('corrections_cached', 0)} "
            f"| {done.get('rows_resumed', '-')} |"
        )
    lines += ["", "| ratio | value | target |", "|---|---|---|"]
    targets = {"run: cold / warm": ">= 20", "sweep: cold / warm": ">= 20",
               f"sweep: 1 process / {args.workers} processes (cold)": ">= 1.6 (goal)"}  # fmt: skip
    for name, value in ratios.items():
        lines.append(f"| {name} | {value:.1f}x | {targets.get(name, 'none (for comparison)')} |")
    table = "\n".join(lines)
    print(table)
    if args.record:
        record("cache_speed", table)


def record(name: str, table: str) -> None:
    """Replace this benchmark's section of RESULTS.md (between its markers), or append it."""
    path = ROOT / "benchmarks" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{table}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + f"\n\n## {name}\n\n{block}\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
