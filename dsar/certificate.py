"""DSAR compliance certificates: every clock event of a request, the deadlines that applied and whether each was met,
signed as a compact JWS an auditor checks with the JWKS.

Pure functions: the caller passes plain facts (no ORM). The signature is an embedded (not detached) compact JWS,
``header.payload.signature`` (EdDSA, RFC 8037), whose payload is the certificate's RFC 8785 canonical JSON.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dsar.deadlines import DATE_KEYS, GDPR_FAMILY
from provenance.verify import ALGORITHM, canonical_json

CERTIFICATE_TYPE: Final = "dsar-compliance-certificate"
CERTIFICATE_VERSION: Final = 1
# Distinct from the stamps' and receipts' typ, so a certificate never passes for either.
CERTIFICATE_JWS_TYPE: Final = "dsar-certificate+jws"

RECEIVED: Final = "received"
ACKNOWLEDGED: Final = "acknowledged"
PAUSED: Final = "paused"
VERIFIED: Final = "verified"
EXTENDED: Final = "extended"
COMPLETED: Final = "completed"
REJECTED: Final = "rejected"
EVENT_KINDS: Final = (RECEIVED, ACKNOWLEDGED, PAUSED, VERIFIED, EXTENDED, COMPLETED, REJECTED)

_RESPONSE_STATUSES: Final = frozenset({COMPLETED, REJECTED})
# The deadlines a response answers (besides the enforced one), and the one an acknowledgement answers.
_RESPONSE_SLA_KEYS: Final = frozenset({"response_sla_due", "optout_sla_due"})
_ACKNOWLEDGEMENT_KEYS: Final = frozenset({"confirm_legal_due", "confirm_sla_due"})


@dataclass(frozen=True)
class CertificateStep:
    """One ``RequestTransition`` row; ``from_status == to_status`` marks the extension."""

    at: datetime
    actor: str
    from_status: str
    to_status: str
    reason: str = ""


@dataclass(frozen=True)
class CertificateFacts:
    """What the certificate states about one request: no contact details, no subject id."""

    request_id: str
    organization: str
    request_type: str
    regime: str
    jurisdiction: str
    channel: str
    received_at: datetime
    status: str
    deadlines: Mapping[str, Any]
    steps: Sequence[CertificateStep] = ()
    rejection_reason: str = ""
    extension_reason_code: str = ""
    extension_notice_sent_on: date | None = None


@dataclass(frozen=True)
class _Event:
    kind: str
    at: datetime | None
    on: date
    actor: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": _instant(self.at) if self.at is not None else None,
            "date": self.on.isoformat(),
            "actor": self.actor,
            **self.extra,
        }


def _instant(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")


def _date_or_none(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def clock_events(facts: CertificateFacts) -> list[_Event]:
    """The request's clock events, oldest first, each with its date in the deadline time zone."""
    zone = ZoneInfo(str(facts.deadlines.get("time_zone") or "UTC"))
    pauses_clock = facts.regime in GDPR_FAMILY  # the US laws keep counting while identity is checked

    def local(moment: datetime) -> date:
        return moment.astimezone(zone).date()

    receipt = _date_or_none(facts.deadlines.get("receipt_date")) or local(facts.received_at)
    events = [_Event(RECEIVED, facts.received_at, receipt, "", {"channel": facts.channel})]
    acknowledged = False
    for step in sorted(facts.steps, key=lambda item: item.at):
        if not step.from_status:  # the intake row: its receipt is the event above
            continue
        if step.from_status == step.to_status:
            notice = facts.extension_notice_sent_on
            extra = {
                "reason_code": facts.extension_reason_code,
                "notice_sent_on": notice.isoformat() if notice else None,
            }
            events.append(_Event(EXTENDED, step.at, local(step.at), step.actor, extra))
            continue
        if not acknowledged and step.from_status == RECEIVED and step.to_status not in _RESPONSE_STATUSES:
            acknowledged = True
            events.append(_Event(ACKNOWLEDGED, step.at, local(step.at), step.actor, {"status": step.to_status}))
        if step.to_status == "identity_pending":
            events.append(_Event(PAUSED, step.at, local(step.at), step.actor, {"pauses_clock": pauses_clock}))
        elif step.to_status == VERIFIED:
            events.append(_Event(VERIFIED, step.at, local(step.at), step.actor, {}))
        if step.to_status in _RESPONSE_STATUSES:
            extra = {"reason": step.reason} if step.to_status == REJECTED else {}
            events.append(_Event(step.to_status, step.at, local(step.at), step.actor, extra))
    return events


def _first(events: Iterable[_Event], kinds: frozenset[str]) -> _Event | None:
    return next((event for event in events if event.kind in kinds), None)


def _met(done_on: date | None, due: date, today: date) -> bool | None:
    """True/False once the event happened; False when still missing after the due date; None while pending."""
    if done_on is not None:
        return done_on <= due
    return False if today > due else None


def deadline_rows(facts: CertificateFacts, events: Sequence[_Event], *, today: date) -> list[dict[str, Any]]:
    """Every deadline that applied, with its rule; those an event answers say whether it was met."""
    deadlines, rules = facts.deadlines, facts.deadlines.get("rules") or {}
    enforced_key = deadlines.get("enforced_key")
    response = _first(events, _RESPONSE_STATUSES)
    acknowledgement = _first(events, frozenset({ACKNOWLEDGED}))
    # A request answered without an acknowledgement step was acknowledged by its answer.
    acknowledgement = acknowledgement or response
    extension = _first(events, frozenset({EXTENDED}))
    rows: list[dict[str, Any]] = []
    for key in DATE_KEYS:
        due = _date_or_none(deadlines.get(key))
        if due is None or key == "receipt_date":
            continue
        answered_by: _Event | None
        met: bool | None
        if key == enforced_key or key in _RESPONSE_SLA_KEYS:
            answered_by = response
            met = _met(response.on if response else None, due, today)
        elif key in _ACKNOWLEDGEMENT_KEYS:
            answered_by = acknowledgement
            met = _met(acknowledgement.on if acknowledgement else None, due, today)
        elif key == "extension_notice_due" and extension is not None:
            notice = facts.extension_notice_sent_on
            answered_by = extension
            met = notice <= due if notice is not None else None
        else:
            answered_by, met = None, None  # informational: an alternative or an earlier, superseded date
        rows.append(
            {
                "key": key,
                "due": due.isoformat(),
                "rule": str(rules.get(key, "")),
                "is_enforced": key == enforced_key,
                "answered_by": answered_by.kind if answered_by is not None else None,
                "met": met,
            }
        )
    return rows


def build_certificate(facts: CertificateFacts, *, issued_at: datetime) -> dict[str, Any]:
    """The certificate body: JSON values only (strings, booleans, integers, null), ready for canonical JSON."""
    deadlines = facts.deadlines
    zone = ZoneInfo(str(deadlines.get("time_zone") or "UTC"))
    today = issued_at.astimezone(zone).date()
    events = clock_events(facts)
    rows = deadline_rows(facts, events, today=today)
    enforced = next((row for row in rows if row["is_enforced"]), None)
    response = _first(events, _RESPONSE_STATUSES)
    return {
        "type": CERTIFICATE_TYPE,
        "version": CERTIFICATE_VERSION,
        "issued_at": _instant(issued_at),
        "request": {
            "id": facts.request_id,
            "organization": facts.organization,
            "type": facts.request_type,
            "regime": facts.regime,
            "jurisdiction": facts.jurisdiction,
            "channel": facts.channel,
            "received_at": _instant(facts.received_at),
            "status": facts.status,
            "time_zone": str(deadlines.get("time_zone") or ""),
            "calendar": str(deadlines.get("calendar") or ""),
        },
        "events": [event.to_dict() for event in events],
        "deadlines": rows,
        "outcome": {
            "status": facts.status,
            "responded_on": response.on.isoformat() if response is not None else None,
            "enforced_key": str(deadlines.get("enforced_key") or ""),
            "enforced_due": str(deadlines.get("enforced_due") or ""),
            "paused_days": int(deadlines.get("paused_days") or 0),
            "met": enforced["met"] if enforced is not None else None,
        },
    }


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def certificate_jws(certificate: Mapping[str, Any], *, private_key: Ed25519PrivateKey, kid: str) -> str:
    """``header.payload.signature`` with the certificate's JCS bytes embedded as the payload."""
    if not kid:
        raise ValueError("kid must be a non-empty string")
    header = canonical_json({"alg": ALGORITHM, "kid": kid, "typ": CERTIFICATE_JWS_TYPE})
    signing_input = f"{_b64url(header)}.{_b64url(canonical_json(dict(certificate)))}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64url(signature)}"
