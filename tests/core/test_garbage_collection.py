"""``fewer_collections`` changes process-wide collector settings for the length of bulk work, and gives them back."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from core.garbage_collection import BULK_THRESHOLDS, fewer_collections, freeze_after_start_up


@pytest.fixture(autouse=True)
def nothing_frozen() -> Iterator[None]:
    """Each test starts with nothing frozen (a test that loads config.wsgi freezes this process), and the process is
    left as it was found."""
    was_frozen = gc.get_freeze_count() > 0
    gc.unfreeze()
    yield
    if was_frozen:
        gc.freeze()


class Node:
    def __init__(self) -> None:
        self.me = self


def test_bulk_work_runs_with_fewer_collections_and_the_settings_come_back() -> None:
    before = gc.get_threshold()

    with fewer_collections():
        assert gc.get_threshold() == BULK_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what was alive at the start is out of the collector's sight
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_during_bulk_work_are_still_collected() -> None:
    with fewer_collections():
        for _ in range(10):
            Node()  # unreachable at once, held only by its own cycle
        assert gc.collect() >= 10


def test_settings_come_back_when_the_work_fails() -> None:
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise RuntimeError("stopped")
    except RuntimeError:
        pass

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_bulk_works_restore_the_settings_only_when_the_last_one_ends() -> None:
    """Two imports in threads of one process (an eager upload in a threaded web worker): the first to end must not
    undo the second's settings, and the last to end restores the ones from before either began."""
    before = gc.get_threshold()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[tuple[int, int, int], bool]] = []

    def first() -> None:
        with fewer_collections():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with fewer_collections():
            second_in.set()
            first_out.wait(5)
            seen.append((gc.get_threshold(), gc.get_freeze_count() > 0))  # the first has ended: still in bulk mode

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert seen == [(BULK_THRESHOLDS, True)]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_freeze_made_before_is_left_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


def test_a_server_process_freezes_what_it_loaded_and_imports_leave_that_freeze_alone() -> None:
    try:
        freeze_after_start_up()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with fewer_collections():
            pass
        assert gc.get_freeze_count() >= frozen
        assert gc.get_threshold() != BULK_THRESHOLDS
    finally:
        gc.unfreeze()
