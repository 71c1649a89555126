"""The DSAR vocabulary: request types, regimes, channels, statuses and the sets of statuses the workflow and the
reports reason about. No models, no queries; models, services, serializers and reports import it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from django.db.models import TextChoices


class RequestType(TextChoices):
    ACCESS = "access", "Access"
    PORTABILITY = "portability", "Portability"
    DELETION = "deletion", "Deletion"
    CORRECTION = "correction", "Correction"
    OPT_OUT_OF_SALE = "opt_out_of_sale", "Opt out of sale/sharing"
    LIMIT_SENSITIVE = "limit_sensitive", "Limit use of sensitive data"
    RESTRICT = "restrict", "Restrict processing"
    OBJECT = "object", "Object to processing"


class DsarRegime(TextChoices):
    """The DSAR regime keys of the jurisdiction rule table (``none`` excluded); a test keeps them in step."""

    GDPR = "gdpr", "GDPR"
    UK_GDPR = "uk_gdpr", "UK GDPR"
    FADP = "fadp", "Swiss FADP"
    CCPA = "ccpa", "California CCPA/CPRA"
    VCDPA = "vcdpa", "Virginia VCDPA"
    CPA = "cpa", "Colorado CPA"
    CTDPA = "ctdpa", "Connecticut CTDPA"
    UCPA = "ucpa", "Utah UCPA"
    TDPSA = "tdpsa", "Texas TDPSA"
    OCPA = "ocpa", "Oregon OCPA"
    MCDPA = "mcdpa", "Montana MCDPA"
    ICDPA = "icdpa", "Iowa ICDPA"
    DPDPA = "dpdpa", "Delaware DPDPA"
    NHPA = "nhpa", "New Hampshire NHPA"
    NJDPA = "njdpa", "New Jersey NJDPA"
    TIPA = "tipa", "Tennessee TIPA"
    MNCDPA = "mncdpa", "Minnesota MNCDPA"
    MODPA = "modpa", "Maryland MODPA"
    INCDPA = "incdpa", "Indiana INCDPA"
    KCDPA = "kcdpa", "Kentucky KCDPA"
    RIDTPPA = "ridtppa", "Rhode Island RIDTPPA"
    NDPA = "ndpa", "Nebraska NDPA"


class Channel(TextChoices):
    API = "api", "API"
    WEB_FORM = "web_form", "Web form"
    EMAIL = "email", "Email"
    MAIL = "mail", "Mail"
    PHONE = "phone", "Phone"


class RequestStatus(TextChoices):
    RECEIVED = "received", "Received"
    IDENTITY_PENDING = "identity_pending", "Identity verification pending"
    VERIFIED = "verified", "Identity verified"
    IN_PROGRESS = "in_progress", "In progress"
    AWAITING_REVIEW = "awaiting_review", "Awaiting review"
    COMPLETED = "completed", "Completed"
    REJECTED = "rejected", "Rejected"


class FulfilmentStepStatus(TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class ConnectorCallStatus(TextChoices):
    ANSWERED = "answered", "Answered"
    FAILED = "failed", "Failed"


# The workflow. Completed and rejected are final; a rejection is possible from every open status.
LEGAL_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    RequestStatus.RECEIVED: frozenset(
        {RequestStatus.IDENTITY_PENDING, RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS, RequestStatus.REJECTED}
    ),
    RequestStatus.IDENTITY_PENDING: frozenset({RequestStatus.VERIFIED, RequestStatus.REJECTED}),
    RequestStatus.VERIFIED: frozenset({RequestStatus.IN_PROGRESS, RequestStatus.REJECTED}),
    RequestStatus.IN_PROGRESS: frozenset(
        {RequestStatus.AWAITING_REVIEW, RequestStatus.COMPLETED, RequestStatus.REJECTED}
    ),
    RequestStatus.AWAITING_REVIEW: frozenset(
        {RequestStatus.IN_PROGRESS, RequestStatus.COMPLETED, RequestStatus.REJECTED}
    ),
    RequestStatus.COMPLETED: frozenset(),
    RequestStatus.REJECTED: frozenset(),
}
FINAL_STATUSES: Final = frozenset({RequestStatus.COMPLETED, RequestStatus.REJECTED})
OPEN_STATUSES: Final = tuple(status for status in RequestStatus.values if status not in FINAL_STATUSES)
VERIFIED_OR_LATER: Final = frozenset(
    {RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS, RequestStatus.AWAITING_REVIEW, RequestStatus.COMPLETED}
)
# Channels whose receipt time the operator types in (the letter or mail arrived before it was logged).
BACKDATED_CHANNELS: Final = frozenset({Channel.EMAIL, Channel.MAIL})
# CCPA regs §7026(b) and §7027(e): an opt-out of sale/sharing and a request to limit the use of sensitive
# personal information need no identity verification; intake starts carrying them out.
NO_VERIFICATION_NEEDED: Final = frozenset({RequestType.OPT_OUT_OF_SALE, RequestType.LIMIT_SENSITIVE})
# The request types answered with an export (GDPR Art. 15 and 20); its download link is signed at approval.
EXPORTING_TYPES: Final = frozenset({RequestType.ACCESS, RequestType.PORTABILITY})
# Why an export's archive was deleted (``DsarExport.purge_reason``).
PURGED_BY_RETENTION: Final = "retention"
PURGED_BY_ERASURE: Final = "erasure"


class MessageKind(TextChoices):
    """The messages a requester gets, one per step of the request (README "Messages to the requester")."""

    RECEIPT = "receipt", "Receipt confirmation"
    IDENTITY_LINK = "identity.link", "Identity verification link"
    IDENTITY_REMINDER = "identity.reminder", "Identity verification reminder"
    EXTENSION = "extension", "Extension notice"
    COMPLETION = "completion", "Completion"
    DENIAL = "denial", "Denial with reasons and remedies"
    UNVERIFIABLE = "unverifiable", "Closure as unverifiable"
    STAFF = "staff", "Message written by the legal team"


class MessageStatus(TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    UNDELIVERABLE = "undeliverable", "Undeliverable (no address, or given up)"


# The languages the shipped message templates are written in; any other requester language falls back to English.
MESSAGE_LANGUAGES: Final = ("en", "de")
DEFAULT_MESSAGE_LANGUAGE: Final = "en"
# What a message must carry for the person (the link they need, the remedies a denial owes them): an override
# that drops it is refused on save.
MESSAGE_REQUIRED_VARIABLES: Final[Mapping[str, tuple[str, ...]]] = {
    MessageKind.RECEIPT: ("organization_name", "request_id"),
    MessageKind.IDENTITY_LINK: ("organization_name", "verification_url"),
    MessageKind.IDENTITY_REMINDER: ("organization_name", "verification_url"),
    MessageKind.EXTENSION: ("organization_name", "extension_reason", "due_on"),
    MessageKind.COMPLETION: ("organization_name", "download_url"),
    MessageKind.DENIAL: ("organization_name", "reason", "remedies"),
    MessageKind.UNVERIFIABLE: ("organization_name", "remedies"),
    MessageKind.STAFF: ("organization_name", "staff_text"),
}


# What each date of a request's deadlines (dsar.deadlines.DATE_KEYS) is called on the legal team's pages.
DEADLINE_LABELS: dict[str, str] = {
    "receipt_date": "Received on",
    "initial_due_unrolled": "One month from receipt (before moving off a weekend or holiday)",
    "initial_due": "Response due",
    "extension_notice_due": "Extension notice due",
    "extended_due": "Response due, extended",
    "alt_extended_due": "Extended due date, other reading",
    "alt_due_inclusive_pause": "Due date counting both ends of the identity pause",
    "alt_due_restart": "Due date restarting the month at the identity answer",
    "identity_reminder_due": "Identity reminder due",
    "identity_cutoff": "Identity answer due (else closed as unable to identify)",
    "response_due": "Response due",
    "response_sla_due": "Response due (internal target)",
    "max_extended_due": "Latest response date with an extension",
    "confirm_legal_due": "Confirmation of receipt due",
    "confirm_sla_due": "Confirmation of receipt due (internal target)",
    "optout_legal_due": "Opt-out honored by",
    "optout_sla_due": "Opt-out honored by (internal target)",
}


class LegalContactReceives(TextChoices):
    """What a legal contact is sent by the deadline sweep: the daily digest (requests due within 7 days and
    overdue), the escalation of a request that became overdue, or both."""

    DIGEST = "digest", "Daily digest"
    ESCALATION = "escalation", "Overdue escalation"
    BOTH = "both", "Digest and escalation"


DIGEST_RECEIVERS: Final = frozenset({LegalContactReceives.DIGEST, LegalContactReceives.BOTH})
ESCALATION_RECEIVERS: Final = frozenset({LegalContactReceives.ESCALATION, LegalContactReceives.BOTH})
