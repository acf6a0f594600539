"""What every Dask worker of a sweep runs under, those there at the start and those that join or
replace a dead one: its share of its machine's cores and its stack sampler paused.

Timings are results too: a worker with every core, or with Dask's sampler taking the GIL every
10 ms (EasyOCR's seconds were 17% higher under it), measures other seconds than its neighbours.
Set once at connect, a worker the nanny restarts after a crash ran with neither; a worker plugin
is set up on every worker that joins while it is registered, and torn down (the sampler started
again) when the sweep ends. Imported only with the dask executor (distributed is an extra).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from distributed import WorkerPlugin

from ocrbench.executors import limit_threads

NAME = "ocrbench-sweep"
SAMPLERS = ("profile", "profile-cycle")  # Dask's stack sampler and the cycling of its record


def host(address: str) -> str:
    """A worker's machine, from its address ("tcp://10.0.0.5:40123" -> "10.0.0.5")."""
    return urlparse(address).hostname or address


def workers_per_host(client: Any) -> dict[str, int]:
    """How many of the cluster's workers share each machine, now."""
    counts: dict[str, int] = {}
    for address in client.scheduler_info()["workers"]:
        counts[host(address)] = counts.get(host(address), 0) + 1
    return counts


class SweepWorkers(WorkerPlugin):
    """Each worker's share of its machine's cores (`limit_threads`, counted per host when the
    sweep connected; a machine that joins later is taken to hold that one worker), and its
    sampler paused for the sweep."""

    name = NAME

    def __init__(self, per_host: dict[str, int]) -> None:
        self.per_host = per_host
        self.paused: dict[str, Any] = {}

    def setup(self, worker: Any) -> None:
        limit_threads(self.per_host.get(host(worker.address), 1))
        # Taken out, not only stopped: a worker that is starting starts every periodic callback
        # it holds once it has registered, which can be after this setup.
        for name in SAMPLERS:
            callback = worker.periodic_callbacks.pop(name, None)
            if callback is not None:
                callback.stop()
                self.paused[name] = callback

    def teardown(self, worker: Any) -> None:
        for name, callback in self.paused.items():
            worker.periodic_callbacks[name] = callback
            callback.start()


def register(client: Any) -> None:
    client.register_plugin(SweepWorkers(workers_per_host(client)), name=NAME)


def unregister(client: Any) -> None:
    client.unregister_worker_plugin(NAME)
