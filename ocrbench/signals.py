"""Signal handlers set for a while, then put back: how the child processes a sweep starts are made
to ignore a terminal's signals, and how a stop is held while C code runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

STOPS = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl-C, a CI runner's stop, a closed terminal


def not_ignored(current: Any) -> bool:
    """A signal ignored already stays ignored (`nohup ocrbench sweep ...`)."""
    return current != signal.SIG_IGN


def _always(current: Any) -> bool:
    return True


@contextlib.contextmanager
def set_for(
    names: Sequence[str], handler: Any, *, where: Callable[[Any], bool] = _always
) -> Iterator[None]:
    """`handler` for the named signals this platform has, while the block runs (only the main
    thread may set handlers: elsewhere nothing changes), for those whose current handler passes
    `where` (`callable`: only those a Python handler takes; `not_ignored`: not those ignored)."""
    stops = [getattr(signal, n) for n in names if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        stops = []
    stops = [s for s in stops if where(signal.getsignal(s))]
    before = {s: signal.signal(s, handler) for s in stops}
    try:
        yield
    finally:
        for stop, previous in before.items():
            signal.signal(stop, previous)
