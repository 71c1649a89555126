"""The consent vocabulary: statuses, actions, collection methods, lawful bases, source kinds, GPC channels and
suppression kinds, with their DPV terms. No models, no queries.

Models, the pure state fold, permission rules, services, selectors, serializers and other apps import it from
here, so each list is spelled once.
"""

from __future__ import annotations

from django.db.models import TextChoices


class ConsentStatus(TextChoices):
    GIVEN = "given", "Given"
    RENEWED = "renewed", "Renewed"
    REFUSED = "refused", "Refused"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"
    INVALIDATED = "invalidated", "Invalidated"
    STALE = "stale", "Stale (material policy change)"
    UNKNOWN = "unknown", "Unknown"


OPT_IN_STATUSES: frozenset[str] = frozenset({ConsentStatus.GIVEN, ConsentStatus.RENEWED})
OPT_OUT_STATUSES: frozenset[str] = frozenset({ConsentStatus.REFUSED, ConsentStatus.WITHDRAWN})

DPV_STATUS_IRIS: dict[str, str] = {
    ConsentStatus.GIVEN: "https://w3id.org/dpv#ConsentGiven",
    ConsentStatus.RENEWED: "https://w3id.org/dpv#RenewedConsentGiven",
    ConsentStatus.REFUSED: "https://w3id.org/dpv#ConsentRefused",
    ConsentStatus.WITHDRAWN: "https://w3id.org/dpv#ConsentWithdrawn",
    ConsentStatus.EXPIRED: "https://w3id.org/dpv#ConsentExpired",
    ConsentStatus.INVALIDATED: "https://w3id.org/dpv#ConsentInvalidated",
    # A material notice change invalidates consent given under the old notice; DPV has no narrower term.
    ConsentStatus.STALE: "https://w3id.org/dpv#ConsentInvalidated",
    ConsentStatus.UNKNOWN: "https://w3id.org/dpv#ConsentUnknown",
}


class Action(TextChoices):
    GRANT = "grant", "Grant"
    REFUSE = "refuse", "Refuse"
    WITHDRAW = "withdraw", "Withdraw"
    INVALIDATE = "invalidate", "Invalidate"
    EXPIRE = "expire", "Expire (system)"


# What a client may record; ``expire`` is written only by the system. Ordered: the API lists them in this order.
CLIENT_ACTIONS = (Action.GRANT, Action.REFUSE, Action.WITHDRAW, Action.INVALIDATE)
CLIENT_ACTION_CHOICES = [(action.value, action.label) for action in CLIENT_ACTIONS]


class CollectionMethod(TextChoices):
    WEB_FORM = "web_form", "Web form"
    MOBILE_APP = "mobile_app", "Mobile app"
    COOKIE_BANNER = "cookie_banner", "Cookie banner"
    API_IMPORT = "api_import", "API import"
    PARTNER_FEED = "partner_feed", "Partner feed"
    EMAIL = "email", "Email"
    PAPER = "paper", "Paper form"
    PHONE = "phone", "Phone"
    IN_PERSON = "in_person", "In person"
    GPC_SIGNAL = "gpc_signal", "Global Privacy Control signal"
    ADMIN = "admin", "Admin (legal team)"
    SYSTEM = "system", "Provenant (system)"


class ReceivedBy(TextChoices):
    """How a consent fact recorded by the legal team in the admin reached them."""

    LETTER = "letter", "Letter"
    PHONE = "phone", "Phone call"
    EMAIL = "email", "Email"
    IN_PERSON = "in_person", "In person"


# What the legal team may record from the admin: the person's withdrawal or refusal, never a grant on their behalf.
STAFF_ACTIONS = (Action.WITHDRAW, Action.REFUSE)
STAFF_ACTION_CHOICES = [(action.value, action.label) for action in STAFF_ACTIONS]


class LawfulBasis(TextChoices):
    CONSENT = "consent", "Consent (GDPR Art. 6(1)(a))"
    CONTRACT = "contract", "Contract (Art. 6(1)(b))"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation (Art. 6(1)(c))"
    VITAL_INTERESTS = "vital_interests", "Vital interests (Art. 6(1)(d))"
    PUBLIC_TASK = "public_task", "Public task (Art. 6(1)(e))"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest (Art. 6(1)(f))"


DPV_LEGAL_BASIS_IRIS = {
    LawfulBasis.CONSENT: "https://w3id.org/dpv/legal/eu/gdpr#A6-1-a",
    LawfulBasis.CONTRACT: "https://w3id.org/dpv/legal/eu/gdpr#A6-1-b",
    LawfulBasis.LEGAL_OBLIGATION: "https://w3id.org/dpv/legal/eu/gdpr#A6-1-c",
    LawfulBasis.VITAL_INTERESTS: "https://w3id.org/dpv/legal/eu/gdpr#A6-1-d",
    LawfulBasis.PUBLIC_TASK: "https://w3id.org/dpv/legal/eu/gdpr#A6-1-e",
    LawfulBasis.LEGITIMATE_INTEREST: "https://w3id.org/dpv/legal/eu/gdpr#A6-1-f",
}


class SourceKind(TextChoices):
    WEB_FORM = "web_form", "Web form"
    MOBILE_APP = "mobile_app", "Mobile app"
    IMPORT = "import", "Import"
    PARTNER = "partner", "Partner / vendor"
    OFFLINE = "offline", "Offline"
    SYSTEM = "system", "Provenant (built in)"


# The kinds a client may register; ``system`` is reserved for the built-in sources.
CLIENT_SOURCE_KIND_CHOICES = [choice for choice in SourceKind.choices if choice[0] != SourceKind.SYSTEM]


class GpcChannel(TextChoices):
    HEADER = "header", "Sec-GPC request header"
    JAVASCRIPT = "javascript", "navigator.globalPrivacyControl reported by the client"
    LINK = "link", "Propagated from a linked subject"


class SuppressionKind(TextChoices):
    EXTERNAL_ID = "external_id", "Subject id"
    EMAIL = "email", "Email"


class WitnessPushStatus(TextChoices):
    """Where one checkpoint stands with one witness (issue #12)."""

    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed after every retry"


class VerificationJobStatus(TextChoices):
    """A ledger verification run in the background (issue #12)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportStatus(TextChoices):
    """A bulk import of consent history (issue #17): queued (API upload waiting for a worker), running, done, failed."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportFormat(TextChoices):
    CSV = "csv", "CSV"
    NDJSON = "ndjson", "NDJSON"
