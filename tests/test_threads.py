"""Every core used once: one place (`executors.threads`) decides a process's thread share, and
each component that runs threads asks it. Checked in a process given a share of 1, as a sweep
worker on a machine with more cores is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, sys
from ocrbench import executors, models
from ocrbench.scoring import Scorer
spec = models.ModelSpec(model_dir=sys.argv[1])
loaded = models.load(spec)
found = {"threads": executors.threads(), "model": loaded.llama.n_threads,
         "scorer": Scorer(loaded.llama, batch_tokens=64).threads}
if sys.argv[2] == "torch":
    import torch
    from ocrbench.engines import easyocr
    easyocr._reader(("en",), False, easyocr.EasyOcr().weights_folder(), False)
    found["torch"] = torch.get_num_threads()
print(json.dumps(found))
"""


def probe(model_dir: str, share: str | None, *extra: str) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "OCRBENCH_THREADS"}
    if share is not None:
        env["OCRBENCH_THREADS"] = share
    done = subprocess.run([sys.executable, "-c", PROBE, model_dir, *extra, "none"][:5],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, int] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_a_workers_model_and_scorer_take_its_share(model_dir: str) -> None:
    assert probe(model_dir, "1") == {"threads": 1, "model": 1, "scorer": 1}
    everything = os.cpu_count() or 1
    alone = probe(model_dir, None)
    assert alone == {"threads": everything, "model": everything, "scorer": everything}
    assert probe(model_dir, "x")["scorer"] == everything  # malformed: ignored, as no share


def test_easyocrs_torch_takes_the_share_too(model_dir: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("easyocr")
    assert probe(model_dir, "1", "torch")["torch"] == 1
