"""Batched counting of a busy budget: a process counts some of a key's requests itself and sends them to the shared
store (Redis) several at a time, instead of one round trip per request (issue #16: the round trip and redis-py's
work were a tenth of a state read's cost).

Only the per-key API budget is batched (``core.rate_limits``; never the per-address ones, whose identities a client
chooses). A request is counted here, without the store, only while all of these hold for its budget in this
process:
- the budget is large enough to batch (``batch_size``: at least 400 a minute; smaller ones are counted one by one,
  exactly as before);
- fewer than ``batch_size - 1`` requests wait here, fewer than ``2 x (batch_size - 1)`` served here have not reached
  the store yet (waiting, or in a batch on its way), and the store's last answer is less than
  PROVENANT_API_RATE_COUNT_FLUSH_SECONDS old;
- what the store said was left, less those, stays above a quarter of the budget (``margin``).
Otherwise the request goes to the store with every request waiting here (one hit of that cost) and the store's
answer decides. So the last quarter of a budget, as this process last saw it, is counted request by request, and a
refusal is always the store's.

Bounds. A process has at most 2 x (batch - 1) served requests the store has not seen, whatever its threads do, so
with P processes a budget is overrun by at most 2P x (batch - 1) requests (a batch is at most 1/200 of the budget:
one percent of it a process). The store takes a hit whole or not at all: when a batch does not fit, its served
requests are counted as far as the budget still takes them and the rest is that overrun. Waiting requests are sent
with the key's next request in the process, or when the worker stops (``flush_every_tally``: gunicorn's
``worker_exit``); with Redis unreachable they wait for a later request. They are lost only when a worker dies
without stopping, when Redis is down at its exit, or after two minutes without a request of that key in the process
(by then they would no longer weigh in the sliding window).

The remaining count a batched answer reports is the store's last less what this process has served unseen: exact
for one process, an upper bound with several (each sees only its own).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from limits.errors import StorageError

BATCH_SHARE = 200  # a batch is at most 1/200 of the budget
MARGIN_SHARE = 4  # the last quarter of a budget is counted one request at a time
MAX_TALLIES = 10_000  # budgets followed per process (the least recently used is sent and forgotten beyond)
# A request weighs in a sliding-window budget for two windows at most: one served longer ago no longer counts.
FORGET_AFTER_SECONDS = 121.0
logger = logging.getLogger(__name__)


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
    """One budget in this process: the store's last answer, and the requests served since that it has not seen."""

    remaining: int
    reset_in: float  # seconds from the store's answer to the budget's reset
    answered_at: float  # time.monotonic() of that answer (-inf: none yet)
    waiting: int = 0  # served here, not sent yet
    in_flight: int = 0  # on their way to the store (waiting ones sent with a request whose answer is awaited)
    sent: int = 0  # sends so far; an answer is taken only when it is newer than the one held
    applied: int = 0


def batch_size(per_minute: int) -> int:
    """How many requests of a budget of ``per_minute`` may go to the store in one hit (1: each on its own)."""
    return max(1, min(int(settings.PROVENANT_API_RATE_COUNT_BATCH), per_minute // BATCH_SHARE))


def margin(per_minute: int) -> int:
    return per_minute // MARGIN_SHARE


_EVERY: weakref.WeakSet[BatchedCounts] = weakref.WeakSet()


def forget_every_tally() -> None:
    """Drop this process's tallies, waiting requests included (``core.throttling.throttle_reset``: the store's counts
    are gone too). Other processes keep theirs."""
    for counts in list(_EVERY):
        counts.forget()


def flush_every_tally() -> None:
    """Send every request waiting in this process to the store (a gunicorn worker on its way out)."""
    for counts in list(_EVERY):
        counts.flush()


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
        evicted: tuple[Budget, _Tally] | None = None
        with self.lock:
            now = time.monotonic()
            tally = self.tallies.get(budget)
            if tally is None:
                tally = self.tallies[budget] = _Tally(remaining=0, reset_in=0.0, answered_at=-math.inf)
                if len(self.tallies) > MAX_TALLIES:
                    evicted = self.tallies.popitem(last=False)
            else:
                self.tallies.move_to_end(budget)
            if now - tally.answered_at > FORGET_AFTER_SECONDS:
                tally.waiting = 0  # served so long ago that they no longer weigh in the budget
            unseen = tally.waiting + tally.in_flight
            left = tally.remaining - unseen - 1
            fresh = now - tally.answered_at < float(settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS)
            # Up to batch - 1 wait while an earlier batch is on its way: threads go on counting here meanwhile.
            if fresh and tally.waiting + 1 < batch and unseen + 1 < 2 * batch and left > margin(per_minute):
                tally.waiting += 1
                return StoreAnswer(allowed=True, remaining=left, reset_at=time.time() + tally.reset_in)
            waiting, tally.waiting = tally.waiting, 0
            tally.in_flight += waiting + 1
            tally.sent += 1
            generation = tally.sent
        if evicted is not None:
            self._send_quietly(evicted[0], evicted[1].waiting, evicted[1].answered_at)
        try:
            answer = self._send(budget, waiting)
        except BaseException:
            with self.lock:  # the store is unreachable: the waiting ones wait for a later request
                tally.in_flight -= waiting + 1
                tally.waiting += waiting
            raise
        with self.lock:
            tally.in_flight -= waiting + 1
            if generation > tally.applied:  # an answer to an earlier send, arriving late, is older news
                tally.applied = generation
                tally.remaining, tally.answered_at = answer.remaining, time.monotonic()
                tally.reset_in = max(0.0, answer.reset_at - time.time())
            remaining = max(0, answer.remaining - tally.waiting - tally.in_flight)
        return StoreAnswer(answer.allowed, remaining, answer.reset_at)

    def _send(self, budget: Budget, waiting: int) -> StoreAnswer:
        """This request with the ``waiting`` ones served before it, in one hit. The store takes a hit whole or
        refuses it whole: refused, the served ones are counted as far as the budget still takes them (the rest are
        the overrun), and this request alone decides."""
        answer = self.count_in_store(budget, waiting + 1)
        if answer.allowed or waiting == 0:
            return answer
        fits = min(waiting, answer.remaining)
        if fits:
            self.count_in_store(budget, fits)
        return self.count_in_store(budget, 1)

    def _send_quietly(self, budget: Budget, waiting: int, answered_at: float) -> None:
        """Send requests an evicted tally or a leaving process holds; lost if the store is down, or if they were
        served so long ago that they no longer weigh."""
        if not waiting or time.monotonic() - answered_at > FORGET_AFTER_SECONDS:
            return
        try:
            self.count_in_store(budget, waiting)
        except StorageError:
            logger.warning("rate-limit storage unreachable: %d served requests lost uncounted", waiting)

    def flush(self) -> None:
        """Send every request waiting in this process (a gunicorn worker on its way out: config/gunicorn.py)."""
        with self.lock:
            pending = []
            for budget, tally in self.tallies.items():
                if tally.waiting:
                    pending.append((budget, tally.waiting, tally.answered_at))
                    tally.waiting = 0
        for budget, waiting, answered_at in pending:
            self._send_quietly(budget, waiting, answered_at)

    def forget(self) -> None:
        """Drop every tally, waiting requests included (tests; after the store was reset)."""
        with self.lock:
            self.tallies.clear()
