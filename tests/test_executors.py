"""Local worker processes start fresh: nothing the sweep process has loaded (llama.cpp and its
OpenMP runtime, which made forked workers run the models up to 2.4x slower) is in them, and they
have the sweep's environment as it is when the pool opens, with their share of the cores."""

from __future__ import annotations

import contextlib
import os
import sys

import pytest

from ocrbench import executors
from ocrbench.errors import OcrbenchError


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
    """Dask's Client as `_dask` uses it: a scheduler that takes the sweep's worker plugin, and
    may be gone by the time the sweep ends."""

    instances: list[_Client] = []

    def __init__(self, address: str, timeout: float) -> None:
        self.workers = {"tcp://a:1": {"host": "a"}, "tcp://a:2": {"host": "a"}}
        self.plugins: dict[str, object] = {}
        self.gone = False
        self.closed = False
        _Client.instances.append(self)

    def scheduler_info(self) -> dict[str, object]:
        return {"workers": dict(self.workers)}

    def register_plugin(self, plugin: object, name: str) -> None:
        self.plugins[name] = plugin

    def unregister_worker_plugin(self, name: str) -> None:
        if self.gone:
            raise OSError("Timed out trying to connect to the scheduler after 30 s")
        del self.plugins[name]

    def nthreads(self) -> dict[str, int]:
        return dict.fromkeys(self.workers, 1)

    def get_executor(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("scheduler_gone", [False, True])
def test_closing_a_cluster_takes_the_plugin_off_and_closes_the_client(
    monkeypatch: pytest.MonkeyPatch, scheduler_gone: bool
) -> None:
    distributed = pytest.importorskip("dask.distributed")
    monkeypatch.setattr(distributed, "Client", _Client)
    executor = executors.open_executor("dask:tcp://a:0", 1)
    client = _Client.instances[-1]
    (plugin,) = client.plugins.values()
    assert plugin.per_host == {"a": 2}  # type: ignore[attr-defined]  # two workers share host a
    client.gone = scheduler_gone
    executor.close()
    # the plugin's teardown starts the samplers again; a scheduler gone stops nothing; closed
    assert bool(client.plugins) is scheduler_gone
    assert client.closed


def test_a_failing_callback_in_the_clients_event_loop_prints_no_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A scheduler killed mid-sweep fails the client's pending futures in tornado's loop, which
    logs each as a traceback (seen in CI); the sweep says the loss in one line instead."""
    distributed = pytest.importorskip("dask.distributed")
    from tornado.ioloop import IOLoop

    monkeypatch.setattr(distributed, "Client", _Client)
    executor = executors.open_executor("dask:tcp://a:0", 1)
    loop = IOLoop()
    loop.add_callback(lambda: 1 / 0)
    loop.add_callback(loop.stop)
    loop.start()
    loop.close()
    executor.close()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


@pytest.mark.parametrize("step", ["register_plugin", "nthreads", "get_executor"])
def test_a_scheduler_lost_right_after_connecting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Only the connection itself was translated: a scheduler that died a moment later (seen in
    a 14 ms window) gave the user a 60-line traceback from the calls that follow it."""
    distributed = pytest.importorskip("dask.distributed")
    from distributed.comm.core import CommClosedError

    def lost(*args: object, **kwargs: object) -> None:
        raise CommClosedError("in <TCP (closed) ConnectionPool.ncores>: Stream is closed")

    monkeypatch.setattr(distributed, "Client", _Client)
    monkeypatch.setattr(_Client, step, lost)
    with pytest.raises(OcrbenchError, match=r"^lost the Dask scheduler at tcp://a:0 \("):
        executors.open_executor("dask:tcp://a:0", 1)
    assert _Client.instances[-1].closed


def test_a_local_cluster_leaves_the_dashboards_usual_port_alone(
    recwarn: pytest.WarningsRecorder,
) -> None:
    """Port 8787 held by anything else (another cluster, a dashboard, a parallel job) made every
    local Dask sweep print distributed's four-line warning about it."""
    pytest.importorskip("dask.distributed")
    import socket

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):  # already held: all the better
            holder.bind(("", 8787))
            holder.listen()
        executor = executors.open_executor("dask", 1)
        executor.close()
    assert [str(w.message) for w in recwarn if "8787" in str(w.message)] == []
