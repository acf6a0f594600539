"""A page's correction seconds, less the one-off loads that happened during it.

A model or a dictionary loads once per process, on the first page that needs it; charged to that
page, it made "seconds per sample" (and the time budgets, Pareto fronts and slices built on it)
depend on which page came first: 1.7 s against 0.2-0.4 s for the pages after it with the
embedded model. The time spent loading is kept apart here, and a `Clock` leaves it out.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

_spent = 0.0  # seconds this process has spent in one-off loads
_depth = 0  # loads within loads count once

T = TypeVar("T")


@contextmanager
def one_off() -> Iterator[None]:
    """Time spent inside is a one-off load, not any page's correction."""
    global _spent, _depth
    began = time.perf_counter()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth:
            _spent += time.perf_counter() - began


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
    """Seconds since it was made, less the one-off loads since then."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.loads = _spent

    def seconds(self) -> float:
        return time.perf_counter() - self.start - (_spent - self.loads)
