"""Data-subject requests: intake, workflow status, computed deadlines and the transition history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from core.models import Organization
from dsar.enums import (
    Channel,
    ConnectorCallStatus,
    DsarRegime,
    FulfilmentStepStatus,
    LegalContactReceives,
    MessageKind,
    MessageStatus,
    RequestStatus,
    RequestType,
)


class DataSubjectRequest(models.Model):
    """One request of a person under one regime. Contact details are sealed under the row's own data key."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=26, unique=True, help_text="ULID; the id the API shows")
    subject_external_id = models.CharField(max_length=255, blank=True, help_text="Blank while unknown")
    subject = models.ForeignKey(
        "consent.Subject",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The ledger's subject the request is about (its external id is kept in subject_external_id)",
    )
    type = models.CharField(max_length=20, choices=RequestType.choices)
    regime = models.CharField(max_length=20, choices=DsarRegime.choices)
    jurisdiction = models.CharField(max_length=6, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    language = models.CharField(
        max_length=16, blank=True, help_text="The requester's language (BCP 47, e.g. de); messages fall back to English"
    )
    received_at = models.DateTimeField()
    requester_email_sealed = models.TextField(blank=True, editable=False)
    requester_name_sealed = models.TextField(blank=True, editable=False)
    requester_email_index = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="Keyed hash (blind index) of the requester's email, for exact-match search; blank for requests "
        "filed before it was kept",
    )
    wrapped_data_key = models.BinaryField(editable=False)
    status = models.CharField(max_length=20, choices=RequestStatus.choices, default=RequestStatus.RECEIVED)
    rejection_reason = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_dsars",
        help_text="The legal team member handling the request",
    )
    is_extended = models.BooleanField(default=False)
    extension_reason_code = models.CharField(max_length=20, blank=True)
    extension_notice_sent_on = models.DateField(null=True, blank=True)
    deadlines = models.JSONField(default=dict, help_text="DeadlineResult.to_dict(), recomputed on every change")
    due_on = models.DateField(
        db_index=True, help_text="The date the answer is due by law (the extended date once extended)"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    overdue_on = models.DateField(
        null=True, blank=True, editable=False, help_text="The day the deadline sweep found the request overdue"
    )
    # A deletion request's erasure waits (PROVENANT_DSAR_ERASURE_REVIEW, recorded when fulfilment starts): for
    # staff approval ("legal") or until ``erasure_not_before`` ("none"); cancelled, it never runs.
    erasure_review = models.CharField(max_length=10, blank=True, editable=False)
    erasure_not_before = models.DateTimeField(null=True, blank=True, editable=False)
    erasure_approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    erasure_approved_by = models.CharField(max_length=200, blank=True, editable=False)
    erasure_cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # An API client's Idempotency-Key (unique per organization) and the digest of the body it came with: a retry
    # after a timeout gets the first request back, never a second request (and second emails to the person).
    idempotency_key = models.CharField(max_length=255, blank=True, default="", editable=False)
    request_digest = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "status"], name="dsar_org_status"),
            models.Index(
                fields=["requester_email_index"],
                condition=~models.Q(requester_email_index=""),
                name="dsar_requester_email_index",
            ),
        ]
        permissions = [
            ("reveal_requester_contact", "Can reveal a requester's contact data (each reveal is audited)"),
            ("approve_erasure", "Can approve the erasure of a verified deletion request (audited)"),
            ("cancel_erasure", "Can cancel the erasure of a deletion request before it runs (audited)"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="dsar_idempotency_key_unique",
            ),
            models.CheckConstraint(condition=models.Q(status__in=RequestStatus.values), name="dsar_status_known"),
            models.CheckConstraint(
                condition=~models.Q(status=RequestStatus.REJECTED) | ~models.Q(rejection_reason=""),
                name="dsar_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=models.Q(is_extended=False, extension_reason_code="", extension_notice_sent_on=None)
                | (
                    models.Q(is_extended=True, extension_notice_sent_on__isnull=False)
                    & ~models.Q(extension_reason_code="")
                ),
                name="dsar_extension_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.get_type_display()} ({self.get_regime_display()}): {self.get_status_display()}"


class RequestTransition(models.Model):
    """One step of a request's history, written in the same transaction as the change it records."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=200, help_text="Who or which task")
    from_status = models.CharField(max_length=20, blank=True, help_text="Blank for the intake")
    to_status = models.CharField(max_length=20, choices=RequestStatus.choices)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            # Completed is final: a request is completed once (the compliance report joins on it).
            models.UniqueConstraint(
                fields=["request"], condition=models.Q(to_status=RequestStatus.COMPLETED), name="dsar_completed_once"
            )
        ]
        indexes = [
            # The compliance report: requests completed in a period.
            models.Index(
                fields=["at"],
                include=["request"],
                condition=models.Q(to_status=RequestStatus.COMPLETED),
                name="dsar_transition_completed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.from_status or '-'} -> {self.to_status}"


class RequestNotice(models.Model):
    """One message sent about a request (verification link, reminder, closure notice, deadline reminder).

    The unique key makes every send a claim: a sweep inserts the row with ON CONFLICT DO NOTHING and sends only
    what it inserted, so a rerun sends nothing twice. ``for_date`` is the date the message is about (the identity
    request's date or the due date), so a new identity request or a moved due date gets its own messages.

    The deadline sweep's claims (``deadline.*``) are inserted with ``sent_at`` empty and stamped only once the
    mail server accepted the digest or escalation that carries them: a claim nobody received (no recipient, the
    server refused, the worker died) stays unsent and the next sweep sends it. Other notices are sent when
    recorded (``sent_at`` defaults to the insert time in the database).
    """

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=40, help_text="Dotted: identity.link, identity.reminder.2, deadline.7, ...")
    for_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(
        null=True, blank=True, db_default=Now(), help_text="When the mail carrying it was accepted; empty: owed"
    )
    attempts = models.PositiveIntegerField(db_default=0, help_text="Sends tried for a deadline claim")
    last_error = models.CharField(max_length=200, blank=True, db_default="", help_text="Why the last try failed")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "kind", "for_date"], name="dsar_notice_once"),
        ]
        indexes = [
            models.Index(fields=["request"], condition=models.Q(sent_at__isnull=True), name="dsar_notice_unsent"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.kind} ({self.for_date})"


class DsarLegalContact(models.Model):
    """Someone on an organization's legal team the deadline sweep writes to: the daily digest, the overdue
    escalation, or both. An organization may have several; with none for a kind of message, it goes to the staff
    holding the DSAR-operator role for the organization and to the deployment's ADMINS. Written only through
    ``services.legal_contact_*`` (audited)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=26, unique=True, editable=False, help_text="ULID; the id the API shows")
    email = models.EmailField(max_length=254, help_text="A work address of the legal team (not a requester's)")
    name = models.CharField(max_length=200, blank=True)
    receives = models.CharField(max_length=16, choices=LegalContactReceives.choices, default=LegalContactReceives.BOTH)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "legal contact"
        ordering = ["organization_id", "email"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "email"], name="dsar_legal_contact_once"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class DeadlineSettings(models.Model):
    """An organization's DSAR deadline calendar and time zone (REGULATORY.md A1: the controller's Member State
    and zone fix the GDPR receipt date and deadline; §0: the business's zone for the US laws). Used by intake and
    by the deadline calculator when a request names none; changed only through
    ``services.deadline_settings_update``, which validates and audits."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="dsar_deadline_settings"
    )
    calendar = models.CharField(
        max_length=32, blank=True, help_text="Holiday calendar id: EU-<CC>, <CC>, <CC>-<REGION>, US-FED, WEEKENDS_ONLY"
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA time zone, e.g. Europe/Dublin")
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "deadline settings"
        verbose_name_plural = "deadline settings"

    def __str__(self) -> str:
        return f"{self.calendar or '-'} / {self.time_zone or '-'}"


class FulfilmentStep(models.Model):
    """One step of carrying out a request, claimed with a compare-and-set so a rerun skips what is done.

    A worker claims a pending step, or a running one whose lease ran out (its worker died), by bumping
    ``attempts``; it marks the step done only while it still holds that attempt, in the transaction that
    writes the step's effects, so an interrupted step leaves nothing behind and is redone whole.
    """

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="fulfilment_steps")
    step = models.CharField(max_length=40)
    position = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=FulfilmentStepStatus.choices, default=FulfilmentStepStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "step"], name="dsar_fulfilment_step_once"),
            models.CheckConstraint(
                condition=models.Q(status__in=FulfilmentStepStatus.values), name="dsar_fulfilment_step_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.step} ({self.status})"


class DsarExport(models.Model):
    """The ZIP answering an access or portability request, sealed at rest (AES-256-GCM under its own data key,
    which is stored wrapped by the master key). One per request."""

    request = models.OneToOneField(DataSubjectRequest, on_delete=models.CASCADE, related_name="export")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(max_length=26, unique=True, help_text="ULID; the id the download link names")
    sealed_archive = models.BinaryField(editable=False)
    wrapped_data_key = models.BinaryField(editable=False)
    sha256 = models.CharField(max_length=64, help_text="Digest of the ZIP in clear")
    size_bytes = models.PositiveIntegerField()
    files = models.JSONField(default=list, help_text="The names of the files in the ZIP")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    purged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the archive and its key were deleted (the digest and file list stay)"
    )
    purge_reason = models.CharField(
        max_length=20, blank=True, help_text="retention (its period ran out) or erasure (the subject was erased)"
    )
    link_issued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the one download link was signed (at approval); it names this time"
    )
    link_expires_at = models.DateTimeField(null=True, blank=True, help_text="The download link works until then")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("download_dsarexport", "Can download an export from the admin (each download is audited)")]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.size_bytes} bytes)"


class Connector(models.Model):
    """An external system that holds the subject's data: Provenant POSTs the subject's identifiers to ``url``
    during collection and erasure, signed with its own secret (wrapped by the master key, never shown again)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    public_id = models.CharField(
        max_length=26, unique=True, editable=False, help_text="ULID; the owner its wrapped secret is bound to"
    )
    key = models.SlugField(max_length=100, help_text="Names the connector's file in the export: connectors/<key>.json")
    name = models.CharField(max_length=200)
    url = models.URLField(max_length=500)
    secret_sealed = models.TextField(blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "key"]
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="dsar_connector_key_once")]

    def __str__(self) -> str:
        return f"{self.key} ({self.name})"


class ConnectorCall(models.Model):
    """What one connector (or one recipient's webhook, for ``subject.erased``) answered in one fulfilment step.

    Exactly one of ``connector`` and ``recipient`` is set. Written in the step's transaction, so a redone step
    overwrites it; the answer is sealed under the request's data key (it is the subject's data)."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="connector_calls")
    connector = models.ForeignKey(Connector, on_delete=models.PROTECT, null=True, blank=True, related_name="calls")
    recipient = models.ForeignKey(
        "provenance.Recipient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    target_key = models.CharField(max_length=100, help_text="The connector's or the recipient's key at the time")
    step = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=ConnectorCallStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True, help_text="The outcome; never the answer's content")
    answer_sealed = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["request_id", "step", "target_key", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(connector__isnull=False, recipient__isnull=True)
                | models.Q(connector__isnull=True, recipient__isnull=False),
                name="dsar_connector_call_one_target",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ConnectorCallStatus.values), name="dsar_connector_call_status_known"
            ),
            models.UniqueConstraint(
                fields=["request", "connector", "step"],
                condition=models.Q(connector__isnull=False),
                name="dsar_connector_call_once",
            ),
            models.UniqueConstraint(
                fields=["request", "recipient", "step"],
                condition=models.Q(recipient__isnull=False),
                name="dsar_erasure_notice_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.target_key} {self.step} ({self.status})"


class MessageTemplate(models.Model):
    """An organization's own wording of one message kind in one language, in place of the shipped default.

    Written only through ``services.message_template_save`` (validated: it compiles in the sandbox and renders
    the sample request) and ``message_template_reset`` (back to the default: the row stays, inactive, so its
    versions keep counting). ``version`` goes up on every change; messages record which version they used."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    language = models.CharField(max_length=16, help_text="en or de; other languages fall back to English")
    subject = models.CharField(max_length=300, help_text="One line; Django template syntax")
    body_text = models.TextField(help_text="The plain-text body; Django template syntax, not escaped")
    body_html = models.TextField(blank=True, help_text="Optional HTML body; Django template syntax, autoescaped")
    is_active = models.BooleanField(default=True, help_text="Off after a reset: the default is used")
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_by = models.CharField(max_length=200, blank=True, editable=False)

    class Meta:
        ordering = ["organization_id", "kind", "language"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "language"], name="dsar_message_template_once"),
            models.CheckConstraint(condition=models.Q(kind__in=MessageKind.values), name="dsar_message_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.language}) v{self.version}"

    @property
    def version_id(self) -> str:
        return f"override:{self.pk}:v{self.version}"


class RequestMessage(models.Model):
    """One message to the requester: the outbox row and, once sent, its record in the request's history.

    Queued in the transaction of the step it belongs to (unique ``key`` per request: a replayed step or a retried
    task queues nothing twice); the rendered text waits sealed under the request's data key and is wiped once
    sent, leaving the kind, the template version and the SHA-256 of exactly what was sent. A sender claims the
    row compare-and-set (pending -> sending, with a lease) and marks it sent only while it still holds it."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="messages")
    public_id = models.CharField(max_length=26, unique=True, help_text="ULID; names the Message-ID header")
    kind = models.CharField(max_length=30, choices=MessageKind.choices)
    key = models.CharField(max_length=80, help_text="What makes it once: receipt, identity.link:2026-03-05, ...")
    language = models.CharField(max_length=16)
    template_version = models.CharField(max_length=80, help_text="default:<digest> or override:<id>:v<version>")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of subject + body as sent (README)")
    content_sealed = models.TextField(blank=True, editable=False, help_text="Until sent; wiped after")
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=200, blank=True, help_text="The exception's class; never its text")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "key"], name="dsar_message_once"),
            models.CheckConstraint(condition=models.Q(status__in=MessageStatus.values), name="dsar_message_status"),
            models.CheckConstraint(
                condition=~models.Q(status=MessageStatus.SENT) | models.Q(sent_at__isnull=False, content_sealed=""),
                name="dsar_message_sent_is_wiped",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=[MessageStatus.PENDING, MessageStatus.SENDING]),
                name="dsar_message_unsent",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.kind} ({self.status})"
