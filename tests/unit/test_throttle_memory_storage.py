"""The in-process rate-limit store (``make run`` without Redis) under one worker's threads: every hit counted,
none raising (limits' own MemoryStorage can start its expiry timer twice: a 500 under gunicorn threads)."""

from __future__ import annotations

import threading
import time

from limits import RateLimitItemPerMinute
from limits.strategies import SlidingWindowCounterRateLimiter

from core.throttling import ThreadSafeMemoryStorage

THREADS = 8
HITS_EACH = 60


def test_threads_hitting_one_budget_are_all_counted_and_none_raises() -> None:
    limiter = SlidingWindowCounterRateLimiter(ThreadSafeMemoryStorage("memory://", wrap_exceptions=True))
    budget = RateLimitItemPerMinute(THREADS * HITS_EACH + 1)
    errors: list[BaseException] = []
    rounds = threading.Barrier(THREADS)

    def hit_many() -> None:
        try:
            for _ in range(HITS_EACH):
                # All threads hit at once just after the store's expiry timer (10 ms) has run out: the moment
                # two of them would restart it.
                rounds.wait()
                assert limiter.hit(budget, "rate", "api", "key")
                time.sleep(0.012)
        except BaseException as error:  # collected, asserted below
            errors.append(error)

    threads = [threading.Thread(target=hit_many) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    remaining = limiter.get_window_stats(budget, "rate", "api", "key").remaining
    assert remaining == 1  # every one of the THREADS * HITS_EACH hits was counted
