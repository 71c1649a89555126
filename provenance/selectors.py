"""Reads of the provenance app, scoped by organization: recipients, signing keys, deliveries and the outbox's due
rows, and the facts that receipts and inbound validation are built from."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db.models import Prefetch, Q, QuerySet

from consent.catalog import organization_catalog
from consent.enums import Action
from consent.models import ConsentEvent
from consent.selectors import consent_state_for_subject, event_placement, subject_by_external_id
from core.models import Organization
from provenance.claims import LedgerFacts, LedgerGrant, ProvenanceClaim
from provenance.enums import NOTICE_OPEN_STATUSES, THIRD_PARTY_ROLES, DeliveryStatus
from provenance.models import ConsentNotice, Delivery, DeliveryAttempt, Recipient, SigningKey
from provenance.receipts import ReceiptFacts
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
    purpose, version = event.purpose, event.policy_version
    third_parties = tuple(
        Recipient.objects.filter(
            organization=organization,
            purposes=purpose,
            is_active=True,
            role__in=THIRD_PARTY_ROLES,
        )
        .order_by("name")
        .values_list("name", flat=True)
    )
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
        ledger_log=_placement(organization, event),
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
