"""A page's seconds less the one-off loads made while it was corrected: in its own thread only."""

from __future__ import annotations

import threading

import pytest

from ocrbench.correctors import loads

from conftest import SlowClock


def test_a_load_in_another_thread_is_not_taken_off_this_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two correctors in two threads of one process (a Dask worker with --nthreads 2): one loads
    its model while the other corrects pages; the other's pages came out at -6 s."""
    clock = SlowClock(monkeypatch)
    page = loads.Clock()
    started, finished = threading.Event(), threading.Event()

    def load_elsewhere() -> None:
        with loads.one_off():
            started.set()
            finished.wait(5)

    other = threading.Thread(target=load_elsewhere)
    other.start()
    started.wait(5)
    clock.wait(100.0)  # 100 s pass while both run: this page's time, the other thread's load
    finished.set()
    other.join()
    assert 99 < page.seconds() < 101


def test_nested_loads_count_once_and_a_page_is_never_negative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SlowClock(monkeypatch)
    page = loads.Clock()
    with loads.one_off():
        clock.wait(10.0)
        with loads.one_off():
            clock.wait(10.0)
    clock.wait(1.0)
    assert 0.9 < page.seconds() < 1.5
    before = loads.Clock()
    assert before.seconds() >= 0
