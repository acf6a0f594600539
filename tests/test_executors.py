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


class _Client:
    """Dask's Client as `_dask` uses it, for two workers of which one dies during the sweep."""

    instances: list[_Client] = []

    def __init__(self, address: str, timeout: float) -> None:
        self.workers = {"tcp://a:1": {"host": "a"}, "tcp://a:2": {"host": "a"}}
        self.resumed: list[str] = []
        self.closed = False
        _Client.instances.append(self)

    def scheduler_info(self) -> dict[str, object]:
        return {"workers": dict(self.workers)}

    def run(self, function: object, *args: object, workers: list[str] | None = None) -> object:
        for address in workers or list(self.workers):
            if address not in self.workers:
                raise OSError(f"Timed out trying to connect to {address} after 30 s")
        if function is executors.pause_profiling:
            return {address: ["profile"] for address in self.workers}
        if function is executors.resume_profiling:
            self.resumed += workers or list(self.workers)
        return {}

    def nthreads(self) -> dict[str, int]:
        return dict.fromkeys(self.workers, 1)

    def get_executor(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


def test_closing_a_cluster_whose_worker_died_resumes_the_rest_and_closes_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.setattr(distributed, "Client", _Client)
    executor = executors.open_executor("dask:tcp://a:0", 1)
    client = _Client.instances[-1]
    del client.workers["tcp://a:1"]  # killed during the sweep: a run there times out
    executor.close()
    # the dead worker is not waited for (30 s each), the live one samples again, the client closes
    assert client.resumed == ["tcp://a:2"]
    assert client.closed
