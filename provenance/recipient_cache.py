"""An organization's recipients with the purpose keys each receives, cached per process.

Recipient changes bump the organization's catalog version (consent.catalog.catalog_changed), which
every authenticated request reads fresh, so a cached entry is only reused while it is current."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from core.models import Organization
from provenance.models import Recipient

_MAX_ORGANIZATIONS = 1024


@dataclass(frozen=True)
class RecipientDirectory:
    version: int
    recipients: dict[str, Recipient]
    purposes: dict[int, frozenset[str]]  # recipient pk -> purpose keys it receives


_cache: dict[int, RecipientDirectory] = {}
_lock = threading.Lock()


def recipient_directory(organization: Organization, *, keys: set[str] | None = None) -> RecipientDirectory:
    cached = _cache.get(organization.pk)
    if (
        cached is not None
        and cached.version == organization.catalog_version
        and (keys is None or keys <= set(cached.recipients))
    ):
        return cached
    recipients = {
        r.key: r
        for r in Recipient.objects.filter(organization=organization, is_active=True).prefetch_related("purposes")
    }
    directory = RecipientDirectory(
        organization.catalog_version,
        recipients,
        {r.pk: frozenset(p.key for p in r.purposes.all()) for r in recipients.values()},
    )
    with _lock:
        if len(_cache) >= _MAX_ORGANIZATIONS:
            _cache.clear()
        _cache[organization.pk] = directory
    return directory


def forget(organization: Organization) -> None:
    _cache.pop(organization.pk, None)
