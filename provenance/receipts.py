"""Consent receipts for the person: Kantara CR v1.1 and ISO/IEC TS 27560, built from one ledger event.

Pure functions: :class:`ReceiptFacts` in, a JSON-ready dict out. No ORM, so the receipt formats are
tested without a database. The API layer gathers the facts and, on request, signs the receipt as a
compact JWS (``receipt_jws``) that anyone verifies with ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.enums import DPV_LEGAL_BASIS_IRIS, DPV_STATUS_IRIS, Action, CollectionMethod
from consent.ledger import format_instant
from core.timeutil import add_duration, parse_iso_duration
from provenance.verify import ALGORITHM, canonical_json

KANTARA_FORMAT = "kantara-1.1"
ISO27560_FORMAT = "iso27560"
RECEIPT_FORMATS = (KANTARA_FORMAT, ISO27560_FORMAT)
DEFAULT_FORMAT = KANTARA_FORMAT

KANTARA_VERSION = "KI-CR-v1.1.0"
ISO27560_SCHEMA_VERSION = "ISO/IEC TS 27560:2023"
RECEIPT_LANGUAGE = "en"  # purpose texts carry no language tag; the service's language is English
RECEIPT_JWS_TYPE = "consent-receipt+jws"
LEDGER_LOG_MEMBER = "ledger_log"

# The consent status each ledger action leaves the purpose in (27560 ``event_state``, as a DPV IRI).
_STATE_AFTER: dict[str, str] = {
    Action.GRANT.value: "given",
    Action.REFUSE.value: "refused",
    Action.WITHDRAW.value: "withdrawn",
    Action.INVALIDATE.value: "invalidated",
    Action.EXPIRE.value: "expired",
}
# Events recorded by Provenant (expiry sweeps) or the legal team: the controller acted, not the person.
# A GPC signal is the person's own act, sent by their browser.
_CONTROLLER_METHODS = {CollectionMethod.SYSTEM.value, CollectionMethod.ADMIN.value}
_LEGAL_BASIS_IRIS: dict[str, str] = {basis.value: iri for basis, iri in DPV_LEGAL_BASIS_IRIS.items()}


@dataclass(frozen=True)
class ReceiptFacts:
    """Everything a receipt says, read from one ledger event and its catalog rows."""

    event_id: str
    action: str
    occurred_at: datetime
    valid_until: datetime | None
    jurisdiction: str
    collection_method: str
    subject_id: str
    controller_id: str
    controller_name: str
    controller_url: str | None
    purpose_key: str
    purpose_name: str
    purpose_description: str
    dpv_purpose_iri: str
    legal_basis: str
    dpv_legal_basis_iri: str
    is_sale_or_sharing: bool
    is_sensitive: bool
    purpose_validity: str
    source_key: str
    policy_version: str | None
    notice_url: str
    notice_sha256: str | None
    third_parties: tuple[str, ...] = ()
    # The event's leaf in the organization's transparency log and its RFC 9162 inclusion proof against the latest
    # signed checkpoint that covers it (consent's EventPlacement.to_dict()); None until the sequencer reached it.
    ledger_log: Mapping[str, object] | None = None


class UnknownReceiptFormat(ValueError):
    """The receipt format is not one of :data:`RECEIPT_FORMATS`."""


def build_receipt(facts: ReceiptFacts, receipt_format: str = DEFAULT_FORMAT) -> dict[str, Any]:
    builders: dict[str, Callable[[ReceiptFacts], dict[str, Any]]] = {
        KANTARA_FORMAT: kantara_receipt,
        ISO27560_FORMAT: iso27560_receipt,
    }
    builder = builders.get(receipt_format)
    if builder is None:
        raise UnknownReceiptFormat(receipt_format)
    return builder(facts)


def _purpose_text(facts: ReceiptFacts) -> str:
    return facts.purpose_description or facts.purpose_name


def _lawful_basis_iri(facts: ReceiptFacts) -> str | None:
    return facts.dpv_legal_basis_iri or _LEGAL_BASIS_IRIS.get(facts.legal_basis)


def _collection_method_label(code: str) -> str:
    try:
        return str(CollectionMethod(code).label)
    except ValueError:
        return code


def kantara_receipt(facts: ReceiptFacts) -> dict[str, Any]:
    """Kantara Initiative Consent Receipt v1.1.0: the required fields, one service with one purpose."""
    controller: dict[str, Any] = {
        "piiController": facts.controller_name,
        # v1.1 makes contact, address, email and phone required members. Provenant does not hold the
        # controller's postal or contact details, so they are present and empty (address is a
        # PostalAddress object in v1.1, hence {}) rather than omitted, which would fail validators.
        # onBehalf is optional and not known here: omitted.
        "contact": "",
        "address": {},
        "email": "",
        "phone": "",
    }
    if facts.controller_url:
        controller["piiControllerUrl"] = facts.controller_url  # optional: only when known
    purpose = {
        "purpose": _purpose_text(facts),
        "purposeCategory": [facts.dpv_purpose_iri] if facts.dpv_purpose_iri else [],
        "consentType": "EXPLICIT",
        # Provenant records consent per purpose, not the PII categories the purpose covers.
        "piiCategory": [],
        "primaryPurpose": True,  # a receipt covers one ledger event, so one purpose, which is primary
        "termination": format_instant(facts.valid_until) if facts.valid_until else "withdrawal",
        "thirdPartyDisclosure": facts.is_sale_or_sharing,
        "thirdPartyName": ", ".join(facts.third_parties),
    }
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": facts.jurisdiction,
        "consentTimestamp": int(facts.occurred_at.timestamp()),
        "collectionMethod": _collection_method_label(facts.collection_method),
        "consentReceiptID": facts.event_id,
        "language": RECEIPT_LANGUAGE,
        "piiPrincipalId": facts.subject_id,
        "piiControllers": [controller],
        "policyUrl": facts.notice_url,
        "services": [{"service": facts.purpose_name, "purposes": [purpose]}],
        "sensitive": facts.is_sensitive,
        # An extension member (v1.1 defines none for it): the proof that the event is in the organization's log.
        LEDGER_LOG_MEMBER: _ledger_log(facts),
    }


def validity_duration(facts: ReceiptFacts) -> str | None:
    """The grant's validity as an ISO 8601 duration: the purpose's own (``P6M``) when it is what fixed
    ``valid_until``, else the exact span; None when the consent does not expire."""
    if facts.valid_until is None:
        return None
    if facts.purpose_validity:
        try:
            if add_duration(facts.occurred_at, parse_iso_duration(facts.purpose_validity)) == facts.valid_until:
                return facts.purpose_validity
        except ValueError:
            pass
    return _exact_duration(int((facts.valid_until - facts.occurred_at).total_seconds()))


def _exact_duration(seconds: int) -> str:
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    date_part = f"{days}D" if days else ""
    time_part = "".join(f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (secs, "S")) if value)
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + (f"T{time_part}" if time_part else "")


def iso27560_receipt(facts: ReceiptFacts) -> dict[str, Any]:
    """ISO/IEC TS 27560 consent record, with the field names of the DPV implementation guide
    (https://w3id.org/dpv/guides/consent-27560). Mandatory fields are always present; a value
    Provenant does not hold is null."""
    party_id = f"org:{facts.controller_id}"
    notice = (
        {"url": facts.notice_url or None, "version": facts.policy_version, "sha256": facts.notice_sha256}
        if facts.policy_version
        else None  # no notice version was recorded with the event
    )
    state = _STATE_AFTER.get(facts.action)
    return {
        "metadata": {
            "schema_version": ISO27560_SCHEMA_VERSION,
            # The ledger event is the record; its receipt carries the same ULID, as the Kantara one does.
            "record_id": facts.event_id,
            "receipt_id": facts.event_id,
            "pii_principal_id": facts.subject_id,
        },
        "processing": {
            "privacy_notice": notice,
            "language": RECEIPT_LANGUAGE,
            "purpose": _purpose_text(facts),
            "purpose_type": facts.dpv_purpose_iri or None,
            "lawful_basis": _lawful_basis_iri(facts),
            # Provenant records consent per purpose; which PII categories a purpose covers is not held.
            "pii_information": None,
            "pii_controllers": [party_id],
            "collection_method": facts.collection_method,
            # Where the controller stores the PII and for how long is not held in Provenant.
            "storage_locations": None,
            "retention_period": None,
            "jurisdiction": facts.jurisdiction,
            # Recipients registered as third parties (or independent controllers) for this purpose.
            "recipient_third_parties": list(facts.third_parties),
            # The controller's withdrawal channel (a form, an address) is not held in Provenant.
            "withdrawal_method": None,
        },
        "party": {
            "party_id": party_id,
            "name": facts.controller_name,
            "type": "pii_controller",
            "role": "controller",
            # The controller's postal address, contact person, email and phone are not held in Provenant.
            "address": None,
            "contact": None,
            "email": None,
            "phone": None,
            "url": facts.controller_url,
        },
        "event": {
            "event_time": format_instant(facts.occurred_at),
            "validity_duration": validity_duration(facts),
            "entity_id": party_id if facts.collection_method in _CONTROLLER_METHODS else facts.subject_id,
            "event_type": facts.action,
            "event_state": DPV_STATUS_IRIS[state] if state else None,
        },
        # Beyond the TS 27560 record: the proof that the event is in the organization's transparency log.
        LEDGER_LOG_MEMBER: _ledger_log(facts),
    }


def _ledger_log(facts: ReceiptFacts) -> dict[str, object] | None:
    return dict(facts.ledger_log) if facts.ledger_log is not None else None


# ------------------------------------------------------------------------------------------------
# Signing: a compact JWS whose payload is the receipt's JCS bytes (RFC 7515 + RFC 8785)
# ------------------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def receipt_jws(receipt: dict[str, Any], *, private_key: Ed25519PrivateKey, kid: str) -> str:
    """``header.payload.signature`` (EdDSA, RFC 8037) with the receipt's JCS bytes as the payload,
    embedded rather than detached so the person holds one self-contained string. ``typ`` differs from
    the stamps' so a receipt can never pass for a privacy stamp, or the reverse."""
    header = canonical_json({"alg": ALGORITHM, "kid": kid, "typ": RECEIPT_JWS_TYPE})
    signing_input = f"{_b64url(header)}.{_b64url(canonical_json(receipt))}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64url(signature)}"
