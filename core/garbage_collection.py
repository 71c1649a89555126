"""Python's cyclic garbage collector during bulk work (issue #17).

A batch of a thousand events allocates hundreds of thousands of short-lived objects. With the default thresholds
(a young collection every 700 net allocations, a full one every 100 young ones) the collector ran thousands of times
per batch, and each full pass walked every object alive in the process: Django, the models, the catalog, the batch in
hand. Profiled on an import, that was a fifth of the process's CPU, charged to whatever line allocated when it ran.

:func:`fewer_collections` moves what is alive when it starts out of the collector's sight (``gc.freeze``: it lives
as long as the process anyway) and collects the young generation every 50,000 allocations instead. Cycles are still
collected, only in larger, rarer passes; memory grows by the garbage of one pass at most (a few MB). Both are process
settings: the previous thresholds come back, and the frozen objects return to the collector, when it ends."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLDS = (50_000, 20, 100)

_lock = threading.Lock()
_depth = 0  # bulk works running in this process (threads of one worker may each run one)
_restore: tuple[tuple[int, int, int], bool] = ((700, 10, 10), False)  # thresholds, and whether to unfreeze


@contextmanager
def fewer_collections() -> Iterator[None]:
    """The process's settings change when the first bulk work starts and come back when the last one ends; a
    freeze made by someone else (a server that froze its start-up objects) is left as it was."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            _restore = (gc.get_threshold(), gc.get_freeze_count() == 0)
            gc.freeze()
            gc.set_threshold(*BULK_THRESHOLDS)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                thresholds, unfreeze = _restore
                gc.set_threshold(*thresholds)
                if unfreeze:
                    gc.unfreeze()


def freeze_after_start_up() -> None:
    """For a server process once it has loaded the application (a gunicorn worker, a Celery worker process): what is
    alive then (Django, the URL patterns and views, settings, the catalog cache's class) lives as long as the process,
    so the collector's full passes stop walking it (``gc.freeze``, after one collection so start-up garbage is not
    kept). Each request's short-lived objects are collected as before."""
    gc.collect()
    gc.freeze()
