"""Reads for tenancy and API access."""

from __future__ import annotations

import hashlib

from core.models import ApiKey, AuditLogEntry, Organization


def api_key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key whose digest matches ``secret``; one indexed query, organization joined."""
    if len(secret) > 200:
        return None
    return (
        ApiKey.objects.select_related("organization")
        .filter(digest=api_key_digest(secret), revoked_at__isnull=True)
        .first()
    )


def organization_by_slug(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def audit_entries_for_object(*, object_type: str, object_id: str) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.filter(object_type=object_type, object_id=object_id))
