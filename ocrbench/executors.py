"""Where a sweep's tasks run: in this process, in local worker processes, or on a Dask cluster.

One seam, `open_executor`, so the sweep does not care which. Local workers end with the sweep that
started them, however it ends: a normal end shuts them down, an error or an interrupt terminates
them, and a sweep killed outright (SIGKILL) takes them along, since each worker watches the sweep.

Local workers start as fresh processes (from a fork server), not as forks of the sweep: by the time
a sweep forks, it has loaded llama.cpp and its OpenMP runtime (to ask whether the build offloads to
a GPU), and forks of it ran the models up to 2.4x slower (benchmarks/RESULTS.md, cluster_speed).
"""

from __future__ import annotations

import concurrent.futures as futures
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

from ocrbench import signals
from ocrbench.errors import OcrbenchError

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
CONNECT_SECONDS = 10  # to reach a Dask scheduler before saying it cannot be reached
PARENT_CHECK_SECONDS = 0.5

P = ParamSpec("P")
T = TypeVar("T")


def limit_threads(workers: int) -> None:
    """Give each worker process its share of the cores, not all of them."""
    share = str(max(1, (os.cpu_count() or 1) // workers))
    os.environ["OMP_THREAD_LIMIT"] = share  # Tesseract
    os.environ["OMP_NUM_THREADS"] = share  # torch (EasyOCR)
    os.environ["OCRBENCH_THREADS"] = share  # llama.cpp and onnxruntime: `thread_share`


def thread_share() -> int | None:
    """A sweep worker's share of the cores (`limit_threads`); None outside one."""
    share = os.environ.get("OCRBENCH_THREADS")
    return int(share) if share and share.isdigit() and int(share) > 0 else None


def threads() -> int:
    """The threads this process's work may use: a sweep worker's share, else every core. The one
    place every component asks (llama.cpp loading and scoring, torch, onnxruntime)."""
    return thread_share() or os.cpu_count() or 1


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # Windows' os.kill ends the process it is given: the parent watch decides
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone (or the pid is another user's now)
        return False
    return True


def die_with(sweep: int) -> None:
    """End this process when the sweep (process `sweep`) ends. On Linux the kernel kills it as soon
    as its parent (the fork server, which ends with the sweep) ends; everywhere a thread checks
    the sweep and the parent twice a second, since a worker blocked on its task pipe would
    otherwise wait for work forever. Checked once at once too: a sweep killed while this worker
    was starting is gone before the kernel was told to watch."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def ended() -> bool:  # a killed sweep its shell has not reaped yet still answers: ask both
        return os.getppid() != parent or not _alive(sweep)

    if ended():
        os._exit(1)

    def watch() -> None:
        while not ended():
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="ocrbench-sweep-watch", daemon=True).start()


def _start_worker(workers: int, sweep: int, environment: dict[str, str]) -> None:
    # The sweep decides what an interrupt means and ends its workers itself (SIGTERM): Ctrl-C in
    # the terminal reaches every process of the group, workers included.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):  # a closed terminal, sent to the whole group: the sweep's to say
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    die_with(sweep)
    # The fork server holds the environment of when it started; a worker has the sweep's, as a
    # fork of it would (a notebook may have set OCRBENCH_* since).
    os.environ.clear()
    os.environ.update(environment)
    limit_threads(workers)
    signal.signal(signal.SIGTERM, _terminated)  # a task's cleanup runs, Tesseract's end included


class _Terminated(SystemExit):
    """SIGTERM in a worker's task, raised where the task is so that its cleanup runs: at the
    signal's default action, a worker ended with Tesseract still running (re-parented to init)
    and its files left behind."""


class _Worker:
    """A pool worker's state, as its SIGTERM handler sees it (both run in its main thread)."""

    in_task = False
    terminated: int | None = None  # the exit code, once SIGTERM came


def _terminated(signum: int, frame: Any) -> None:
    # Once: a pool gone broken terminates its workers, then the sweep's close(abort=True) does
    # again, and a second SIGTERM must not cut the cleanup short. A worker that outlives the
    # sweep anyway ends with it (`die_with`).
    signal.signal(signum, signal.SIG_IGN)
    _Worker.terminated = 128 + signum
    if not _Worker.in_task:
        # Waiting for a task, or unpickling one (importing what it needs): nothing to clean up,
        # and an exception raised inside an import may come out as another, with a traceback.
        os._exit(_Worker.terminated)
    raise _Terminated(_Worker.terminated)


def _task(work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A task in a pool worker. concurrent.futures catches whatever a task raises and waits for
    the next one: a task that SIGTERM stopped ends the worker instead, once its cleanup has run
    (whatever the exception became on its way out)."""
    _Worker.in_task = True
    try:
        return work(*args, **kwargs)
    finally:
        _Worker.in_task = False
        if _Worker.terminated is not None:
            os._exit(_Worker.terminated)


class _WorkerPool(futures.ProcessPoolExecutor):
    """Local worker processes, each task run by `_task`."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> futures.Future[T]:
        return super().submit(_task, fn, *args, **kwargs)


def _fresh_processes() -> multiprocessing.context.BaseContext:
    """Processes started clean: from a fork server where there is one (Linux, macOS), else spawned.
    The fork server imports nothing of the sweep's, so what it forks is a bare interpreter; each
    worker then imports what its tasks need (and, as under spawn, the sweep's main script)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([])
    return context


def _tracker_ignoring_hangup() -> None:
    """Start multiprocessing's resource tracker (the pool's queues need it at once) ignoring
    SIGHUP, which it keeps: a closed terminal sends it to the whole group, and the sweep, not it,
    is to say what that means (it ignores SIGINT already). And without its warning of "leaked"
    semaphores, which it cleans up itself: a killed sweep's only line was that, in two."""
    from multiprocessing import resource_tracker

    saved = list(sys.warnoptions)  # the tracker starts with this interpreter's -W options
    sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    try:
        with _started_ignoring("SIGHUP"):
            resource_tracker.ensure_running()
    finally:
        sys.warnoptions[:] = saved


def _fork_server_ignoring_hangup() -> None:
    """The fork server likewise, started with the first task: a sweep whose work is all cached
    starts no process to leave behind."""
    from multiprocessing import forkserver

    if "forkserver" in multiprocessing.get_all_start_methods():
        with _started_ignoring("SIGHUP"):
            forkserver.ensure_running()


def _started_ignoring(*names: str) -> contextlib.AbstractContextManager[None]:
    """Processes started within ignore these signals (an ignored signal stays ignored in a child,
    across exec): Ctrl-C and a closed terminal reach the whole process group, and it is the
    sweep's to say what they mean, in one line, and to end its helpers."""
    return signals.set_for(names, signal.SIG_IGN)


class Executor:
    """`map_unordered` over tasks, `close()` when done, `close(abort=True)` on an error or an
    interrupt. `lost` turns a pool's "the workers are gone" error into one clear line."""

    def __init__(
        self,
        pool: futures.Executor | None,
        close: Callable[[bool], None],
        workers: int = 1,
        lost: Callable[[BaseException], OcrbenchError | None] = lambda error: None,
        start: Callable[[], None] | None = None,
    ):
        self.pool = pool
        self._start = start  # before the first task (a sweep with everything cached starts none)
        self._close = close
        self.workers = workers  # what runs the tasks (a remote cluster's threads, not the asked)
        self.window = 4 * workers  # tasks in flight: every worker busy, the rest not yet sent
        self._lost = lost

    def map_unordered(
        self,
        work: Callable[[Any], Any],
        tasks: Iterable[Any],
        prepare: Callable[[Any], Any] | None = None,
    ) -> Iterator[tuple[Any, Any]]:
        """(task, its result) as soon as each is done; in this process when there is no pool.
        `prepare` makes what is sent from a task, as it is sent (a page's bytes, read then)."""
        ready = prepare or (lambda task: task)
        if self.pool is None:
            for task in tasks:
                yield task, work(ready(task))
            return
        waiting, pending = iter(tasks), {}
        for task in itertools.islice(waiting, self.window):
            if self._start is not None:  # the first task: the pool's helpers start now
                self._start()
                self._start = None
            pending[self.pool.submit(work, ready(task))] = task
        while pending:
            done, _ = futures.wait(pending, return_when=futures.FIRST_COMPLETED)
            for future in done:
                task = pending.pop(future)
                try:
                    result = future.result()
                except futures.process.BrokenProcessPool:
                    raise OcrbenchError(
                        "a worker process died (killed, or out of memory); the rows finished "
                        "before are kept: run the same command again to resume"
                    ) from None
                except Exception as error:
                    said = self._lost(error)
                    if said is None:
                        raise
                    raise said from None
                for following in itertools.islice(waiting, 1):
                    pending[self.pool.submit(work, ready(following))] = following
                yield task, result

    def close(self, abort: bool = False) -> None:
        self._close(abort)


def _process_pool(workers: int) -> Executor:
    _tracker_ignoring_hangup()
    pool = _WorkerPool(
        workers,
        mp_context=_fresh_processes(),
        initializer=_start_worker,
        initargs=(workers, os.getpid(), dict(os.environ)),
    )

    def close(abort: bool) -> None:
        if abort:
            # Running tasks may take minutes (a model scoring a page): end them, not wait for them.
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()  # each ends its task's child processes first (`_terminated`)
            deadline = time.monotonic() + 5
            for process in processes:
                process.join(max(0.0, deadline - time.monotonic()))
            for process in processes:  # still in a long C call (a decode): its handler waits
                if process.is_alive():
                    process.kill()
                    process.join(5)
        else:
            pool.shutdown(cancel_futures=True)

    return Executor(pool, close, workers, start=_fork_server_ignoring_hangup)


def _dask(address: str, workers: int) -> Executor:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise OcrbenchError(
            'executor dask needs the dask extra: pip install "ocrbench[dask]"'
        ) from None
    # distributed logs its connection troubles as tracebacks, and so does tornado's event loop
    # for each future a dead scheduler fails; ocrbench says them in one line.
    quiet = ("distributed", "tornado")
    for name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] in quiet]:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    if address:
        try:
            client = Client(address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as error:  # refused, unresolvable, nobody answering
            raise OcrbenchError(
                f"cannot reach the Dask scheduler at {address} ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else 'no answer'}); start one there "
                "with `dask scheduler`, or check the address"
            ) from None
        cluster = None
    else:
        with _started_ignoring("SIGINT", "SIGHUP"):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                silence_logs=logging.CRITICAL,
                dashboard_address=":0",  # 8787 held by anything else: a warning on every sweep
            )  # fmt: skip
        client = Client(cluster)

    from ocrbench import dask_workers

    def close(abort: bool) -> None:
        _release(client)
        if cluster is not None:
            cluster.close()

    where = address or "the local Dask cluster"

    def lost(error: BaseException) -> OcrbenchError | None:
        """A dead scheduler, or a task whose workers kept dying; not a task's own error."""
        kind = type(error).__name__
        if kind == "KilledWorker":
            return OcrbenchError(
                f"a task's workers died each time it ran ({error}); out of memory? The rows "
                "finished before are kept: run the same command again to resume"
            )
        if isinstance(error, (futures.CancelledError, OSError)) or kind == "CommClosedError":
            return OcrbenchError(
                f"lost the Dask scheduler at {where} ({kind}); the rows finished before are "
                "kept: run the same command again to resume"
            )
        return None

    try:  # a scheduler that dies just after the connection is as lost as one that dies later
        dask_workers.register(client)  # every worker's share of cores, its sampler paused
        share = sum(client.nthreads().values()) if address else workers
        pool = client.get_executor()
    except Exception as error:
        close(abort=True)  # the client, and a local cluster's workers, go either way
        said = lost(error)
        if said is None:
            raise
        raise said from None
    return Executor(pool, close, max(1, share), lost)


def _release(client: Any) -> None:
    """The sweep's worker plugin taken off (its teardown starts the samplers again on the workers
    still there), then the client closed; a scheduler already gone stops neither."""
    from ocrbench import dask_workers

    with contextlib.suppress(Exception):
        dask_workers.unregister(client)
    with contextlib.suppress(Exception):  # a scheduler already gone has nothing to close
        client.close()


def open_executor(kind: str, workers: int) -> Executor:
    """`processes` (one worker: this process), `dask` (a local cluster) or `dask:ADDRESS`."""
    if kind.startswith("dask"):
        return _dask(kind.partition(":")[2], workers)
    if workers == 1:
        return Executor(None, lambda abort: None)
    return _process_pool(workers)
