"""Reads of the provenance app, scoped by organization: recipients, signing keys, deliveries and the outbox's due
rows, and the facts that receipts, inbound validation and evidence packs are built from."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet, TextField
from django.db.models.functions import Cast

from consent.catalog import organization_catalog
from consent.enums import Action
from consent.ledger import GENESIS_HASH
from consent.models import ConsentEvent, PolicyVersion, Purpose, Subject
from consent.selectors import (
    PurposeConsent,
    consent_state_for_subject,
    event_evidence,
    event_placement,
    evidence_document_content,
    ledger_checkpoint_at,
    subject_by_external_id,
)
from consent.subject_keys import SubjectKeyUnavailable
from core.models import Organization
from provenance.claims import LedgerFacts, LedgerGrant, ProvenanceClaim
from provenance.enums import NOTICE_OPEN_STATUSES, THIRD_PARTY_ROLES, DeliveryStatus
from provenance.evidence import EvidenceFacts, instant
from provenance.models import (
    ConsentNotice,
    Delivery,
    DeliveryAttempt,
    ProvenanceAlert,
    Recipient,
    SigningKey,
    StampRecord,
)
from provenance.receipts import RECEIPT_FORMATS, ReceiptFacts, build_receipt
from provenance.verify import public_jwk

# ---------------------------------------------------------------------------------------------------
# Recipients and signing keys


def recipient_list(*, organization: Organization) -> QuerySet[Recipient]:
    return Recipient.objects.filter(organization=organization).prefetch_related("purposes").order_by("key")


def recipient_by_key(*, organization: Organization, key: str) -> Recipient | None:
    return Recipient.objects.filter(organization=organization, key=key).prefetch_related("purposes").first()


def active_recipient_by_key(*, organization: Organization, key: str) -> Recipient | None:
    """An active recipient, with its purposes; an inactive or unknown one is None."""
    return (
        Recipient.objects.filter(organization=organization, key=key, is_active=True)
        .prefetch_related("purposes")
        .first()
    )


def organization_by_issuer(issuer: str) -> Organization | None:
    """The organization a stamp's ``issuer`` (its public identifier, the slug) names, if any."""
    return Organization.objects.filter(slug=issuer).first()


def jwks(*, organization: Organization | None = None) -> dict[str, Any]:
    """The published signing keys, current and retired, so every stamp still verifies; revoked keys are left
    out. One organization's, or (``organization=None``) every organization's, each kid once (a key from
    before per-organization keys is shared by the organizations that existed then)."""
    queryset = SigningKey.objects.filter(revoked_at__isnull=True).order_by("-activated_at", "pk")
    if organization is not None:
        queryset = queryset.filter(organization=organization)
    keys = []
    seen: set[str] = set()
    for kid, public_key in queryset.values_list("kid", "public_key"):
        if kid in seen:
            continue
        seen.add(kid)
        raw = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
        keys.append(public_jwk(Ed25519PublicKey.from_public_bytes(raw), kid))
    return {"keys": keys}


# ---------------------------------------------------------------------------------------------------
# Deliveries, and what the outbox must send again


def delivery_for_organization(*, organization: Organization, public_id: str) -> Delivery | None:
    """One delivery with its log; another organization's is None."""
    return (
        Delivery.objects.filter(organization=organization, public_id=public_id)
        .select_related("recipient")
        .prefetch_related(Prefetch("log", queryset=DeliveryAttempt.objects.order_by("attempted_at", "id")))
        .first()
    )


def delivery_by_idempotency_key(*, organization: Organization, idempotency_key: str) -> Delivery | None:
    """The delivery a client's Idempotency-Key made; None without a key."""
    if not idempotency_key:
        return None
    return (
        Delivery.objects.filter(organization=organization, idempotency_key=idempotency_key)
        .select_related("recipient")
        .first()
    )


def deliveries_due(*, now: datetime, grace: timedelta) -> QuerySet[Delivery]:
    """Deliveries whose message seems lost: due for longer than ``grace``, or held by a dead worker."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    overdue = Q(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.RETRYING], next_attempt_at__lte=now - grace)
    return Delivery.objects.filter((overdue & free) | Q(status=DeliveryStatus.SENDING, claimed_until__lt=now))


def notices_due(*, now: datetime, grace: timedelta) -> QuerySet[ConsentNotice]:
    """Consent notices whose message seems lost (a notice in flight keeps its status and holds a claim)."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return ConsentNotice.objects.filter(
        free,
        status__in=list(NOTICE_OPEN_STATUSES),
        next_attempt_at__lte=now - grace,
    )


# ---------------------------------------------------------------------------------------------------
# Facts for receipts and inbound validation


def receipt_facts(*, organization: Organization, event_id: str) -> ReceiptFacts | None:
    """The facts a receipt states about one of the organization's ledger events (two queries), or
    None when the organization has no such event."""
    event = (
        ConsentEvent.objects.filter(organization=organization, event_id=event_id)
        .select_related("subject", "purpose", "source", "policy_version")
        .first()
    )
    if event is None:
        return None
    return _receipt_facts_of(organization, event, _third_parties(organization, event.purpose))


def _third_parties(organization: Organization, purpose: Purpose) -> tuple[str, ...]:
    return tuple(
        Recipient.objects.filter(
            organization=organization,
            purposes=purpose,
            is_active=True,
            role__in=THIRD_PARTY_ROLES,
        )
        .order_by("name")
        .values_list("name", flat=True)
    )


def _receipt_facts_of(
    organization: Organization,
    event: ConsentEvent,
    third_parties: tuple[str, ...],
    placement: dict[str, object] | Literal[False] | None = False,
) -> ReceiptFacts:
    purpose, version = event.purpose, event.policy_version
    return ReceiptFacts(
        event_id=event.event_id,
        action=event.action,
        occurred_at=event.occurred_at,
        valid_until=event.valid_until,
        jurisdiction=event.jurisdiction,
        collection_method=event.collection_method,
        subject_id=event.subject.external_id,
        controller_id=organization.slug,
        controller_name=organization.name,
        controller_url=f"https://{organization.site_domain}" if organization.site_domain else None,
        purpose_key=purpose.key,
        purpose_name=purpose.name,
        purpose_description=purpose.description,
        dpv_purpose_iri=purpose.dpv_purpose_iri,
        legal_basis=purpose.legal_basis,
        dpv_legal_basis_iri=purpose.dpv_legal_basis_iri,
        is_sale_or_sharing=purpose.is_sale_or_sharing,
        is_sensitive=purpose.is_sensitive,
        purpose_validity=purpose.validity,
        source_key=event.source.key,
        policy_version=version.version if version else None,
        notice_url=version.notice_url if version else "",
        notice_sha256=version.notice_sha256 if version else None,
        third_parties=third_parties,
        ledger_log=_placement(organization, event) if placement is False else placement,
    )


def _placement(organization: Organization, event: ConsentEvent) -> dict[str, object] | None:
    placement = event_placement(organization, event=event)
    return placement.to_dict() if placement is not None else None


def ledger_facts(*, organization: Organization, claim: ProvenanceClaim) -> LedgerFacts:
    """What the ledger and the catalog say about a claim's subject and purposes (inbound validation)."""
    source_keys = [claim.source] if isinstance(claim.source, str) else []
    catalog = organization_catalog(organization, purpose_keys=claim.purposes, source_keys=source_keys)
    purposes = {key: catalog.purposes[key] for key in claim.purposes if key in catalog.purposes}
    subject = subject_by_external_id(organization=organization, external_id=claim.subject_id)
    statuses: dict[str, str] = {}
    grants: tuple[LedgerGrant, ...] = ()
    if subject is not None and purposes:
        statuses = {
            consent.purpose: consent.status
            for consent in consent_state_for_subject(organization=organization, subject=subject)
            if consent.purpose in purposes
        }
        grants = tuple(
            LedgerGrant(purpose, occurred_at, source, version, jurisdiction)
            for purpose, occurred_at, source, version, jurisdiction in ConsentEvent.objects.filter(
                organization=organization,
                subject=subject,
                purpose__in=list(purposes.values()),
                action=Action.GRANT,
            )
            .order_by("occurred_at", "id")
            .values_list("purpose__key", "occurred_at", "source__key", "policy_version__version", "jurisdiction")
        )
    return LedgerFacts(
        is_subject_known=subject is not None,
        known_purposes=frozenset(purposes),
        statuses=statuses,
        grants=grants,
        registered_sources=frozenset(key for key in source_keys if key in catalog.sources),
        policy_versions={
            key: frozenset(version for (purpose_id, version) in catalog.versions if purpose_id == purpose.pk)
            for key, purpose in purposes.items()
        },
    )


# ---------------------------------------------------------------------------------------------------
# Evidence packs


def _evidence_in_clear(event: ConsentEvent) -> tuple[str, dict[str, Any] | None]:
    """The event's evidence for a pack, and what became of it: recorded and decrypted, none recorded, shredded with
    the erased subject, or a data key that does not open for this subject."""
    if not event.evidence_sealed:
        return "none", None
    if event.subject.wrapped_data_key is None:
        return "erased", None
    try:
        evidence = event_evidence(event)
        document = (evidence or {}).get("document")
        if isinstance(document, dict):
            # The content is kept apart from the ledger row; the pack carries it, checked against the chained digest.
            content = evidence_document_content(event, document)
            if content is not None:
                document["content_base64"] = base64.b64encode(content).decode("ascii")
    except SubjectKeyUnavailable:
        return "unavailable", None
    return ("decrypted", evidence) if evidence is not None else ("unavailable", None)


def _notice(version: PolicyVersion, purpose_key: str) -> dict[str, Any]:
    return {
        "purpose": purpose_key,
        "version": version.version,
        "effective_at": instant(version.effective_at),
        "is_material": version.is_material,
        "notice_sha256": version.notice_sha256,
        "notice_url": version.notice_url or None,
        "notice_text": version.notice_text or None,
    }


def _event_entry(organization: Organization, event: ConsentEvent, third_parties: tuple[str, ...]) -> dict[str, Any]:
    status, evidence = _evidence_in_clear(event)
    placement = _placement(organization, event)
    facts = _receipt_facts_of(organization, event, third_parties, placement)
    version = event.policy_version
    return {
        "event_id": event.event_id,
        "chain_index": event.chain_index,
        "purpose": event.purpose.key,
        "action": event.action,
        "occurred_at": instant(event.occurred_at),
        "recorded_at": instant(event.recorded_at),
        "valid_until": instant(event.valid_until),
        "source": event.source.key,
        "collection_method": event.collection_method,
        "policy_version": version.version if version else None,
        "jurisdiction": event.jurisdiction,
        "gpc": event.gpc,
        "explicit_confirmation": event.explicit_confirmation,
        "supersedes": event.supersedes.event_id if event.supersedes else None,
        "evidence_status": status,
        "evidence": evidence,
        "evidence_sealed": event.evidence_sealed or None,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
        "ledger_log": placement,
        "receipts": {name: build_receipt(facts, name) for name in RECEIPT_FORMATS},
    }


def _state_entry(state: PurposeConsent) -> dict[str, Any]:
    return {
        "purpose": state.purpose,
        "status": state.status,
        "permitted": state.permitted,
        "basis": state.basis,
        "since": instant(state.since),
        "valid_until": instant(state.valid_until),
        "source": state.source,
        "policy_version": state.policy_version,
        "jurisdiction": state.jurisdiction,
        "gpc": state.gpc,
        "event_id": state.event_id,
    }


def evidence_facts(
    *, organization: Organization, subject: Subject, at: datetime, purposes: list[str], jwks_url: str
) -> EvidenceFacts:
    """Everything a subject's evidence pack states for ``purposes`` as of ``at``: the state replayed from the ledger,
    every event that occurred by then with its evidence in clear, its place in the log and its receipts, the notices
    in force, the chain from the genesis hash, and every stamp and delivery about the subject made by then."""
    catalog = organization_catalog(organization)
    chosen = [catalog.purposes[key] for key in purposes]
    states = [
        _state_entry(state)
        for state in consent_state_for_subject(organization=organization, subject=subject, at=at)
        if state.purpose in purposes
    ]
    events = list(
        ConsentEvent.objects.filter(subject=subject, purpose__in=chosen, occurred_at__lte=at)
        .select_related("subject", "purpose", "source", "policy_version", "supersedes")
        .order_by("chain_index")
    )
    third_parties = {purpose.pk: _third_parties(organization, purpose) for purpose in chosen}
    entries = [_event_entry(organization, event, third_parties[event.purpose_id]) for event in events]
    for entry, event in zip(entries, events, strict=True):
        # A letter dated before the pack's date but entered after it: in the pack (it is what happened), and said.
        entry["recorded_after_at"] = event.recorded_at > at
    last_index = max((event.chain_index for event in events), default=0)
    chain = [
        {"chain_index": index, "event_id": event_id, "prev_hash": prev_hash, "hash": event_hash}
        for index, event_id, prev_hash, event_hash in ConsentEvent.objects.filter(
            subject=subject, chain_index__lte=last_index
        )
        .order_by("chain_index")
        .values_list("chain_index", "event_id", "prev_hash", "hash")
    ]
    purpose_keys = {purpose.pk: purpose.key for purpose in chosen}
    versions: dict[int, PolicyVersion] = {}
    in_force: set[int] = set()
    for purpose in chosen:
        version = catalog.current_version(purpose, at)
        if version is not None:
            versions[version.pk] = version
            in_force.add(version.pk)
    for event in events:
        if event.policy_version is not None:
            versions.setdefault(event.policy_version.pk, event.policy_version)
    notices = [
        {**_notice(version, purpose_keys[version.purpose_id]), "in_force_at_pack_date": version.pk in in_force}
        for version in sorted(versions.values(), key=lambda v: (purpose_keys[v.purpose_id], v.effective_at, v.pk))
    ]
    about_subject = Q(subject=subject) | Q(subject_external_id=subject.external_id)
    stamp_rows = [
        record
        for record in StampRecord.objects.filter(about_subject, organization=organization, created_at__lte=at)
        .select_related("recipient")
        .order_by("created_at", "pk")
        if set(record.purposes) & set(purposes)
    ]
    delivery_rows = [
        delivery
        for delivery in Delivery.objects.filter(
            organization=organization, subject_external_id=subject.external_id, created_at__lte=at
        )
        .select_related("recipient")
        .order_by("created_at", "pk")
        if set(delivery.purposes) & set(purposes)
    ]
    recipients = {row.recipient.pk: row.recipient for row in stamp_rows}
    recipients.update({row.recipient.pk: row.recipient for row in delivery_rows})
    checkpoint = ledger_checkpoint_at(organization)
    return EvidenceFacts(
        issuer=organization.slug,
        organization_name=organization.name,
        jwks_url=jwks_url,
        subject={
            "id": subject.external_id,
            "uuid": str(subject.uuid),
            "jurisdiction": subject.jurisdiction or None,
            "is_erased": subject.is_erased,
        },
        at=at,
        purposes=purposes,
        state=states,
        events=entries,
        notices=notices,
        chain=chain,
        recipients=[
            {
                "key": recipient.key,
                "name": recipient.name,
                "role": recipient.role,
                "is_third_party": recipient.is_third_party,
                "data_categories": list(recipient.data_categories),
            }
            for recipient in recipients.values()
        ],
        stamps=[
            {
                "stamp_id": record.stamp_id,
                "stamped_at": instant(record.created_at),
                "recipient": record.recipient.key,
                "purposes": list(record.purposes),
                "decision": record.decision,
                "reasons": list(record.reasons),
                "relied_on_event_ids": list(record.relied_on_event_ids),
                "data_categories": list(record.data_categories),
                "data_digest": record.data_digest,
                "kid": record.kid or None,
                "jurisdiction": record.jurisdiction or None,
            }
            for record in stamp_rows
        ],
        deliveries=[
            {
                "delivery_id": delivery.public_id,
                "created_at": instant(delivery.created_at),
                "finished_at": instant(delivery.finished_at),
                "recipient": delivery.recipient.key,
                "purposes": list(delivery.purposes),
                "status": delivery.status,
                "attempts": delivery.attempts,
                "stamp_id": delivery.stamp_id or None,
            }
            for delivery in delivery_rows
        ],
        genesis_hash=GENESIS_HASH,
        log_checkpoint=checkpoint.note if checkpoint is not None else None,
        warnings=(
            ["The subject was erased: evidence recorded for it can no longer be decrypted."]
            if subject.is_erased
            else []
        ),
    )


# ---------------------------------------------------------------------------------------------------
# Lists for integrators (issue #17): keyset-paginated by the API in id order


def stamp_record_list(
    *,
    organization: Organization,
    recipient: Recipient | None = None,
    decision: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
) -> QuerySet[StampRecord]:
    """The organization's stamping decisions; ``reason``: those refused (at least partly) for that reason."""
    records = StampRecord.objects.filter(organization=organization).select_related("recipient")
    if recipient is not None:
        records = records.filter(recipient=recipient)
    if decision is not None:
        records = records.filter(decision=decision)
    if reason is not None:
        if connection.vendor == "postgresql":
            records = records.filter(reasons__contains=[{"reason": reason}])
        else:  # SQLite (make run) has no JSON containment: the reason code (one of ours) matched in the JSON text
            records = records.annotate(reasons_text=Cast("reasons", TextField())).filter(
                reasons_text__contains=json.dumps({"reason": reason})[1:-1]
            )
    if since is not None:
        records = records.filter(created_at__gte=since)
    return records


def delivery_list(
    *, organization: Organization, status: str | None = None, recipient: Recipient | None = None
) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(organization=organization).select_related("recipient")
    if status is not None:
        deliveries = deliveries.filter(status=status)
    if recipient is not None:
        deliveries = deliveries.filter(recipient=recipient)
    return deliveries


def provenance_alert_list(
    *, organization: Organization, status: str | None = None, kind: str | None = None
) -> QuerySet[ProvenanceAlert]:
    alerts = ProvenanceAlert.objects.filter(organization=organization)
    if status is not None:
        alerts = alerts.filter(status=status)
    if kind is not None:
        alerts = alerts.filter(kind=kind)
    return alerts
