"""Tenancy, API access and the audit log."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from core.enums import AuditAction

slug_validator = RegexValidator(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", "Lowercase letters, digits and hyphens.")


class Organization(models.Model):
    """A client whose data Provenant holds. Every domain row belongs to exactly one."""

    slug = models.SlugField(max_length=64, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    catalog_version = models.BigIntegerField(
        default=0, editable=False, help_text="Bumped by every change to purposes, sources or policy versions."
    )
    honor_gpc_everywhere = models.BooleanField(
        "honor GPC everywhere",
        default=True,
        help_text="Treat a Global Privacy Control signal as an opt-out of sale/sharing in every "
        "jurisdiction, not only where a law makes it binding.",
    )
    gpc_settings_updated_at = models.DateField(
        "GPC settings last changed",
        default=timezone.localdate,
        editable=False,
        help_text="Published as lastUpdate in /.well-known/gpc.json.",
    )
    site_domain = models.CharField(
        max_length=253,
        blank=True,
        help_text="Host name whose /.well-known/gpc.json Provenant answers for this organization.",
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A bearer credential of one organization. Only a SHA-256 digest and a visible prefix are kept."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Requests a minute this key may make; empty: the default (PROVENANT_API_RATE_LIMIT_PER_MINUTE).",
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        permissions = [
            ("revoke_apikey", "Can revoke API keys"),
            ("issue_write_scopes", "Can issue API keys with write scopes"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class AuditLogEntry(models.Model):
    """Who did what to which object, written in the same transaction as the change. Never PII."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=100, db_index=True, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "audit log entries"
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id} by {self.actor}"


class StaffOrganizationScope(models.Model):
    """The organizations one staff user may see and act on in the admin. A staff user without a scope
    sees every organization (superusers always do); with one, nothing of the others, in any list, filter,
    search, form or action."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="organization_scope")
    organizations = models.ManyToManyField(Organization, blank=True, related_name="+")

    class Meta:
        verbose_name = "staff organization scope"

    def __str__(self) -> str:
        return f"scope of user {self.user_id}"


def default_privacy_center_languages() -> list[str]:
    return ["en", "de"]


class PrivacyCenterBranding(models.Model):
    """How an organization's privacy center looks and where it answers (issue #13). Edited in the admin through
    ``core.services.privacy_center_branding_update`` (validated by ``core.branding``, audited). An organization
    without a row gets the defaults.

    The logo is an uploaded raster image kept here and served from our own origin (the strict CSP stays as it
    is), or an https URL (the privacy center's CSP then allows that one origin for images)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="privacy_center_branding"
    )
    display_name = models.CharField(
        max_length=200, blank=True, help_text="The privacy center's title; empty: the organization's name."
    )
    logo_url = models.URLField(
        "logo URL",
        max_length=500,
        blank=True,
        help_text="https URL of the logo. An uploaded logo is preferred: a remote one lets its host see visitors.",
    )
    logo_image = models.BinaryField(null=True, blank=True, editable=False)
    logo_content_type = models.CharField(max_length=20, blank=True, editable=False)
    primary_color = models.CharField(
        max_length=7, default="#1f4e79", help_text="#rrggbb; white text on it must reach 4.5:1 (WCAG AA)."
    )
    accent_color = models.CharField(
        max_length=7, default="#0b5cad", help_text="#rrggbb, for links on white; must reach 4.5:1 (WCAG AA)."
    )
    contact_email = models.EmailField(blank=True, help_text="Where people write about their data.")
    privacy_policy_url = models.URLField("privacy policy URL", max_length=500, blank=True)
    languages = models.JSONField(
        default=default_privacy_center_languages,
        help_text="Language codes offered, the default first. Languages without a translation show English.",
    )
    custom_host = models.CharField(
        max_length=253,
        blank=True,
        help_text="A host name of the organization's own (privacy.example.com) on which the privacy center also "
        "answers; it must be in DJANGO_ALLOWED_HOSTS.",
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "privacy center branding"
        verbose_name_plural = "privacy center branding"
        constraints = [
            models.UniqueConstraint(
                fields=["custom_host"], condition=~models.Q(custom_host=""), name="privacy_center_custom_host_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"privacy center of {self.organization}"

    @property
    def title(self) -> str:
        return self.display_name or self.organization.name

    @property
    def has_logo(self) -> bool:
        return bool(self.logo_image) or bool(self.logo_url)
