"""Local worker processes start fresh: nothing the sweep process has loaded (llama.cpp and its
OpenMP runtime, which made forked workers run the models up to 2.4x slower) is in them, and they
have the sweep's environment as it is when the pool opens, with their share of the cores."""

from __future__ import annotations

import os
import sys

import pytest

from ocrbench import executors


def what_a_worker_sees(_: int) -> tuple[bool, str | None, str | None]:
    return "llama_cpp" in sys.modules, os.environ.get("OCRBENCH_PROBE"), executors.thread_share()


def run_on_two_workers() -> list[tuple[bool, str | None, str | None]]:
    executor = executors.open_executor("processes", 2)
    try:
        return [seen for _, seen in executor.map_unordered(what_a_worker_sees, range(4))]
    finally:
        executor.close()


def test_workers_start_fresh_with_the_sweeps_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("llama_cpp")  # the sweep has loaded it: gpu_layers: auto asks it
    run_on_two_workers()  # the fork server has started, with the environment of then
    monkeypatch.setenv("OCRBENCH_PROBE", "set later")
    seen = run_on_two_workers()
    assert [loaded for loaded, _, _ in seen] == [False] * 4
    assert {probe for _, probe, _ in seen} == {"set later"}
    assert {share for _, _, share in seen} == {max(1, (os.cpu_count() or 1) // 2)}
    assert executors.thread_share() is None  # the sweep process itself keeps every core
