"""Throttles for the public forms (the privacy center's magic link, request form, unsubscribe): counted per
client address and per identifier (an email), with the ``limits`` library's sliding-window counter.

Counts live in Redis when PROVENANT_THROTTLE_STORAGE_URI (by default the Celery broker) is a Redis URL, so every
web process shares them; in memory otherwise (``make run`` without Redis). An identifier is counted under a
keyed hash (``core.crypto.blind_index``), never in clear: the store holds no email address.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from django.conf import settings
from django.http import HttpRequest
from limits import RateLimitItem, WindowStats, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from redis import Redis
from redis.exceptions import NoScriptError

from core.crypto import blind_index
from core.rate_batches import forget_every_tally

_IDENTIFIER_NAMESPACE = "throttle-identifier"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Throttle:
    """A named throttle: at most ``per_address`` from one client address and ``per_identifier`` for one
    identifier (both in the ``limits`` notation: "10/hour", "5 per 15 minutes")."""

    name: str
    per_address: str
    per_identifier: str = ""


class ThreadSafeMemoryStorage(MemoryStorage):
    """limits' in-process storage, its writes serialised by one lock. Its expiry timer is restarted without a
    lock, so two threads of one gunicorn worker could start the same timer twice (RuntimeError: a 500;
    alisaifee/limits#352, not in 5.8.0, the newest release). Redis, the production store, is untouched."""

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self.guard = threading.RLock()

    def incr(self, *args: Any, **kwargs: Any) -> int:
        with self.guard:
            return super().incr(*args, **kwargs)

    def decr(self, *args: Any, **kwargs: Any) -> int:
        with self.guard:
            return super().decr(*args, **kwargs)

    def acquire_entry(self, *args: Any, **kwargs: Any) -> bool:
        with self.guard:
            return super().acquire_entry(*args, **kwargs)

    def acquire_sliding_window_entry(self, *args: Any, **kwargs: Any) -> bool:
        with self.guard:
            return super().acquire_sliding_window_entry(*args, **kwargs)


class OneRoundTripRedisStorage(RedisStorage):
    """limits' Redis storage that can count a sliding-window hit and read the window it leaves in one round trip
    instead of two (``hit_and_window_stats``): the library's own two scripts (take an entry, then read the window)
    go to Redis in one pipeline, and the window read answers the ``get_window_stats`` that follows, so the
    arithmetic stays the library's. Every API request counts itself this way (``core.rate_limits``): the second
    round trip was a fixed cost of each one (issue #16). Outside that call it behaves as the library's storage.

    The pipeline calls the scripts by their SHA-1; a Redis that has not loaded them yet (just started, or
    flushed) answers NOSCRIPT: when that is the counting script, nothing was counted and the hit goes the library's
    way; when only the window's, the count stands and the window is read the library's way. Each loads its script.
    Written against limits 5.8 (its key names and scripts; ``pyproject.toml`` holds it below 6), and checked by
    ``tests/core/test_rate_limit_round_trips.py`` against what the installed library reads back."""

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri, **options)
        self.pending = threading.local()  # this thread's call of hit_and_window_stats, while it runs

    def hit_and_window_stats(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> tuple[bool, WindowStats]:
        limiter = SlidingWindowCounterRateLimiter(self)
        self.pending.window = self.pending.key = None
        self.pending.active = True
        try:
            allowed = limiter.hit(item, *identifiers, cost=cost)
            return allowed, limiter.get_window_stats(item, *identifiers)
        finally:
            self.pending.active = False
            self.pending.window = self.pending.key = None

    def acquire_sliding_window_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if not getattr(self.pending, "active", False):
            return super().acquire_sliding_window_entry(key, limit, expiry, amount)
        previous_key = self.prefixed_key(self._previous_window_key(key))
        current_key = self.prefixed_key(self._current_window_key(key))
        pipeline = cast(Redis, self.get_connection()).pipeline(transaction=False)
        pipeline.evalsha(self.lua_acquire_sliding_window.sha, 2, previous_key, current_key, limit, expiry, amount)
        pipeline.evalsha(self.lua_sliding_window.sha, 2, previous_key, current_key, expiry)
        # Not a transaction: Redis runs both even when one fails, so each answer is looked at on its own.
        acquired, window = pipeline.execute(raise_on_error=False)
        if isinstance(acquired, NoScriptError):  # nothing was counted: the library's way loads the script
            return super().acquire_sliding_window_entry(key, limit, expiry, amount)
        if isinstance(acquired, Exception):
            raise acquired
        if not isinstance(window, Exception):  # else the window is read the library's way, which loads its script
            self.pending.key, self.pending.window = (key, expiry), window
        return bool(acquired)

    def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        window = getattr(self.pending, "window", None)
        if not getattr(self.pending, "active", False) or window is None or self.pending.key != (key, expiry):
            return super().get_sliding_window(key, expiry)
        self.pending.window = None
        if not window:
            return 0, 0.0, 0, 0.0
        # As RedisStorage.get_sliding_window reads its script's answer (counts; TTLs in ms -> seconds).
        return (
            int(window[0] or 0),
            max(0, float(window[1] or 0)) / 1000,
            int(window[2] or 0),
            max(0, float(window[3] or 0)) / 1000,
        )


def hit_and_window_stats(item: RateLimitItem, *identifiers: str, cost: int = 1) -> tuple[bool, WindowStats]:
    """Count a hit of ``cost`` requests of ``item`` for ``identifiers`` with the sliding-window counter (all of them
    or, when they do not fit, none) and say where it leaves the window (one Redis round trip; two calls of the
    library on other stores). Raises limits' StorageError when the store is unreachable."""
    storage = throttle_storage()
    if isinstance(storage, OneRoundTripRedisStorage):
        return storage.hit_and_window_stats(item, *identifiers, cost=cost)
    limiter = SlidingWindowCounterRateLimiter(storage)
    return limiter.hit(item, *identifiers, cost=cost), limiter.get_window_stats(item, *identifiers)


@lru_cache(maxsize=4)
def _storage(uri: str, prefix: str) -> Storage:
    options: dict[str, str | bool] = {"wrap_exceptions": True}  # an unreachable store raises limits' StorageError
    if uri.startswith(("redis://", "rediss://")):
        options["key_prefix"] = prefix
    if uri.startswith("memory://"):
        return ThreadSafeMemoryStorage(uri, wrap_exceptions=True)
    if uri.startswith(("redis://", "rediss://")):
        return OneRoundTripRedisStorage(uri, **options)
    storage = storage_from_string(uri, **options)
    if not isinstance(storage, Storage):
        raise TypeError(f"PROVENANT_THROTTLE_STORAGE_URI names an async storage: {uri.split(':', 1)[0]}")
    return storage


def throttle_storage() -> Storage:
    return _storage(settings.PROVENANT_THROTTLE_STORAGE_URI, settings.PROVENANT_THROTTLE_KEY_PREFIX)


def _limiter() -> SlidingWindowCounterRateLimiter:
    return SlidingWindowCounterRateLimiter(throttle_storage())


@lru_cache(maxsize=64)
def _rate(notation: str) -> RateLimitItem:
    return parse(notation)


@lru_cache(maxsize=8)
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The address the request came from: REMOTE_ADDR, unless REMOTE_ADDR is one of PROVENANT_TRUSTED_PROXIES;
    then the right-most X-Forwarded-For entry that is not a trusted proxy (entries left of it are whatever the
    client wrote, so they are never believed). Without trusted proxies X-Forwarded-For is ignored."""
    remote = str(request.META.get("REMOTE_ADDR") or "unknown")
    networks = _trusted_networks(tuple(settings.PROVENANT_TRUSTED_PROXIES))
    if not networks or not _is_trusted(remote, networks):
        return remote
    forwarded = [entry.strip() for entry in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    for entry in reversed([entry for entry in forwarded if entry]):
        if not _is_trusted(entry, networks):
            try:
                return str(ipaddress.ip_address(entry))
            except ValueError:
                return remote  # garbage from the client side of the proxy: count it against the proxy
    return remote


def identifier_key(identifier: str) -> str:
    return blind_index(identifier.strip().lower(), namespace=_IDENTIFIER_NAMESPACE)


def throttle_allows(request: HttpRequest, throttle: Throttle, *, identifier: str | None = None) -> bool:
    """Count one attempt and say whether it is within both limits. Every attempt counts, also a refused one,
    so hammering keeps the door shut."""
    limiter = _limiter()
    try:
        return _throttle_hits(limiter, request, throttle, identifier)
    except StorageError:
        # The forms keep working while Redis is down (issue #15: intake succeeds without it), unthrottled.
        logger.warning("throttle storage unreachable: %s allowed without counting", throttle.name)
        return True


def _throttle_hits(
    limiter: SlidingWindowCounterRateLimiter, request: HttpRequest, throttle: Throttle, identifier: str | None
) -> bool:
    allowed = limiter.hit(_rate(throttle.per_address), throttle.name, "address", client_address(request))
    if throttle.per_identifier and identifier:
        allowed = (
            limiter.hit(_rate(throttle.per_identifier), throttle.name, "identifier", identifier_key(identifier))
            and allowed
        )
    return allowed


def throttle_reset() -> None:
    """Forget every count (tests; an operator after an incident), and the ones this process holds; a web process
    holding some sends them later (at most ``PROVENANT_API_RATE_COUNT_BATCH - 1`` a key)."""
    throttle_storage().reset()
    forget_every_tally()
