"""Writes for tenancy and API access. Each change writes its audit row in the same transaction."""

from __future__ import annotations

import io
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http.request import validate_host
from django.utils import timezone
from PIL import Image

from core import api_key_cache
from core.branding import (
    DEFAULT_ACCENT,
    DEFAULT_PRIMARY,
    LOGO_MAX_BYTES,
    LOGO_MAX_PIXELS,
    LOGO_TYPES,
    contrast_ratio,
    is_hex_colour,
    is_host_name,
    meets_aa_on_white,
    normalize_host,
)
from core.db import insert_instance
from core.enums import AuditAction
from core.models import ApiKey, AuditLogEntry, Organization, PrivacyCenterBranding
from core.problems import Conflict, InvalidInput
from core.scopes import unknown_scopes
from core.selectors import api_key_digest
from core.signals import organization_created

API_KEY_PREFIX = "pvn"
LAST_USED_RESOLUTION_SECONDS = 60.0
_last_used_written: dict[int, float] = {}


def audit_entry(
    *,
    actor: str,
    action: AuditAction,
    object_type: str,
    object_id: str | int,
    organization: Organization | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """An audit-log entry not written yet: for a step that writes its entries with its other rows in one round
    trip (``core.db.instances_insert_statements``); ``audit_log`` writes one at once."""
    return AuditLogEntry(
        organization=organization,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        data=data or {},
    )


def audit_log(
    *,
    actor: str,
    action: AuditAction,
    object_type: str,
    object_id: str | int,
    organization: Organization | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLogEntry:
    entry = audit_entry(
        actor=actor, action=action, object_type=object_type, object_id=object_id, organization=organization, data=data
    )
    return insert_instance(entry)  # the INSERT compiled once: every audited action writes one


def has_control_characters(text: str) -> bool:
    """Line breaks, tabs and the other control or format characters: never in a name that goes into a mail header,
    a log line or a page title."""
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


def organization_create(*, slug: str, name: str, actor: str) -> Organization:
    """Create an organization. The apps provision what it needs from the start (its signing key) on
    ``core.signals.organization_created``, in the same transaction; built-in sources come lazily."""
    if has_control_characters(name):
        raise InvalidInput(
            "A name on one line, without control characters.",
            errors=[{"pointer": "/name", "detail": "A name on one line, without control characters."}],
        )
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


# A host name as a browser sends it in Host: labels of letters, digits and hyphens, at least one dot.
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$)(?:{_HOST_LABEL}\.)+{_HOST_LABEL}$")


def organization_update(*, organization: Organization, name: str, site_domain: str, actor: str) -> Organization:
    """Rename an organization or set the host whose /.well-known/gpc.json answers for it (one organization per
    host). Audited with what changed; nothing changed, nothing written."""
    name = name.strip()
    site_domain = site_domain.strip().lower().rstrip(".")
    errors = []
    if not name:
        errors.append({"pointer": "/name", "detail": "An organization needs a name."})
    elif has_control_characters(name):
        errors.append({"pointer": "/name", "detail": "A name on one line, without control characters."})
    if site_domain and not _HOST_NAME.match(site_domain):
        errors.append({"pointer": "/site_domain", "detail": "A host name such as www.example.com: no scheme or path."})
    if errors:
        raise InvalidInput(str(errors[0]["detail"]), errors=errors)
    with transaction.atomic():
        current = Organization.objects.select_for_update().get(pk=organization.pk)
        if site_domain and Organization.objects.filter(site_domain=site_domain).exclude(pk=current.pk).exists():
            raise Conflict(
                f"Another organization answers for {site_domain}.",
                errors=[{"pointer": "/site_domain", "detail": "Another organization answers for this host."}],
            )
        changed = {
            field: {"from": getattr(current, field), "to": value}
            for field, value in (("name", name), ("site_domain", site_domain))
            if getattr(current, field) != value
        }
        if changed:
            Organization.objects.filter(pk=current.pk).update(name=name, site_domain=site_domain)
            audit_log(
                actor=actor,
                action=AuditAction.ORGANIZATION_UPDATED,
                object_type="organization",
                object_id=current.pk,
                organization=current,
                data=changed,
            )
    organization.refresh_from_db()
    return organization


def api_key_create(
    *,
    organization: Organization,
    name: str,
    scopes: list[str],
    actor: str,
    created_by: Any = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret. The secret is never stored and never shown again.
    ``rate_limit_per_minute`` overrides PROVENANT_API_RATE_LIMIT_PER_MINUTE for this key (None: the default)."""
    unknown = unknown_scopes(scopes)
    if unknown:
        raise InvalidInput(f"Unknown scopes: {', '.join(unknown)}.", unknown_scopes=unknown)
    if not scopes:
        raise InvalidInput("An API key needs at least one scope.")
    if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= 1_000_000:
        raise InvalidInput("A key's rate limit is between 1 and 1,000,000 requests a minute.")
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
            rate_limit_per_minute=rate_limit_per_minute,
        )
        audit_log(
            actor=actor,
            action=AuditAction.API_KEY_CREATED,
            object_type="api_key",
            object_id=api_key.pk,
            organization=organization,
            data={
                "prefix": prefix,
                "scopes": api_key.scopes,
                "name": name,
                "rate_limit_per_minute": rate_limit_per_minute,
            },
        )
    return api_key, secret


def api_key_rate_limit_update(*, api_key: ApiKey, rate_limit_per_minute: int | None, actor: str) -> ApiKey:
    """Set a key's own budget of requests a minute (None: the deployment's default). This process
    reads the key afresh at once; the others within PROVENANT_API_KEY_CACHE_SECONDS (core.api_key_cache)."""
    if rate_limit_per_minute is not None and not 1 <= rate_limit_per_minute <= 1_000_000:  # the model's validators
        raise InvalidInput("A key's rate limit is between 1 and 1,000,000 requests a minute.")
    with transaction.atomic():
        current = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if current.revoked_at is not None:
            raise InvalidInput("A revoked key's rate limit cannot be changed.")
        previous = current.rate_limit_per_minute
        if previous != rate_limit_per_minute:
            ApiKey.objects.filter(pk=current.pk).update(rate_limit_per_minute=rate_limit_per_minute)
            audit_log(
                actor=actor,
                action=AuditAction.API_KEY_RATE_LIMIT_CHANGED,
                object_type="api_key",
                object_id=current.pk,
                organization=current.organization,
                data={"prefix": current.prefix, "from": previous, "to": rate_limit_per_minute},
            )
            api_key_cache.forget(current.digest)
            transaction.on_commit(lambda: api_key_cache.forget(current.digest))
    api_key.refresh_from_db()
    return api_key


def api_key_revoke(*, api_key: ApiKey, actor: str) -> ApiKey:
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        # This process stops serving the key at once (and again at commit, in case a request cached it meanwhile).
        api_key_cache.forget(api_key.digest)
        transaction.on_commit(lambda: api_key_cache.forget(api_key.digest))
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


@dataclass(frozen=True)
class BrandingInput:
    """The editable branding fields. ``logo_file`` is an uploaded image's bytes (None: keep the current one)."""

    display_name: str = ""
    logo_url: str = ""
    primary_color: str = DEFAULT_PRIMARY
    accent_color: str = DEFAULT_ACCENT
    contact_email: str = ""
    privacy_policy_url: str = ""
    languages: tuple[str, ...] = ("en", "de")
    custom_host: str = ""
    logo_file: bytes | None = None
    remove_logo: bool = False


def _logo_type(data: bytes) -> str:
    """The content type of an uploaded logo, checked by decoding it (Pillow); InvalidInput for anything else."""
    refusal = InvalidInput(
        "The logo must be a PNG, JPEG or WebP image of at most 256 KB and 2048 pixels a side.",
        errors=[{"pointer": "/logo_file", "detail": "not a PNG, JPEG or WebP image within the limits"}],
    )
    if len(data) > LOGO_MAX_BYTES:
        raise refusal
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, size = image.format, image.size
    except Exception as exc:  # Pillow raises many kinds for a file that is not an image
        raise refusal from exc
    if kind not in LOGO_TYPES or max(size) > LOGO_MAX_PIXELS:
        raise refusal
    return LOGO_TYPES[kind]


def _branding_errors(data: BrandingInput) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for name in ("primary_color", "accent_color"):
        colour = getattr(data, name)
        if not is_hex_colour(colour):
            errors.append({"pointer": f"/{name}", "detail": "a colour as #rrggbb"})
        elif not meets_aa_on_white(colour):
            ratio = contrast_ratio(colour, "#ffffff")
            errors.append(
                {"pointer": f"/{name}", "detail": f"contrast with white is {ratio:.2f}:1; WCAG AA needs 4.5:1"}
            )
    for name in ("logo_url", "privacy_policy_url"):
        value = getattr(data, name)
        if value and not value.startswith("https://"):
            errors.append({"pointer": f"/{name}", "detail": "an https:// URL"})
    offered = dict(settings.LANGUAGES)
    if not data.languages:
        errors.append({"pointer": "/languages", "detail": "offer at least one language"})
    unknown = [code for code in data.languages if code not in offered]
    if unknown:
        errors.append({"pointer": "/languages", "detail": f"unknown language codes: {', '.join(unknown)}"})
    if data.custom_host:
        host = data.custom_host
        if host != normalize_host(host) or not is_host_name(host):
            errors.append({"pointer": "/custom_host", "detail": "a host name in lower case, without scheme or port"})
        elif not validate_host(host, settings.ALLOWED_HOSTS):
            errors.append(
                {
                    "pointer": "/custom_host",
                    "detail": "add this host to DJANGO_ALLOWED_HOSTS first (host-header safety)",
                }
            )
    return errors


def privacy_center_branding_update(
    *, organization: Organization, data: BrandingInput, actor: str
) -> PrivacyCenterBranding:
    """Create or change the organization's privacy-center branding, audited. InvalidInput (with a pointer per
    field) for a colour below WCAG AA, a URL that is not https, an unknown language, a host that is not a host
    name or not allowed by ALLOWED_HOSTS, or a logo that is not a small raster image; Conflict when another
    organization claims the host."""
    errors = _branding_errors(data)
    if errors:
        raise InvalidInput("The privacy center branding is not valid.", errors=errors)
    logo_type = _logo_type(data.logo_file) if data.logo_file is not None else None
    with transaction.atomic():
        branding, _created = PrivacyCenterBranding.objects.select_for_update().get_or_create(organization=organization)
        before = {name: getattr(branding, name) for name in _AUDITED_BRANDING_FIELDS}
        branding.display_name = data.display_name
        branding.logo_url = data.logo_url
        branding.primary_color = data.primary_color.lower()
        branding.accent_color = data.accent_color.lower()
        branding.contact_email = data.contact_email
        branding.privacy_policy_url = data.privacy_policy_url
        branding.languages = list(dict.fromkeys(data.languages))
        branding.custom_host = data.custom_host
        logo_changed = False
        if data.remove_logo:
            logo_changed = bool(branding.logo_image)
            branding.logo_image, branding.logo_content_type = None, ""
        elif data.logo_file is not None and logo_type is not None:
            logo_changed = True
            branding.logo_image, branding.logo_content_type = data.logo_file, logo_type
        branding.updated_at = timezone.now()
        try:
            with transaction.atomic():
                branding.save()
        except IntegrityError as exc:
            raise Conflict(
                "Another organization's privacy center already answers on this host.",
                errors=[{"pointer": "/custom_host", "detail": "already used by another organization"}],
            ) from exc
        changed = sorted(name for name in _AUDITED_BRANDING_FIELDS if getattr(branding, name) != before[name])
        audit_log(
            actor=actor,
            action=AuditAction.PRIVACY_CENTER_BRANDING_CHANGED,
            object_type="privacy_center_branding",
            object_id=organization.pk,
            organization=organization,
            data={"changed": changed + (["logo_image"] if logo_changed else [])},
        )
    return branding


_AUDITED_BRANDING_FIELDS = (
    "display_name",
    "logo_url",
    "primary_color",
    "accent_color",
    "contact_email",
    "privacy_policy_url",
    "languages",
    "custom_host",
)
