"""What a message template may use: the facts of one request turned into plain values, in the message's language,
and the sample request previews and validation render against. Pure: the caller reads the facts.

Only these variables reach a template (README "Message templates" lists them); never a model instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from dsar.denials import EU_REGIMES
from dsar.enums import DsarRegime, MessageKind, RequestType

TYPE_LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {
        RequestType.ACCESS: "access to your data",
        RequestType.PORTABILITY: "a copy of your data to take elsewhere",
        RequestType.DELETION: "deletion of your data",
        RequestType.CORRECTION: "correction of your data",
        RequestType.OPT_OUT_OF_SALE: "opt-out of sale and sharing",
        RequestType.LIMIT_SENSITIVE: "limit the use of sensitive data",
        RequestType.RESTRICT: "restriction of processing",
        RequestType.OBJECT: "objection to processing",
    },
    "de": {
        RequestType.ACCESS: "Auskunft über Ihre Daten",
        RequestType.PORTABILITY: "Datenübertragbarkeit",
        RequestType.DELETION: "Löschung Ihrer Daten",
        RequestType.CORRECTION: "Berichtigung Ihrer Daten",
        RequestType.OPT_OUT_OF_SALE: "Widerspruch gegen Verkauf und Weitergabe",
        RequestType.LIMIT_SENSITIVE: "Einschränkung der Nutzung sensibler Daten",
        RequestType.RESTRICT: "Einschränkung der Verarbeitung",
        RequestType.OBJECT: "Widerspruch gegen die Verarbeitung",
    },
}
REGIME_LABELS_DE: Final[dict[str, str]] = {
    DsarRegime.GDPR: "DSGVO",
    DsarRegime.UK_GDPR: "UK-DSGVO",
    DsarRegime.FADP: "Schweizer DSG",
}
EXTENSION_REASONS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "complexity": "your request is complex",
        "volume": "we received a large number of requests",
        "redaction": "the data must be reviewed to protect other people's rights, which takes time",
    },
    "de": {
        "complexity": "Ihre Anfrage ist komplex",
        "volume": "wir haben eine große Zahl von Anfragen erhalten",
        "redaction": "die Daten müssen zum Schutz der Rechte anderer Personen geprüft werden, was Zeit braucht",
    },
}


def closure_rule(regime: str) -> str:
    """The rule the identity sweep closes an unverified request under (the same as the recorded reason's)."""
    if regime in EU_REGIMES:
        return "GDPR Art. 12(2), 12(6)"
    return "Cal. Civ. Code §1798.130(a)(2); Cal. Code Regs. tit. 11 §7060-7062"


def remedies(*, regime: str, language: str, appeal_response_days: int | None) -> str:
    """What a person can do against a denial or closure: GDPR Art. 12(4); the appeal under US state laws."""
    if regime in EU_REGIMES:
        authority_en = (
            "the Information Commissioner's Office" if regime == DsarRegime.UK_GDPR else "a supervisory authority"
        )
        authority_de = (
            "dem Information Commissioner's Office"
            if regime == DsarRegime.UK_GDPR
            else "einer Datenschutz-Aufsichtsbehörde"
        )
        if language == "de":
            return (
                f"Sie haben das Recht, sich bei {authority_de} zu beschweren und einen gerichtlichen Rechtsbehelf "
                "einzulegen (DSGVO Art. 12 Abs. 4, Art. 77-79)."
            )
        return (
            f"You have the right to lodge a complaint with {authority_en} and to seek a judicial remedy "
            "(GDPR Art. 12(4), 77-79)."
        )
    if language == "de":
        within = (
            f"; über den Widerspruch wird binnen {appeal_response_days} Tagen entschieden"
            if appeal_response_days
            else ""
        )
        return (
            "Sie können gegen diese Entscheidung Widerspruch einlegen, indem Sie auf diese Nachricht "
            f"antworten{within}. Wird er abgelehnt, können Sie sich an den Attorney General Ihres "
            "Bundesstaates wenden (in Kalifornien an die California Privacy Protection Agency)."
        )
    within = f"; the appeal is decided within {appeal_response_days} days" if appeal_response_days else ""
    return (
        f"You may appeal this decision by replying to this message{within}. If the appeal is denied you may contact "
        "your state Attorney General (or, in California, the California Privacy Protection Agency)."
    )


@dataclass(frozen=True)
class NamedOutcome:
    """A system or recipient told about an erasure, and whether it confirmed."""

    name: str
    confirmed: bool


@dataclass(frozen=True)
class ErasureFacts:
    """What a deletion erased: Provenant's own records of the person, earlier exports, and outside systems."""

    profile_erased: bool
    exports_deleted: int = 0
    systems: Sequence[NamedOutcome] = ()


def erased_items(erasure: ErasureFacts | None, *, organization_name: str, language: str) -> list[str]:
    """The list a deletion's completion message shows, in the message's language."""
    if erasure is None:
        return []
    items: list[str] = []
    de = language == "de"
    if erasure.profile_erased:
        items.append(
            f"Ihr Profil und Ihre Einwilligungsnachweise bei {organization_name} (kryptografisch gelöscht)"
            if de
            else f"your profile and consent records at {organization_name} (crypto-shredded)"
        )
    if erasure.exports_deleted:
        items.append(
            f"{erasure.exports_deleted} frühere Kopie(n) Ihrer Daten, die wir für Sie erstellt hatten"
            if de
            else f"{erasure.exports_deleted} earlier copy (copies) of your data we had prepared for you"
        )
    for system in erasure.systems:
        state = (
            ("bestätigt" if system.confirmed else "noch nicht bestätigt")
            if de
            else ("confirmed" if system.confirmed else "not confirmed yet")
        )
        items.append(f"{'Ihre Daten in' if de else 'your data in'} {system.name} ({state})")
    return items


@dataclass(frozen=True)
class MessageFacts:
    """Everything a message may say about one request; the step that sends it fills what it knows."""

    organization_name: str
    request_id: str
    request_type: str
    regime: str
    received_on: date
    due_on: date
    confirm_by: date | None = None
    needs_verification: bool = False
    verification_url: str = ""
    link_hours: int = 0
    reminder_day: int = 0
    extension_reason_code: str = ""
    extension_rule: str = ""
    download_url: str = ""
    download_expires_at: datetime | None = None
    erasure: ErasureFacts | None = None
    recipients: Sequence[NamedOutcome] = ()
    opted_out_purposes: Sequence[str] = ()
    reason: str = ""
    staff_text: str = ""
    appeal_response_days: int | None = None
    identity_requested_on: date | None = None
    identity_cutoff: date | None = None


def message_context(facts: MessageFacts, *, language: str) -> dict[str, Any]:
    """The template's variables: plain strings, numbers, booleans, dates, and lists of them or of small dicts."""
    lang = language if language in TYPE_LABELS else "en"
    regime_label = dict(DsarRegime.choices).get(facts.regime, facts.regime)
    if lang == "de":
        regime_label = REGIME_LABELS_DE.get(facts.regime, regime_label)
    return {
        "organization_name": facts.organization_name,
        "request_id": facts.request_id,
        "request_type": facts.request_type,
        "request_type_label": TYPE_LABELS[lang].get(facts.request_type, facts.request_type),
        "regime": facts.regime,
        "regime_label": regime_label,
        "received_on": facts.received_on,
        "due_on": facts.due_on,
        "confirm_by": facts.confirm_by,
        "needs_verification": facts.needs_verification,
        "verification_url": facts.verification_url,
        "link_hours": facts.link_hours,
        "reminder_day": facts.reminder_day,
        "extension_reason": EXTENSION_REASONS[lang].get(facts.extension_reason_code, facts.extension_reason_code),
        "extension_rule": facts.extension_rule,
        "download_url": facts.download_url,
        "download_expires_at": facts.download_expires_at,
        "erased_items": erased_items(facts.erasure, organization_name=facts.organization_name, language=lang),
        "recipients": [{"name": item.name, "confirmed": item.confirmed} for item in facts.recipients],
        "opted_out_purposes": list(facts.opted_out_purposes),
        "reason": facts.reason,
        "staff_text": facts.staff_text,
        "remedies": remedies(regime=facts.regime, language=lang, appeal_response_days=facts.appeal_response_days),
        "closure_rule": closure_rule(facts.regime),
        "identity_requested_on": facts.identity_requested_on,
        "identity_cutoff": facts.identity_cutoff,
    }


CONTEXT_VARIABLES: Final = tuple(
    message_context(
        MessageFacts("", "", RequestType.ACCESS, DsarRegime.GDPR, date(2026, 1, 1), date(2026, 1, 1)), language="en"
    )
)


def sample_facts(*, kind: str, organization_name: str) -> MessageFacts:
    """The made-up request previews and the validation of overrides render against: an access request under the
    GDPR for the link-carrying and completion messages, with every optional fact filled."""
    return MessageFacts(
        organization_name=organization_name,
        request_id="01SAMPLE0REQUEST000000000",
        request_type=RequestType.ACCESS,
        regime=DsarRegime.GDPR,
        received_on=date(2026, 3, 5),
        due_on=date(2026, 4, 7) if kind != MessageKind.EXTENSION else date(2026, 6, 5),
        confirm_by=date(2026, 3, 19),
        needs_verification=True,
        verification_url="https://privacy.example/api/v1/dsar/verify/SAMPLE-LINK",
        link_hours=72,
        reminder_day=5,
        extension_reason_code="complexity",
        extension_rule="GDPR Art. 12(3) (two further months)",
        download_url="https://privacy.example/api/v1/dsar/exports/SAMPLE-LINK",
        download_expires_at=datetime(2026, 4, 14, 9, 30, tzinfo=UTC),
        erasure=ErasureFacts(profile_erased=True, exports_deleted=1, systems=(NamedOutcome("Sample shop", True),)),
        recipients=(NamedOutcome("Sample CRM", True),),
        opted_out_purposes=("marketing-email",),
        reason="Sample reason for a refusal.",
        staff_text="Sample message from the legal team.",
        appeal_response_days=60,
        identity_requested_on=date(2026, 3, 6),
        identity_cutoff=date(2026, 4, 6),
    )
