"""How close does noisy-channel come to llama.cpp's raw scoring speed? Measured side by side.

The ceiling: llama.cpp evaluating the same number of tokens of real text in big batches (512
tokens per llama_decode) with logits at every position, i.e. what `logits_all` scoring costs at
best; same model file, same thread count, its own context. The corrector: `correct()` timed end to
end (candidates, tokenizing, decoding, log-softmax), its tokens being every token it fed to
llama_decode; once with a call per line, once with the lines as one text. Rounds alternate the
corrector and the ceiling, so a busy machine slows both alike; the ratio reported is the median of
the rounds.

    .venv/bin/python benchmarks/corrector_speed.py               # 150 ICDAR 2017 lines, 3 rounds
    .venv/bin/python benchmarks/corrector_speed.py --lines 50 --rounds 1 --threads 2

Needs ../shared (the ICDAR 2017 lines) and the llm extra (llama-cpp-python, the embedded model).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corrector_accuracy import SHARED, icdar_lines  # noqa: E402

from ocrbench import models  # noqa: E402
from ocrbench.correctors.noisy_channel import NoisyChannel  # noqa: E402
from ocrbench.types import OcrResult  # noqa: E402

CHUNK = 512


class Ceiling:
    """llama.cpp's own scoring pass: decode CHUNK tokens at a time, logits at every position."""

    def __init__(self, llama: Any, threads: int):
        import llama_cpp

        self.lib = llama_cpp
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = CHUNK
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(llama.model, params)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(CHUNK, 0, 1)

    def seconds(self, tokens: Sequence[int]) -> float:
        lib, batch = self.lib, self.batch
        start = time.perf_counter()
        for first in range(0, len(tokens), CHUNK):
            chunk = tokens[first : first + CHUNK]
            for i, token in enumerate(chunk):
                batch.token[i] = token
                batch.pos[i] = i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True
            batch.n_tokens = len(chunk)
            lib.llama_memory_clear(self.memory, True)
            if lib.llama_decode(self.ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")
            lib.llama_synchronize(self.ctx)
        return time.perf_counter() - start

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.ctx)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=150, help="ICDAR 2017 lines (seeded sample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"{SHARED} is absent: this benchmark reads ICDAR 2017 lines from it", file=sys.stderr)
        return 2
    lines = [item.ocr for item in icdar_lines(args.lines, args.seed)]
    corrector = NoisyChannel(n_threads=args.threads)
    loaded = models.load(corrector.model_spec())
    ceiling = Ceiling(loaded.llama, args.threads)
    text = "\n".join(lines)
    real_tokens = loaded.llama.tokenize(text.encode("utf-8"), add_bos=False)
    print(f"command: python benchmarks/corrector_speed.py {' '.join(argv or sys.argv[1:])}".strip())
    print(f"model: {loaded.path.name} ({loaded.sha256[:12]}), threads: {args.threads}")
    print(f"sample: {len(lines)} ICDAR 2017 lines, random.Random({args.seed}).sample")
    corrector.correct(OcrResult(text=lines[0]))  # loads the model and warms the scoring context
    ceiling.seconds(real_tokens[:CHUNK])
    print(
        f"{'round':>5} {'mode':>8} {'tokens':>7} {'corrector tok/s':>15} {'ceiling tok/s':>13} "
        f"{'ratio':>6} {'lines/s':>8} {'tokens/line':>11}"
    )
    ratios: dict[str, list[float]] = {"per line": [], "one text": []}
    for round_number in range(1, args.rounds + 1):
        for mode in ratios:
            # "per line": a correct() call per line, as a run over a line dataset makes them;
            # "one text": the lines as one text (a page), its suspicious tokens batched together.
            texts = lines if mode == "per line" else [text]
            tokens = 0
            start = time.perf_counter()
            for piece in texts:
                tokens += corrector.correct(OcrResult(text=piece)).tokens
            seconds = time.perf_counter() - start
            needed = (real_tokens * (tokens // max(len(real_tokens), 1) + 1))[:tokens]
            raw_seconds = ceiling.seconds(needed)
            ours, raw = tokens / seconds, tokens / raw_seconds
            ratios[mode].append(ours / raw)
            print(
                f"{round_number:5d} {mode:>8} {tokens:7d} {ours:15.1f} {raw:13.1f} "
                f"{ours / raw:6.2f} {len(lines) / seconds:8.2f} {tokens / len(lines):11.1f}"
            )
            sys.stdout.flush()
    for mode, found in ratios.items():
        print(f"median ratio corrector/ceiling, {mode}: {statistics.median(found):.2f} (bar: 0.80)")
    ceiling.close()
    corrector.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
