"""The seed's prompted correction on a real instruct model: SmolLM2-135M-Instruct, untrained and
with few-shot examples from the training part, on corrector_accuracy.py's --protocol parts.

    .venv/bin/python benchmarks/prompt_accuracy.py --lines 100            # the test parts
    .venv/bin/python benchmarks/prompt_accuracy.py --lines 100 --part dev

Per dataset: raw corpus CER, then each configuration's CER, its change, the share of samples
where the guard rejected at least one piece's reply, and seconds per sample (a line; a page for
the invoices); a seeded sample of `--lines` test samples (seed 0).
"""

from __future__ import annotations

import argparse
import json
import random
import time

from corrector_accuracy import corpus_cer, protocols

from ocrbench.correctors.prompt import Prompt
from ocrbench.models import catalogue
from ocrbench.types import OcrResult


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--part", choices=("test", "dev"), default="test")
    parser.add_argument("--only", action="append", help="dataset name prefix (repeatable)")
    args = parser.parse_args()
    print(f"part: {args.part}; {args.lines} lines a dataset, seed 0; "
          f"model {catalogue.SMOLLM2.repo_id} {catalogue.SMOLLM2.quantization}")  # fmt: skip
    print(f"{'dataset':52} {'prompt':10} {'CER':>7} {'change':>8} {'rejected':>9} {'s/sample':>8}")
    for protocol in protocols(args.part, set(args.only) if args.only else None):
        items = protocol.test
        if len(items) > args.lines:
            items = random.Random(0).sample(items, args.lines)
        truths = [i.truth for i in items]
        raw = corpus_cer(truths, [i.ocr for i in items])[0]
        print(f"{protocol.name:52} {'raw OCR':10} {raw:7.4f}")
        untrained = Prompt(repo_id=catalogue.SMOLLM2.repo_id, quantization="q4_1")
        state = json.loads(json.dumps(untrained.fit([(i.ocr, i.truth) for i in protocol.train])))
        for name, corrector in (("untrained", untrained), ("few-shot", untrained.trained(state))):
            texts, rejected, start = [], 0, time.perf_counter()
            for item in items:
                done = corrector.correct(OcrResult(text=item.ocr))
                texts.append(done.text)
                rejected += done.rejected is not None
            seconds = (time.perf_counter() - start) / len(items)
            cer = corpus_cer(truths, texts)[0]
            print(f"{'':52} {name:10} {cer:7.4f} {(cer - raw) / raw:+8.1%} "
                  f"{rejected / len(items):9.0%} {seconds:8.2f}", flush=True)  # fmt: skip
        untrained.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
