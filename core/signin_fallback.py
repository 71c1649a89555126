"""Sign-in failure counts of this process alone, for while the shared cache (Redis) that normally holds them cannot
be read or written: the lockouts keep their limit and window, counted per process instead of across processes, so
a password-guesser is still stopped (fail safe) and a sign-in under the limit still goes through.

Bounded: at most ``max_keys`` counts (least recently used dropped first), each gone when its window ends. Keys are
the digests the shared counts use (django-axes' hashed keys, reports.signin's sha256), never a user name.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

MAX_KEYS: Final = 4096


@dataclass
class _Count:
    failures: int
    started: float  # time.monotonic() of the first failure of the window
    expires: float


class LocalFailureCounts:
    """Failure counts in this process's memory: thread-safe, at most ``max_keys`` of them (an LRU)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self.lock = threading.Lock()
        self.counts: OrderedDict[str, _Count] = OrderedDict()

    def _live(self, key: str, now: float) -> _Count | None:
        count = self.counts.get(key)
        if count is not None and count.expires <= now:
            del self.counts[key]
            return None
        return count

    def failures(self, keys: Iterable[str]) -> int:
        """The highest count among ``keys`` (0 when none is counted)."""
        now = time.monotonic()
        with self.lock:
            live = [self._live(key, now) for key in keys]
        return max((count.failures for count in live if count is not None), default=0)

    def seconds_left(self, key: str) -> float | None:
        """Seconds until ``key``'s window ends, or None when it is not counted."""
        now = time.monotonic()
        with self.lock:
            count = self._live(key, now)
        return None if count is None else count.expires - now

    def record_failure(self, key: str, window_seconds: float, *, extend_window: bool) -> int:
        """Count one failure for ``key`` and answer its count. The window opens at the first failure and lasts
        ``window_seconds``; ``extend_window``: each failure restarts it (as django-axes touches its cache key)."""
        now = time.monotonic()
        with self.lock:
            count = self._live(key, now)
            if count is None:
                count = self.counts[key] = _Count(failures=0, started=now, expires=now + window_seconds)
            count.failures += 1
            if extend_window:
                count.expires = now + window_seconds
            self.counts.move_to_end(key)
            while len(self.counts) > self.max_keys:
                self.counts.popitem(last=False)
            return count.failures

    def forget(self, keys: Iterable[str]) -> None:
        with self.lock:
            for key in keys:
                self.counts.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()

    def __len__(self) -> int:
        return len(self.counts)


class OnceAnInterval:
    """Says yes at most once every ``interval`` seconds per name: an outage is logged, not every sign-in of it."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.lock = threading.Lock()
        self.last: dict[str, float] = {}

    def is_due(self, name: str) -> bool:
        now = time.monotonic()
        with self.lock:
            last = self.last.get(name)
            if last is not None and now - last < self.interval:
                return False
            self.last[name] = now
            return True


# One for the process: the admin's and client users' sign-ins (their keys never collide: see each module).
LOCAL_SIGNIN_FAILURES: Final = LocalFailureCounts()
