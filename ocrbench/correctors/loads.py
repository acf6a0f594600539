"""A page's correction seconds, less the one-off loads that happened during it.

A model or a dictionary loads once per process, on the first page that needs it; charged to that
page, it made "seconds per sample" (and the time budgets, Pareto fronts and slices built on it)
depend on which page came first: 1.7 s against 0.2-0.4 s for the pages after it with the
embedded model. The time spent loading is kept apart here, and a `Clock` leaves it out.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class _Loads(threading.local):
    """Per thread (two correctors may run in two threads of one process, a Dask worker with
    --nthreads 2): the seconds spent in one-off loads, and how deep in loads within loads."""

    spent = 0.0
    depth = 0


_here = _Loads()


@contextmanager
def one_off() -> Iterator[None]:
    """Time spent inside is a one-off load, not any page's correction (in this thread)."""
    began = time.perf_counter()
    _here.depth += 1
    try:
        yield
    finally:
        _here.depth -= 1
        if not _here.depth:  # loads within loads count once
            _here.spent += time.perf_counter() - began


def once(load: Callable[..., T]) -> Callable[..., T]:
    """`load`, cached per arguments (functools.cache), its first call a one-off load."""
    cached = functools.cache(load)

    @functools.wraps(load)
    def loaded(*args: Any) -> T:
        with one_off():
            return cached(*args)

    loaded.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return loaded


class Clock:
    """Seconds since it was made, less the one-off loads its thread made since then."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.loads = _here.spent

    def seconds(self) -> float:
        return max(0.0, time.perf_counter() - self.start - (_here.spent - self.loads))
