"""Recipients, signing keys, stamp records, deliveries, consent notices and provenance alerts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from ulid import ULID

from consent.models import Purpose, Subject, key_validator
from core.models import Organization
from provenance.enums import (
    THIRD_PARTY_ROLES,
    AlertKind,
    AlertStatus,
    DeliveryStatus,
    NoticeStatus,
    RecipientRole,
    StampDecision,
)


def new_public_id() -> str:
    """A ULID: a public id that says nothing about other organizations' rows (unlike a counter)."""
    return str(ULID())


class Recipient(models.Model):
    """A downstream system that receives personal data (CRM, email, ads, analytics)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="recipients")
    key = models.CharField(max_length=64, validators=[key_validator])
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=20, choices=RecipientRole.choices)
    purposes = models.ManyToManyField(Purpose, related_name="recipients", blank=True)
    data_categories = models.JSONField(default=list, blank=True, help_text="e.g. contact, behavioural, location")
    endpoint_url = models.URLField(max_length=500, blank=True, help_text="Where deliveries are POSTed")
    webhook_url = models.URLField(max_length=500, blank=True, help_text="Where consent changes are notified")
    webhook_secret_sealed = models.TextField(blank=True, editable=False)
    previous_webhook_secret_sealed = models.TextField(
        blank=True, editable=False, help_text="The secret replaced by the last rotation; still signs during the overlap"
    )
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    legacy_usp = models.BooleanField(
        "wants the US Privacy string", default=False, help_text="Deprecated by the IAB on 31 Jan 2024"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="recipient_key_unique")]
        permissions = [("rotate_webhook_secret", "Can rotate recipients' webhook secrets")]

    def __str__(self) -> str:
        return self.key

    @property
    def is_third_party(self) -> bool:
        return self.role in THIRD_PARTY_ROLES


class SigningKey(models.Model):
    """An Ed25519 key that signs one organization's stamps, receipts and certificates. The private key is
    stored sealed under the master key, bound to the key's kid (core.key_custody).

    Each organization has exactly one current key; retired keys sign nothing new but stay published so
    that every stamp they made still verifies, until they are revoked: a revoked key leaves the JWKS and
    its stamps no longer verify. A key copied from the deployment-wide key of before #11 is retired, has no
    private part and may appear in several organizations under the same kid."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    kid = models.CharField(max_length=64, editable=False)
    public_key = models.CharField(max_length=64, editable=False, help_text="base64url raw Ed25519 public key")
    private_key_sealed = models.BinaryField(editable=False, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    activated_at = models.DateTimeField(default=timezone.now, editable=False)
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_current = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-activated_at"]
        permissions = [("revoke_signingkey", "Can revoke retired signing keys")]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_current=True),
                name="one_current_signing_key_per_organization",
            ),
            models.UniqueConstraint(fields=["organization", "kid"], name="signing_key_kid_unique_per_organization"),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True) | models.Q(retired_at__isnull=False, is_current=False),
                name="signing_key_revoked_only_when_retired",
            ),
        ]

    def __str__(self) -> str:
        state = (
            " (current)"
            if self.is_current
            else " (revoked)"
            if self.revoked_at
            else " (retired)"
            if self.retired_at
            else ""
        )
        return f"{self.kid}{state}"


class StampRecord(models.Model):
    """One stamping decision, never the data itself."""

    stamp_id = models.CharField(max_length=26, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="stamp_records")
    subject = models.ForeignKey(Subject, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    subject_external_id = models.CharField(max_length=255)
    purposes = models.JSONField(default=list)
    decision = models.CharField(max_length=5, choices=StampDecision.choices)
    reasons = models.JSONField(default=list, blank=True)
    data_digest = models.CharField(max_length=64)
    kid = models.CharField(max_length=64, blank=True)
    jurisdiction = models.CharField(max_length=6, blank=True)
    has_source = models.BooleanField(default=False)
    has_consent_timestamp = models.BooleanField(default=False)
    has_policy_version = models.BooleanField(default=False)
    relied_on_event_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="The ledger events the decision rested on: for each purpose asked, the event its consent state "
        "stood on when stamped",
    )
    data_categories = models.JSONField(
        default=list,
        blank=True,
        help_text="The categories of data sent (the recipient's, as registered when stamped); empty when blocked",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("produce_evidence_pack", "Can produce a subject's evidence pack, its evidence decrypted (audited)")
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="stamp_org_created"),
            models.Index(fields=["organization", "recipient", "decision"], name="stamp_org_recipient_decision"),
            models.Index(fields=["subject", "created_at"], name="stamp_subject_created"),
        ]

    def __str__(self) -> str:
        return f"{self.stamp_id} {self.decision}"


class Delivery(models.Model):
    """A payload Provenant sends to a recipient's endpoint, re-checking consent when it sends."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=26, unique=True)
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="deliveries")
    subject_external_id = models.CharField(max_length=255)
    purposes = models.JSONField(default=list)
    payload_sealed = models.TextField(
        help_text="<wrapped data key>.<sealed data and provenance>: a fresh data key per delivery, bound to it"
    )
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    stamp_id = models.CharField(max_length=26, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True, help_text="The client's Idempotency-Key, if any")
    request_digest = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the request body, for replays")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="delivery_idempotency_key_unique",
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.public_id} -> {self.recipient_id}: {self.status}"


class DeliveryAttempt(models.Model):
    """Every try of a delivery or a consent notice, for the log."""

    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.CASCADE, related_name="log")
    notice = models.ForeignKey("ConsentNotice", null=True, blank=True, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.outcome}"


class ConsentNotice(models.Model):
    """A consent change told to a recipient by webhook, with its legal deadline and acknowledgment."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=26, unique=True)
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="notices")
    subject_external_id = models.CharField(max_length=255)
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    event_id = models.CharField(max_length=26, help_text="The ledger event behind the change")
    change = models.CharField(max_length=20, help_text="withdrawn, refused, gpc_opt_out, expired, granted, ...")
    status = models.CharField(max_length=14, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    give_up_at = models.DateTimeField()
    legal_deadline = models.DateField(null=True, blank=True)
    legal_rule = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    overdue_alerted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Led by the organization, the key a distributed database (Citus) shards by (issue #16).
            models.UniqueConstraint(
                fields=["organization", "recipient", "event_id"], name="notice_once_per_recipient_event"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notice_due")]

    def __str__(self) -> str:
        return f"{self.public_id} {self.change} -> {self.recipient_id}: {self.status}"


class ConsentNoticeCursor(models.Model):
    """How far the consent-notice scan has read the ledger: one row.

    On PostgreSQL ``position`` is the snapshot of the last scan (consent.feed), which makes the scan exact;
    ``scanned_until`` is the clock fallback used on SQLite."""

    position = models.TextField(blank=True)
    scanned_until = models.DateTimeField()
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"notice scan at {self.scanned_until:%Y-%m-%d %H:%M:%S}"


class ProvenanceAlert(models.Model):
    """A record whose claimed provenance is missing, malformed or contradicts the ledger; legal triages it."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(
        max_length=26, unique=True, default=new_public_id, editable=False, help_text="ULID, shown as alert_id"
    )
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    status = models.CharField(max_length=12, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    subject_external_id = models.CharField(max_length=255, blank=True)
    source_key = models.CharField(max_length=64, blank=True)
    failures = models.JSONField(default=list, help_text="[{field, problem, detail}] — never the record itself")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "status"], name="alert_org_status")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"
