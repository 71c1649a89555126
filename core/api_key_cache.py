"""API keys cached per process for a short time (issue #16): authentication without a query per request.

A key found by its secret's digest is reused for ``PROVENANT_API_KEY_CACHE_SECONDS`` (default 5) with its
organization row. That is the bound on revocation: a key revoked in another process stops working there
within that many seconds; in the process that revoked it, at once (``forget``). Unknown or revoked keys are
never cached (every request with one asks the database), so a new key works at once. The organization row
rides along: a catalog change reaches writers through ``consent.services.chain_locks``, which reads the
organization's catalog version with the subjects it locks; other fields (name, slug) may lag by the TTL.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from core.models import ApiKey

_MAX_ENTRIES = 4096
_entries: dict[str, tuple[float, ApiKey]] = {}
_lock = threading.Lock()


def cached(digest: str) -> ApiKey | None:
    entry = _entries.get(digest)
    if entry is None:
        return None
    expires, api_key = entry
    if time.monotonic() >= expires:
        _entries.pop(digest, None)
        return None
    return api_key


def remember(api_key: ApiKey) -> None:
    ttl = float(settings.PROVENANT_API_KEY_CACHE_SECONDS)
    if ttl <= 0:
        return
    with _lock:
        if len(_entries) >= _MAX_ENTRIES:
            _entries.clear()
        _entries[api_key.digest] = (time.monotonic() + ttl, api_key)


def forget(digest: str) -> None:
    """Drop a key from this process's cache (its revocation here is honoured at once)."""
    with _lock:
        _entries.pop(digest, None)


def clear() -> None:
    with _lock:
        _entries.clear()
