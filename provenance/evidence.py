"""Evidence packs: one document that answers "show me that this person consented to this purpose on that date, and what
you sent about them to whom", signed as a compact JWS an auditor checks with the organization's JWKS.

Pure functions: :class:`EvidenceFacts` (plain JSON-ready values gathered by ``provenance.selectors.evidence_facts``)
in, the pack out. The signature is an embedded compact JWS, ``header.payload.signature`` (EdDSA, RFC 8037), whose
payload is the pack's RFC 8785 canonical JSON; its ``typ`` is the pack's own, so a pack never passes for a privacy
stamp, a consent receipt or a DSAR certificate (nor any of them for a pack).

To verify a pack: fetch ``/.well-known/jwks/<issuer>.json``, take the key whose ``kid`` the JWS header names, check
the Ed25519 signature over ``<header>.<payload>`` (the ASCII of the first two parts) and that the header's ``typ`` is
:data:`EVIDENCE_PACK_JWS_TYPE`; the payload (base64url) is the pack itself. :func:`verify_evidence_pack` does exactly
that with ``cryptography`` alone.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance.verify import ALGORITHM, canonical_json

EVIDENCE_PACK_TYPE: Final = "consent-evidence-pack"
EVIDENCE_PACK_VERSION: Final = 1
# Distinct from the stamps', receipts' and certificates' typ: a pack never passes for any of them.
EVIDENCE_PACK_JWS_TYPE: Final = "consent-evidence-pack+jws"
PDF_ATTACHMENT_NAME: Final = "evidence-pack.jws"


@dataclass(frozen=True)
class EvidenceFacts:
    """What a pack states, as JSON-ready values (strings, numbers, booleans, None, lists and dicts of them)."""

    issuer: str
    organization_name: str
    jwks_url: str
    subject: Mapping[str, Any]
    at: datetime
    purposes: Sequence[str]
    state: Sequence[Mapping[str, Any]]
    events: Sequence[Mapping[str, Any]]
    notices: Sequence[Mapping[str, Any]]
    chain: Sequence[Mapping[str, Any]]
    recipients: Sequence[Mapping[str, Any]]
    stamps: Sequence[Mapping[str, Any]]
    deliveries: Sequence[Mapping[str, Any]]
    genesis_hash: str = "0" * 64
    log_checkpoint: str | None = None
    warnings: Sequence[str] = field(default_factory=tuple)


def instant(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a Z, to the microsecond the database keeps."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def end_of_day(day: date) -> datetime:
    """The last instant of a UTC calendar day: a pack "on 3 March" covers everything until midnight UTC."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def parse_evidence_at(value: str) -> datetime | None:
    """``at`` as the API and the admin take it: a date (``2026-03-03``, the end of that day in UTC) or an RFC 3339
    instant with an offset. None when it is neither."""
    text = value.strip()
    try:
        if len(text) == 10:
            return end_of_day(date.fromisoformat(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            return None
        parsed.astimezone(UTC)  # 0001-01-01T00:00+01:00 has no UTC instant
    except (ValueError, OverflowError):
        return None
    return parsed


def _stamps_by_recipient(stamps: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for stamp in sorted(stamps, key=lambda item: (str(item["stamped_at"]), str(item["stamp_id"]))):
        grouped.setdefault(str(stamp["recipient"]), []).append(dict(stamp))
    return grouped


def _relied_on(stamp: Mapping[str, Any], events: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The consent events a stamp rested on, as the pack lists them (what was decided on which fact)."""
    relied: list[dict[str, Any]] = []
    for event_id in stamp.get("relied_on_event_ids") or []:
        event = events.get(event_id)
        relied.append(
            {
                "event_id": event_id,
                "purpose": event["purpose"] if event else None,
                "action": event["action"] if event else None,
                "occurred_at": event["occurred_at"] if event else None,
                "in_pack": event is not None,
            }
        )
    return relied


def build_evidence_pack(facts: EvidenceFacts, *, issued_at: datetime) -> dict[str, Any]:
    """The pack: JSON values only, ready for canonical JSON and for rendering."""
    events_by_id = {str(event["event_id"]): event for event in facts.events}
    stamps = _stamps_by_recipient(facts.stamps)
    deliveries: dict[str, list[dict[str, Any]]] = {}
    for delivery in sorted(facts.deliveries, key=lambda item: (str(item["created_at"]), str(item["delivery_id"]))):
        deliveries.setdefault(str(delivery["recipient"]), []).append(dict(delivery))
    recipients = []
    for recipient in sorted(facts.recipients, key=lambda item: str(item["key"])):
        key = str(recipient["key"])
        recipient_stamps = [{**stamp, "relied_on": _relied_on(stamp, events_by_id)} for stamp in stamps.get(key, [])]
        recipients.append({**dict(recipient), "stamps": recipient_stamps, "deliveries": deliveries.get(key, [])})
    return {
        "type": EVIDENCE_PACK_TYPE,
        "version": EVIDENCE_PACK_VERSION,
        "issued_at": instant(issued_at),
        "issuer": facts.issuer,
        "organization": facts.organization_name,
        "at": instant(facts.at),
        "purposes": list(facts.purposes),
        "subject": dict(facts.subject),
        "state": [dict(item) for item in facts.state],
        "events": [dict(item) for item in facts.events],
        "notices": [dict(item) for item in facts.notices],
        "chain": {
            "genesis_hash": facts.genesis_hash,
            "links": [dict(link) for link in facts.chain],
            "checkpoint": facts.log_checkpoint,
        },
        "recipients": recipients,
        "warnings": list(facts.warnings),
        "verification": {
            "jws_typ": EVIDENCE_PACK_JWS_TYPE,
            "alg": ALGORITHM,
            "jwks_url": facts.jwks_url,
            "payload": "RFC 8785 canonical JSON of this pack (without the jws member the API adds)",
        },
    }


def chain_problems(pack: Mapping[str, Any]) -> list[str]:
    """What is wrong with the pack's chain of hashes: each link names the previous link's hash, from the genesis hash
    on, and every event of the pack is a link with the same hashes. Empty when the chain holds."""
    problems: list[str] = []
    chain = pack.get("chain") or {}
    previous = chain.get("genesis_hash")
    links = {}
    for position, link in enumerate(chain.get("links") or [], start=1):
        if link.get("chain_index") != position:
            problems.append(f"link {position} has chain index {link.get('chain_index')}")
        if link.get("prev_hash") != previous:
            problems.append(f"link {position} does not follow the previous hash")
        previous = link.get("hash")
        links[link.get("event_id")] = link
    for event in pack.get("events") or []:
        link = links.get(event.get("event_id"))
        if link is None or (link.get("hash"), link.get("prev_hash")) != (event.get("hash"), event.get("prev_hash")):
            problems.append(f"event {event.get('event_id')} is not on the chain")
    return problems


# ------------------------------------------------------------------------------------------------
# Signing and verifying: a compact JWS whose payload is the pack's JCS bytes (RFC 7515 + RFC 8785)
# ------------------------------------------------------------------------------------------------


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def evidence_pack_jws(pack: Mapping[str, Any], *, private_key: Ed25519PrivateKey, kid: str) -> str:
    """``header.payload.signature`` with the pack's JCS bytes embedded as the payload."""
    if not kid:
        raise ValueError("kid must be a non-empty string")
    header = canonical_json({"alg": ALGORITHM, "kid": kid, "typ": EVIDENCE_PACK_JWS_TYPE})
    signing_input = f"{_b64url(header)}.{_b64url(canonical_json(dict(pack)))}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64url(signature)}"


def verify_evidence_pack(jws: str, jwks: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pack a compact JWS carries when its EdDSA signature verifies with a key of ``jwks`` and its ``typ`` is an
    evidence pack's; None otherwise (any malformed part included)."""
    parts = jws.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    try:
        header = json.loads(_b64url_decode(parts[0]))
        signature = _b64url_decode(parts[2])
        payload = json.loads(_b64url_decode(parts[1]))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return None
    if header.get("alg") != ALGORITHM or header.get("typ") != EVIDENCE_PACK_JWS_TYPE or "crit" in header:
        return None
    for key in jwks.get("keys") or []:
        if key.get("kid") != header.get("kid") or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            continue
        try:
            public_key = Ed25519PublicKey.from_public_bytes(_b64url_decode(str(key.get("x", ""))))
            public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        except (ValueError, binascii.Error, InvalidSignature):
            return None
        return payload
    return None
