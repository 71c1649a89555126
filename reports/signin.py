"""Sign-in throttling for client users: after too many failed attempts for one user name from one address,
sign-in is refused for a while, even with the right password (no feedback to a password-guesser).

Counts live in Django's cache (per process unless a shared cache is configured), keyed by a digest of the
lower-cased user name and the client address, never by the name itself.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


def _key(request: HttpRequest, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "")
    digest = hashlib.sha256(f"{username.strip().lower()}\x00{address}".encode()).hexdigest()
    return f"reports:signin-failures:{digest}"


def signin_is_locked(request: HttpRequest, username: str) -> bool:
    return int(cache.get(_key(request, username), 0)) >= MAX_FAILURES


def signin_failed(request: HttpRequest, username: str) -> None:
    key = _key(request, username)
    if cache.add(key, 1, WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, WINDOW_SECONDS)


def signin_succeeded(request: HttpRequest, username: str) -> None:
    cache.delete(_key(request, username))
