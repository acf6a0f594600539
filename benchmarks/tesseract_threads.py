"""Tesseract with one OpenMP thread against more, measured side by side in one run.

ocrbench sets OMP_THREAD_LIMIT=1 for Tesseract unless the user set it (a sweep worker gets its
share of the cores): on small machines Tesseract's OpenMP threads spin against each other. This
times the command users type, `ocrbench run` with Tesseract on the bundled pages (no cache, so
every page is read; report included), under OMP_THREAD_LIMIT=1 and =N, in turns, `--rounds`
times each, and prints the median seconds of each and their ratio: of the whole command, and of
the OCR alone (the pages' seconds its results record).
Usage: python benchmarks/tesseract_threads.py [--limit 8] [--rounds 3] [--threads 2] [--record]
--record writes the table into benchmarks/RESULTS.md between this benchmark's markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
from cache_speed import record, shown, timed


def read(args: list[str], threads: int, cache: Path) -> tuple[float, float]:
    """The command's wall seconds, and the OCR seconds its rows record."""
    seconds, _ = timed(args, cache, {"OMP_THREAD_LIMIT": str(threads)})
    rows = pd.read_parquet(Path(args[args.index("--out") + 1]) / "results.parquet")
    return seconds, float(rows["ocr_seconds"].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="datasets/invoices-synth")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    settings = [1, args.threads]
    seconds: dict[int, list[float]] = {n: [] for n in settings}
    ocr: dict[int, list[float]] = {n: [] for n in settings}
    with tempfile.TemporaryDirectory() as tmp:
        command = ["run", "--dataset", args.dataset, "--engine", "tesseract", "--limit",
                   str(args.limit), "--no-cache", "--quiet", "--out", f"{tmp}/run"]  # fmt: skip
        for _ in range(args.rounds):
            for threads in settings:
                wall, pages = read(command, threads, Path(tmp) / "cache")
                seconds[threads].append(wall)
                ocr[threads].append(pages)
        typed = shown(command, tmp)
    median = {n: statistics.median(s) for n, s in seconds.items()}
    median_ocr = {n: statistics.median(s) for n, s in ocr.items()}
    lines = [
        f"Measured {date.today()} on {platform.node()} ({os.cpu_count()} cores), `python "
        f"benchmarks/tesseract_threads.py --limit {args.limit} --rounds {args.rounds} --threads "
        f"{args.threads}`: `{typed}` under each OMP_THREAD_LIMIT, in turns:",
        "",
        "| OMP_THREAD_LIMIT | command seconds (each round) | median | OCR seconds of its "
        "rows (each round) | median |",
        "|---|---|---|---|---|",
    ]
    for threads in settings:
        each = ", ".join(f"{s:.2f}" for s in seconds[threads])
        each_ocr = ", ".join(f"{s:.2f}" for s in ocr[threads])
        lines.append(f"| {threads} | {each} | {median[threads]:.2f} | {each_ocr} | "
                     f"{median_ocr[threads]:.2f} |")  # fmt: skip
    ratio = median[args.threads] / median[1]
    ratio_ocr = median_ocr[args.threads] / median_ocr[1]
    lines += ["", f"{args.threads} threads / 1 thread, median seconds: the command {ratio:.2f}x, "
              f"its OCR {ratio_ocr:.2f}x"]  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if args.record:
        record("tesseract_threads", table)


if __name__ == "__main__":
    main()
