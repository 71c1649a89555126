"""Writes for tenancy and API access. Each change writes its audit row in the same transaction."""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.enums import AuditAction
from core.models import ApiKey, AuditLogEntry, Organization
from core.problems import Conflict, InvalidInput
from core.scopes import unknown_scopes
from core.selectors import api_key_digest
from core.signals import organization_created

API_KEY_PREFIX = "pvn"
LAST_USED_RESOLUTION_SECONDS = 60.0
_last_used_written: dict[int, float] = {}


def audit_log(
    *,
    actor: str,
    action: AuditAction,
    object_type: str,
    object_id: str | int,
    organization: Organization | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        organization=organization,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        data=data or {},
    )


def organization_create(*, slug: str, name: str, actor: str) -> Organization:
    """Create an organization. The apps provision what it needs from the start (its signing key) on
    ``core.signals.organization_created``, in the same transaction; built-in sources come lazily."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                organization = Organization.objects.create(slug=slug, name=name)
        except IntegrityError as exc:
            raise Conflict(f"An organization with slug '{slug}' already exists.", slug=slug) from exc
        audit_log(
            actor=actor,
            action=AuditAction.ORGANIZATION_CREATED,
            object_type="organization",
            object_id=organization.pk,
            organization=organization,
            data={"slug": slug},
        )
        organization_created.send(sender=Organization, organization=organization, actor=actor)
    return organization


def api_key_create(
    *, organization: Organization, name: str, scopes: list[str], actor: str, created_by: Any = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret. The secret is never stored and never shown again."""
    unknown = unknown_scopes(scopes)
    if unknown:
        raise InvalidInput(f"Unknown scopes: {', '.join(unknown)}.", unknown_scopes=unknown)
    if not scopes:
        raise InvalidInput("An API key needs at least one scope.")
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            organization=organization,
            name=name,
            prefix=prefix,
            digest=api_key_digest(secret),
            scopes=sorted(set(scopes)),
            created_by=created_by,
        )
        audit_log(
            actor=actor,
            action=AuditAction.API_KEY_CREATED,
            object_type="api_key",
            object_id=api_key.pk,
            organization=organization,
            data={"prefix": prefix, "scopes": api_key.scopes, "name": name},
        )
    return api_key, secret


def api_key_revoke(*, api_key: ApiKey, actor: str) -> ApiKey:
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            audit_log(
                actor=actor,
                action=AuditAction.API_KEY_REVOKED,
                object_type="api_key",
                object_id=api_key.pk,
                organization=api_key.organization,
                data={"prefix": api_key.prefix},
            )
    api_key.refresh_from_db()
    return api_key


def api_key_mark_used(*, api_key: ApiKey) -> None:
    """Record last use at most once a minute per key and process, keeping auth off the write path."""
    now = time.monotonic()
    if now - _last_used_written.get(api_key.pk, -LAST_USED_RESOLUTION_SECONDS) < LAST_USED_RESOLUTION_SECONDS:
        return
    _last_used_written[api_key.pk] = now
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
