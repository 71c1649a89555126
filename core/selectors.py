"""Reads for tenancy and API access."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from core.db import select_rows
from core.models import ApiKey, AuditLogEntry, Organization, PrivacyCenterBranding, StaffOrganizationScope


def api_key_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_KEY_FIELDS = (
    "id",
    "organization_id",
    "name",
    "prefix",
    "digest",
    "scopes",
    "created_at",
    "created_by_id",
    "last_used_at",
    "revoked_at",
    "rate_limit_per_minute",
)
_ORGANIZATION_FIELDS = ("id", "slug", "name", "created_at", "catalog_version")


def api_key_for_secret(secret: str) -> ApiKey | None:
    """The active key whose digest matches ``secret``, organization joined: one indexed query.

    Written in SQL because it runs on every API request and the ORM's query compilation costs
    more than the query."""
    if len(secret) > 200:
        return None
    key_table, org_table = ApiKey._meta.db_table, Organization._meta.db_table
    columns = [f"k.{c}" for c in _KEY_FIELDS] + [f"o.{c}" for c in _ORGANIZATION_FIELDS]
    rows = select_rows(
        f"SELECT {', '.join(columns)} FROM {key_table} k JOIN {org_table} o ON o.id = k.organization_id "  # noqa: S608
        "WHERE k.digest = %s AND k.revoked_at IS NULL",
        [api_key_digest(secret)],
        [ApiKey._meta.get_field(f) for f in _KEY_FIELDS]
        + [Organization._meta.get_field(f) for f in _ORGANIZATION_FIELDS],
    )
    if not rows:
        return None
    key_values, org_values = rows[0][: len(_KEY_FIELDS)], rows[0][len(_KEY_FIELDS) :]
    api_key = ApiKey.from_db(connection.alias, _KEY_FIELDS, key_values)
    api_key.organization = Organization.from_db(connection.alias, _ORGANIZATION_FIELDS, org_values)
    return api_key


def organization_by_slug(slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


def privacy_center_branding(organization: Organization) -> PrivacyCenterBranding:
    """The organization's branding, or the defaults (an unsaved row) when it has none."""
    branding = PrivacyCenterBranding.objects.filter(organization=organization).first()
    return branding if branding is not None else PrivacyCenterBranding(organization=organization)


def organization_by_custom_host(host: str) -> Organization | None:
    """The organization whose privacy center answers on ``host`` (already normalized), if any."""
    if not host:
        return None
    branding = PrivacyCenterBranding.objects.select_related("organization").filter(custom_host=host).first()
    return None if branding is None else branding.organization


def privacy_center_base_url(organization: Organization) -> str:
    """Where links to the organization's privacy center point (in emails, in unsubscribe headers): its own host
    over https when it has one, PROVENANT_PUBLIC_BASE_URL otherwise. Never the Host header of a request, so a
    forged header can't redirect a link somewhere else."""
    host = PrivacyCenterBranding.objects.filter(organization=organization).values_list("custom_host", flat=True).first()
    if host:
        return f"https://{host}"
    return str(settings.PROVENANT_PUBLIC_BASE_URL).rstrip("/")


def audit_entries_for_object(*, object_type: str, object_id: str) -> list[AuditLogEntry]:
    return list(AuditLogEntry.objects.filter(object_type=object_type, object_id=object_id))


def staff_organization_ids(user: Any) -> frozenset[int] | None:
    """The ids of the organizations ``user`` may see in the admin, or None for all of them (superusers,
    and staff without a scope). Cached on the user object for the request."""
    cached: frozenset[int] | bool | None = getattr(user, "_provenant_organization_ids", False)
    if cached is None or isinstance(cached, frozenset):
        return cached
    ids: frozenset[int] | None
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_superuser", False):
        ids = None if getattr(user, "is_superuser", False) else frozenset()
    else:
        scope = StaffOrganizationScope.objects.filter(user_id=user.pk).first()
        ids = None if scope is None else frozenset(scope.organizations.values_list("id", flat=True))
    user._provenant_organization_ids = ids
    return ids


def organizations_visible_to(user: Any) -> QuerySet[Organization]:
    ids = staff_organization_ids(user)
    organizations = Organization.objects.all()
    return organizations if ids is None else organizations.filter(id__in=ids)


def audit_log_list(
    *,
    organization: Organization,
    action: str | None = None,
    object_type: str | None = None,
    since: Any = None,
) -> QuerySet[AuditLogEntry]:
    """The organization's audit log (issue #17, for auditors): who did what to which object; never PII."""
    entries = AuditLogEntry.objects.filter(organization=organization)
    if action is not None:
        entries = entries.filter(action=action)
    if object_type is not None:
        entries = entries.filter(object_type=object_type)
    if since is not None:
        entries = entries.filter(occurred_at__gte=since)
    return entries
