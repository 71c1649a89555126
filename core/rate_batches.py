"""Batched counting of a busy budget: a process counts some of a key's requests itself and sends them to the shared
store (Redis) several at a time, instead of one round trip per request (issue #16: the round trip and redis-py's
work were a tenth of a state read's cost).

A request is counted here, without the store, only while all of these hold for its budget in this process:
- the budget is large enough to batch (``batch_size``: at least 400 a minute; smaller budgets are counted one by
  one, exactly as before);
- fewer than ``batch_size - 1`` requests are waiting to be sent, and the last answer from the store is less than
  PROVENANT_API_RATE_COUNT_FLUSH_SECONDS old;
- what the store said was left, less what waits here, stays above a quarter of the budget (``margin``).
Otherwise the request goes to the store with every request waiting here (one hit of that cost) and the store's
answer decides. So the last quarter of a budget, as this process last saw it, is counted request by request, and a
refusal is always the store's. A process holds at most ``batch - 1`` served requests the store has not seen yet, so
with P processes a budget can be overrun by at most P x (batch - 1) requests (a batch is at most 1/200 of the
budget: half a percent of it per process). Waiting requests are sent late, never dropped, unless the store refuses
them because the budget is spent already; those of a key that goes quiet in a process are sent with its next
request there.

The remaining count a batched answer reports is the store's last, less what waits here: exact for one process,
at most what is left with several (each sees only its own waiting requests).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

BATCH_SHARE = 200  # a batch is at most 1/200 of the budget
MARGIN_SHARE = 4  # the last quarter of a budget is counted one request at a time
MAX_TALLIES = 10_000  # budgets followed per process (the least recently used is sent and forgotten beyond)


@dataclass
class StoreAnswer:
    """What the shared store said of a hit: allowed or not, what is left and when the budget is full again."""

    allowed: bool
    remaining: int
    reset_at: float


Budget = tuple[str, str, int]  # (bucket, identity, requests a minute)
CountInStore = Callable[[Budget, int], StoreAnswer]  # count this many requests of a budget in the store (one hit)


@dataclass
class _Tally:
    """One budget in this process: the store's last answer and the requests served since, not yet sent."""

    remaining: int
    reset_at: float
    answered_at: float  # time.monotonic() of the store's answer
    waiting: int = 0


def batch_size(per_minute: int) -> int:
    """How many requests of a budget of ``per_minute`` may go to the store in one hit (1: each on its own)."""
    return max(1, min(int(settings.PROVENANT_API_RATE_COUNT_BATCH), per_minute // BATCH_SHARE))


def margin(per_minute: int) -> int:
    return per_minute // MARGIN_SHARE


_EVERY: weakref.WeakSet[BatchedCounts] = weakref.WeakSet()


def forget_every_tally() -> None:
    """Drop every process-local tally (``core.throttling.throttle_reset``: the store's counts are gone too)."""
    for counts in list(_EVERY):
        counts.forget()


class BatchedCounts:
    """This process's tallies, shared by its threads; ``count_in_store`` counts in the shared store."""

    def __init__(self, count_in_store: CountInStore) -> None:
        self.count_in_store = count_in_store
        self.lock = threading.Lock()
        self.tallies: OrderedDict[Budget, _Tally] = OrderedDict()
        _EVERY.add(self)

    def hit(self, budget: Budget) -> StoreAnswer:
        """Count one request of ``budget``: here, or in the store with every request waiting here for it."""
        per_minute = budget[2]
        batch = batch_size(per_minute)
        if batch == 1:
            return self.count_in_store(budget, 1)
        waiting = 0
        with self.lock:
            tally = self.tallies.get(budget)
            if tally is not None:
                self.tallies.move_to_end(budget)
                fresh = time.monotonic() - tally.answered_at < float(settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS)
                left = tally.remaining - tally.waiting - 1
                if fresh and tally.waiting + 1 < batch and left > margin(per_minute):
                    tally.waiting += 1
                    return StoreAnswer(allowed=True, remaining=left, reset_at=tally.reset_at)
                waiting, tally.waiting = tally.waiting, 0
        answer = self._send(budget, waiting)
        evicted: tuple[Budget, _Tally] | None = None
        with self.lock:
            tally = self.tallies.get(budget)
            if tally is None:
                tally = self.tallies[budget] = _Tally(answer.remaining, answer.reset_at, time.monotonic())
                if len(self.tallies) > MAX_TALLIES:
                    evicted = self.tallies.popitem(last=False)
            else:  # requests served by other threads while this one was at the store still wait
                tally.remaining, tally.reset_at, tally.answered_at = answer.remaining, answer.reset_at, time.monotonic()
            remaining = max(0, answer.remaining - tally.waiting)
        if evicted is not None and evicted[1].waiting:
            self.count_in_store(evicted[0], evicted[1].waiting)
        return StoreAnswer(answer.allowed, remaining, answer.reset_at)

    def _send(self, budget: Budget, waiting: int) -> StoreAnswer:
        """This request with the ``waiting`` ones served before it. A batch the budget cannot take is refused whole
        by the store (nothing counted): the ones already served are then counted on their own, and this request
        alone decides."""
        answer = self.count_in_store(budget, waiting + 1)
        if answer.allowed or waiting == 0:
            return answer
        self.count_in_store(budget, waiting)  # served already; refused only when the budget is spent anyway
        return self.count_in_store(budget, 1)

    def forget(self) -> None:
        """Drop every tally, waiting requests included (tests; after the store was reset)."""
        with self.lock:
            self.tallies.clear()
