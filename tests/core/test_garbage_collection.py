"""``fewer_collections`` changes process-wide collector settings for the length of bulk work, and gives them back."""

from __future__ import annotations

import gc

from core.garbage_collection import BULK_THRESHOLDS, fewer_collections


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
