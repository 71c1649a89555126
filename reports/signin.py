"""Sign-in throttling for client users: after too many failed attempts for one user name from one address,
sign-in is refused for a while, even with the right password (no feedback to a password-guesser).

Counts live in Django's cache, Redis in production (CACHE_URL or REDIS_URL), so every process shares them; keyed by
a digest of the lower-cased user name and the client address (``core.throttling.client_address``: behind a
trusted proxy, the forwarded address), never by the name itself. Keyed by both, so one address cannot lock
everyone out and one name is not locked for every address.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core.throttling import client_address


def _window_seconds() -> int:
    return int(settings.PROVENANT_CLIENT_LOGIN_LOCKOUT_MINUTES) * 60


def _key(request: HttpRequest, username: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\x00{client_address(request)}".encode()).hexdigest()
    return f"reports:signin-failures:{digest}"


def signin_is_locked(request: HttpRequest, username: str) -> bool:
    return int(cache.get(_key(request, username), 0)) >= int(settings.PROVENANT_CLIENT_LOGIN_FAILURE_LIMIT)


def signin_retry_after(request: HttpRequest, username: str) -> int:
    """Seconds until a locked name may sign in again from this address (the window opened at the first failure)."""
    started = cache.get(_key(request, username) + ":since")
    if not isinstance(started, int | float):
        return _window_seconds()
    return max(1, math.ceil(started + _window_seconds() - time.time()))


def signin_failed(request: HttpRequest, username: str) -> None:
    key = _key(request, username)
    window = _window_seconds()
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
    cache.delete_many([key, key + ":since"])
