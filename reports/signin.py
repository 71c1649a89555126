"""Sign-in throttling for client users: after too many failed attempts for one user name from one address,
sign-in is refused for a while, even with the right password (no feedback to a password-guesser).

Counts live in Django's cache, Redis in production (CACHE_URL or REDIS_URL), so every process shares them; keyed by
a digest of the lower-cased user name and the client address (``core.throttling.client_address``: behind a
trusted proxy, the forwarded address), never by the name itself. Keyed by both, so one address cannot lock
everyone out and one name is not locked for every address.

With the cache unreachable the counter fails safe: failures are counted in this process alone
(``core.signin_fallback``) with the same limit and window, so a guesser is still locked out while a sign-in under
the limit goes through; the outage is logged and counted (``core.rate_limits.signin_counts_unavailable``).
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core.rate_limits import CACHE_UNAVAILABLE_ERRORS, signin_counts_unavailable
from core.signin_fallback import LOCAL_SIGNIN_FAILURES
from core.throttling import client_address

SIGNIN = "client"


def _window_seconds() -> int:
    return int(settings.PROVENANT_CLIENT_LOGIN_LOCKOUT_MINUTES) * 60


def _key(request: HttpRequest, username: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\x00{client_address(request)}".encode()).hexdigest()
    return f"reports:signin-failures:{digest}"


def signin_is_locked(request: HttpRequest, username: str) -> bool:
    key = _key(request, username)
    # Counts made in this process while the cache was down keep their lockout until their window ends.
    failures = LOCAL_SIGNIN_FAILURES.failures([key])
    try:
        failures = max(failures, int(cache.get(key, 0)))
    except CACHE_UNAVAILABLE_ERRORS:
        signin_counts_unavailable(SIGNIN)
    return failures >= int(settings.PROVENANT_CLIENT_LOGIN_FAILURE_LIMIT)


def signin_retry_after(request: HttpRequest, username: str) -> int:
    """Seconds until a locked name may sign in again from this address (the window opened at the first failure)."""
    key = _key(request, username)
    try:
        started = cache.get(key + ":since")
    except CACHE_UNAVAILABLE_ERRORS:
        signin_counts_unavailable(SIGNIN)
        started = None
    if not isinstance(started, int | float):
        local = LOCAL_SIGNIN_FAILURES.seconds_left(key)
        return max(1, math.ceil(local)) if local is not None else _window_seconds()
    return max(1, math.ceil(started + _window_seconds() - time.time()))


def signin_failed(request: HttpRequest, username: str) -> None:
    key = _key(request, username)
    try:
        _count_failure(key, _window_seconds())
    except CACHE_UNAVAILABLE_ERRORS:
        signin_counts_unavailable(SIGNIN)
        LOCAL_SIGNIN_FAILURES.record_failure(key, _window_seconds(), extend_window=False)


def _count_failure(key: str, window: int) -> None:
    if cache.add(key, 1, window):
        cache.set(key + ":since", time.time(), window)
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window)
        cache.set(key + ":since", time.time(), window)


def signin_succeeded(request: HttpRequest, username: str) -> None:
    key = _key(request, username)
    LOCAL_SIGNIN_FAILURES.forget([key])
    try:
        cache.delete_many([key, key + ":since"])
    except CACHE_UNAVAILABLE_ERRORS:
        signin_counts_unavailable(SIGNIN)
