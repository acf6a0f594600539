"""Signal handlers set for a while, then put back: how the child processes a sweep starts are made
to ignore a terminal's signals, and how a stop is held while C code runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import Any

STOPS = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl-C, a CI runner's stop, a closed terminal


@contextlib.contextmanager
def set_for(
    names: Sequence[str], handler: Any, *, python_handled_only: bool = False
) -> Iterator[None]:
    """`handler` for the named signals this platform has, while the block runs (only the main
    thread may set handlers: elsewhere nothing changes). With `python_handled_only`, a signal
    left to the system (SIG_DFL, SIG_IGN) keeps its way."""
    stops = [getattr(signal, n) for n in names if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        stops = []
    if python_handled_only:
        stops = [s for s in stops if callable(signal.getsignal(s))]
    before = {s: signal.signal(s, handler) for s in stops}
    try:
        yield
    finally:
        for stop, previous in before.items():
            signal.signal(stop, previous)
