"""What the caches and the process pool buy, measured side by side in one run.

1. `ocrbench run` on the bundled dataset with Tesseract: a cold run (empty cache) vs the same
   command again (target: the second at least 20x faster, and no OCR).
2. A sweep (default: sweeps/default.yaml): cold on one process vs cold on N processes (target:
   >= 1.6x on 2 cores), then the same sweep again on a warm cache (target: >= 20x, no OCR and no
   correction).

Each cold run gets a fresh empty cache; models are already on disk (resolving is not timed work).
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


def timed(args: list[str], cache: Path) -> tuple[float, dict[str, object]]:
    env = {**os.environ, "OCRBENCH_CACHE": str(cache)}
    start = time.perf_counter()
    done = subprocess.run([*OCRBENCH, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: ocrbench {shlex.join(args)}\n{done.stderr}")
    out = Path(args[args.index("--out") + 1])
    manifest = json.loads((out / "manifest.json").read_text())
    return seconds, manifest["work"]


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
        run = ["run", "--dataset", args.dataset, "--engine", "tesseract", "--quiet", "--no-report"]
        cold, cold_work = timed([*run, "--out", str(work / "run1")], work / "cache-run")
        warm, warm_work = timed([*run, "--out", str(work / "run2")], work / "cache-run")
        rows.append(("`ocrbench run` tesseract, cold cache", cold, cold_work))
        rows.append(("same command again, warm cache", warm, warm_work))
        ratios = {"run: cold / warm": cold / warm}

        sweep = ["sweep", args.spec, "--quiet", "--no-report"]
        one, one_work = timed([*sweep, "--workers", "1", "--out", str(work / "s1")], work / "c1")
        many, many_work = timed(
            [*sweep, "--workers", str(args.workers), "--out", str(work / "s2")], work / "c2"
        )
        again, again_work = timed(
            [*sweep, "--workers", str(args.workers), "--out", str(work / "s3")], work / "c2"
        )
        rows.append(("sweep, cold, 1 process", one, one_work))
        rows.append((f"sweep, cold, {args.workers} processes", many, many_work))
        rows.append((f"sweep again, warm cache, {args.workers} processes", again, again_work))
        ratios[f"sweep: 1 process / {args.workers} processes (cold)"] = one / many
        ratios["sweep: cold / warm"] = many / again

    lines = [
        f"Measured {date.today()} on {platform.node()} ({os.cpu_count()} cores), "
        f"`python benchmarks/cache_speed.py --spec {args.spec} --workers {args.workers}`:",
        "",
        "| what | seconds | OCR run / cached | corrections run / cached |",
        "|---|---|---|---|",
    ]
    for name, seconds, done in rows:
        lines.append(
            f"| {name} | {seconds:.1f} | {done['ocr_run']} / {done['ocr_cached']} "
            f"| {done.get('corrections_run', 0)} / {done.get('corrections_cached', 0)} |"
        )
    lines += ["", "| ratio | value | target |", "|---|---|---|"]
    targets = {"run: cold / warm": ">= 20", "sweep: cold / warm": ">= 20"}
    for name, value in ratios.items():
        lines.append(f"| {name} | {value:.1f}x | {targets.get(name, '>= 1.6 (goal)')} |")
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
