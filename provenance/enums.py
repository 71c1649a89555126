"""The provenance vocabulary: recipient roles, stamp decisions and refusal reasons, delivery and notice statuses,
attempt outcomes, consent changes, alert statuses and kinds, inbound validation problems. No models, no queries.

Models, the pure rules (enforcement, notice rules, claims), services, serializers, admin and other apps import it
from here, so each list is spelled once.
"""

from __future__ import annotations

from typing import Final

from django.db.models import TextChoices


class RecipientRole(TextChoices):
    PROCESSOR = "processor", "Processor (GDPR Art. 28)"
    SERVICE_PROVIDER = "service_provider", "Service provider (CCPA)"
    THIRD_PARTY = "third_party", "Third party"
    CONTROLLER = "controller", "Independent controller"


# Recipients that receive data as a sale or share (not on the organization's behalf).
THIRD_PARTY_ROLES: Final = frozenset({RecipientRole.THIRD_PARTY, RecipientRole.CONTROLLER})
# Recipients that may use the data only on the organization's behalf.
SERVICE_PROVIDER_ROLES: Final = frozenset({RecipientRole.PROCESSOR, RecipientRole.SERVICE_PROVIDER})


class StampDecision(TextChoices):
    ALLOW = "allow", "Allow"
    BLOCK = "block", "Block"


# A stamp result that is neither: the request itself was invalid (never stored as a StampRecord's decision).
STAMP_ERROR: Final = "error"


class StampReason(TextChoices):
    """Machine-readable reasons a stamp is refused; ``provenance.enforcement.RULES`` names the rule of each."""

    NO_CONSENT = "NO_CONSENT", "No consent on record"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN", "Consent withdrawn"
    CONSENT_EXPIRED = "CONSENT_EXPIRED", "Consent expired"
    POLICY_STALE = "POLICY_STALE", "Consent given under an older notice"
    SALE_SHARE_OPTED_OUT = "SALE_SHARE_OPTED_OUT", "Opted out of sale/sharing"
    PURPOSE_NOT_REGISTERED = "PURPOSE_NOT_REGISTERED_FOR_RECIPIENT", "Purpose not registered for the recipient"
    OBJECTED = "OBJECTED", "Objected"


class DeliveryStatus(TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    BLOCKED = "blocked", "Blocked (no consent when sending)"
    RETRYING = "retrying", "Retrying"
    DEAD = "dead", "Dead-lettered"


DELIVERY_OPEN_STATUSES: Final = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)
DELIVERY_TERMINAL_STATUSES: Final = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.BLOCKED, DeliveryStatus.DEAD})


class NoticeStatus(TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent, awaiting acknowledgment"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RETRYING = "retrying", "Retrying"
    DEAD = "dead", "Dead-lettered"


NOTICE_OPEN_STATUSES: Final = (NoticeStatus.PENDING, NoticeStatus.RETRYING)


class AttemptOutcome(TextChoices):
    """What one try of a delivery or a consent notice came to (``DeliveryAttempt.outcome``)."""

    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    BLOCKED = "blocked"
    INVALID = "invalid"
    REFUSED = "refused"
    NETWORK_ERROR = "network_error"
    RETRYABLE_ERROR = "retryable_error"
    REJECTED = "rejected"
    NO_SECRET = "no_secret"
    INTERRUPTED = "interrupted"


class ChangeType(TextChoices):
    """A consent change a recipient is told of (``ConsentNotice.change``)."""

    WITHDRAWN = "withdrawn"
    GPC_OPT_OUT = "gpc_opt_out"
    REFUSED = "refused"
    EXPIRED = "expired"
    GRANTED = "granted"


# The webhook event type of each change.
CHANGE_EVENT_TYPES: Final[dict[str, str]] = {
    ChangeType.WITHDRAWN: "consent.withdrawn",
    ChangeType.GPC_OPT_OUT: "consent.gpc_opt_out",
    ChangeType.REFUSED: "consent.refused",
    ChangeType.EXPIRED: "consent.expired",
    ChangeType.GRANTED: "consent.granted",
}
OPT_OUT_CHANGES: Final = frozenset({ChangeType.WITHDRAWN, ChangeType.REFUSED, ChangeType.GPC_OPT_OUT})


class AlertStatus(TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class AlertKind(TextChoices):
    VALIDATION = "validation", "Inbound provenance validation"
    DELIVERY_DEAD = "delivery_dead", "Delivery dead-lettered"
    NOTICE_DEAD = "notice_dead", "Consent notice dead-lettered"
    NOTICE_OVERDUE = "notice_overdue", "Consent notice not acknowledged by its deadline"


class ValidationProblem(TextChoices):
    """How an inbound record's claimed field fails (in this order in the API's enum)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    CONTRADICTS_LEDGER = "contradicts_ledger"
    UNKNOWN = "unknown"
