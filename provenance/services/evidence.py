"""Evidence packs, produced and audited: a subject's consent facts for some purposes as of a date, with the evidence
decrypted, signed with the organization's current key (``provenance.evidence``). Decrypting evidence is sensitive, so
every pack produced writes an audit entry (``subject.evidence_pack_produced``): that row is the only write, made by
the API's GET too (the audited read the issue asks for; no pack leaves without its audit row)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from consent.catalog import organization_catalog
from consent.models import Subject
from core.enums import AuditAction
from core.models import Organization
from core.problems import InvalidInput
from core.services import audit_log
from provenance.evidence import build_evidence_pack, evidence_pack_jws
from provenance.selectors import evidence_facts
from provenance.services.keys import active_signing_key
from provenance.verify import canonical_json


@dataclass(frozen=True)
class EvidencePack:
    """A pack and its compact JWS (the JWS's payload is the pack's canonical JSON)."""

    pack: dict[str, Any]
    jws: str
    kid: str


def evidence_purposes(organization: Organization, purposes: list[str]) -> list[str]:
    """The purposes a pack covers, in catalog order: those named (each once), or every purpose when none is. Unknown
    keys are a 422 naming each."""
    catalog = organization_catalog(organization)
    unknown = [key for key in purposes if key not in catalog.purposes]
    if unknown:
        raise InvalidInput(
            "Unknown purpose(s); name purposes of your organization's catalog.",
            errors=[{"pointer": "?purposes", "detail": f"unknown purpose '{key}'"} for key in unknown],
        )
    wanted = set(purposes) if purposes else set(catalog.purposes)
    return sorted(wanted)


def evidence_pack_produce(
    *,
    organization: Organization,
    subject: Subject,
    at: datetime,
    purposes: list[str],
    actor: str,
    jwks_url: str,
    channel: str,
) -> EvidencePack:
    """Gather, build and sign the pack; audit it (who, which subject, which date and purposes, the key and the digest of
    what was signed; never the evidence)."""
    chosen = evidence_purposes(organization, purposes)
    now = timezone.now()
    if at > now:
        raise InvalidInput(
            "'at' may not be in the future: a pack states what was on record by then.",
            errors=[{"pointer": "?at", "detail": "in the future"}],
        )
    facts = evidence_facts(organization=organization, subject=subject, at=at, purposes=chosen, jwks_url=jwks_url)
    pack = build_evidence_pack(facts, issued_at=now)
    key = active_signing_key(organization=organization)
    jws = evidence_pack_jws(pack, private_key=key.private_key, kid=key.kid)
    with transaction.atomic():
        audit_log(
            actor=actor,
            action=AuditAction.EVIDENCE_PACK_PRODUCED,
            object_type="subject",
            object_id=subject.pk,
            organization=organization,
            data={
                "subject_uuid": str(subject.uuid),
                "at": pack["at"],
                "purposes": chosen,
                "events": len(pack["events"]),
                "kid": key.kid,
                "pack_sha256": hashlib.sha256(canonical_json(pack)).hexdigest(),
                "channel": channel,
            },
        )
    return EvidencePack(pack=pack, jws=jws, kid=key.kid)
