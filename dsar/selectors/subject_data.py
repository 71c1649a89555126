"""What Provenant itself holds about a request's subject, read for the export and the erasure: the profile, the
consent history with evidence in clear, the consent state, the stamp log and the sources involved."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.db.models import Q

from consent.enums import LawfulBasis
from consent.models import ConsentEvent, PolicyVersion, Purpose, Source, Subject
from consent.selectors.ledger import (
    consent_history,
    consent_state_for_subject,
    event_evidence,
    shared_evidence,
    subject_by_external_id,
    subject_email,
)
from consent.subject_ids import email_index_candidates
from core.crypto import normalize_email
from core.models import Organization
from dsar.cover_letter import CoverLetterFacts, PurposeFacts, RecipientFacts, SourceFacts
from dsar.export_archive import Table
from dsar.models import DataSubjectRequest
from dsar.selectors.requests import dsar_requester_email
from provenance.enums import RecipientRole
from provenance.models import Recipient, StampRecord

HISTORY_PAGE: Final = 500


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event_row(event: ConsentEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "chain_index": event.chain_index,
        "purpose": event.purpose.key,
        "action": event.action,
        "occurred_at": _instant(event.occurred_at),
        "recorded_at": _instant(event.recorded_at),
        "valid_until": _instant(event.valid_until),
        "source": event.source.key,
        "collection_method": event.collection_method,
        "policy_version": event.policy_version.version if event.policy_version else None,
        "jurisdiction": event.jurisdiction,
        "gpc": event.gpc,
        "supersedes": event.supersedes.event_id if event.supersedes else None,
        "evidence": shared_evidence(event_evidence(event)),
        "hash": event.hash,
    }


def _history(subject: Subject) -> list[ConsentEvent]:
    events: list[ConsentEvent] = []
    after = 0
    while True:
        page, has_more = consent_history(subject=subject, after_chain_index=after, limit=HISTORY_PAGE)
        events.extend(page)
        if not has_more or not page:
            return events
        after = page[-1].chain_index


def subject_tables(*, organization: Organization, subject: Subject | None) -> list[Table]:
    """Everything Provenant itself holds about the subject: profile, consent history with evidence in clear,
    current consent state, the stamp log (decisions only, never the data) and the sources involved."""
    events = _history(subject) if subject is not None else []
    profile: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    stamps: list[dict[str, Any]] = []
    if subject is not None:
        profile = [
            {
                "external_id": subject.external_id,
                "uuid": str(subject.uuid),
                "email": subject_email(subject),
                "jurisdiction": subject.jurisdiction,
                "created_at": _instant(subject.created_at),
            }
        ]
        states = [
            {
                "purpose": state.purpose,
                "status": state.status,
                "permitted": state.permitted,
                "basis": state.basis,
                "since": _instant(state.since),
                "valid_until": _instant(state.valid_until),
                "source": state.source,
                "policy_version": state.policy_version,
                "jurisdiction": state.jurisdiction,
                "gpc": state.gpc,
                "event_id": state.event_id,
            }
            for state in consent_state_for_subject(organization=organization, subject=subject)
        ]
        stamps = [
            {
                "stamp_id": record.stamp_id,
                "created_at": _instant(record.created_at),
                "recipient": record.recipient.key,
                "purposes": record.purposes,
                "decision": record.decision,
                "reasons": record.reasons,
                "jurisdiction": record.jurisdiction,
            }
            for record in StampRecord.objects.filter(organization=organization, subject=subject)
            .select_related("recipient")
            .order_by("created_at", "id")
        ]
    source_ids = {event.source_id for event in events}
    sources = [
        {
            "key": source.key,
            "name": source.name,
            "kind": source.kind,
            "vendor_name": source.vendor_name,
            "collection_point": source.collection_point,
            "lawful_basis": source.lawful_basis,
        }
        for source in Source.objects.filter(organization=organization, pk__in=source_ids).order_by("key")
    ]
    return [
        Table("subject", ("external_id", "uuid", "email", "jurisdiction", "created_at"), profile),
        Table(
            "consent_history",
            (
                "event_id",
                "chain_index",
                "purpose",
                "action",
                "occurred_at",
                "recorded_at",
                "valid_until",
                "source",
                "collection_method",
                "policy_version",
                "jurisdiction",
                "gpc",
                "supersedes",
                "evidence",
                "hash",
            ),
            [_event_row(event) for event in events],
        ),
        Table(
            "consent_state",
            (
                "purpose",
                "status",
                "permitted",
                "basis",
                "since",
                "valid_until",
                "source",
                "policy_version",
                "jurisdiction",
                "gpc",
                "event_id",
            ),
            states,
        ),
        Table(
            "stamp_log",
            ("stamp_id", "created_at", "recipient", "purposes", "decision", "reasons", "jurisdiction"),
            stamps,
        ),
        Table("sources", ("key", "name", "kind", "vendor_name", "collection_point", "lawful_basis"), sources),
    ]


def request_subject(request: DataSubjectRequest) -> Subject | None:
    """The ledger's subject the request is linked to, else the one its external id names; None when it names
    none or the ledger has none."""
    if request.subject_id is not None:
        return Subject.objects.select_related("organization").filter(pk=request.subject_id).first()
    if not request.subject_external_id:
        return None
    return subject_by_external_id(organization=request.organization, external_id=request.subject_external_id)


def subject_of_external_id(*, organization: Organization, external_id: str) -> Subject | None:
    """The organization's subject of that external id (an erased one by its original id too), or None."""
    return subject_by_external_id(organization=organization, external_id=external_id)


def subject_external_id_for_email(*, organization: Organization, email: str) -> str:
    """The external id of the organization's one subject whose email this is (by its blind index), else blank:
    none, or several (the person's request then waits for legal to tell which)."""
    candidates = email_index_candidates(organization.pk, normalize_email(email))
    found = list(
        Subject.objects.filter(organization=organization, email_index__in=candidates).values_list(
            "external_id", flat=True
        )[:2]
    )
    return found[0] if len(found) == 1 else ""


def request_contact_email(request: DataSubjectRequest, subject: Subject | None) -> str | None:
    """Where the subject can be reached: the requester's address, else the one the ledger holds."""
    return dsar_requester_email(request) or (subject_email(subject) if subject is not None else None)


def sale_purposes(organization: Organization) -> list[Purpose]:
    """The organization's purposes an opt-out of sale/sharing covers, by key."""
    return list(
        Purpose.objects.filter(organization=organization)
        .filter(Q(is_sale_or_sharing=True) | Q(is_targeted_advertising=True))
        .order_by("key")
    )


def _rows(tables: list[Table], name: str) -> list[dict[str, Any]]:
    return next((table.rows for table in tables if table.name == name), [])


def cover_letter_facts(
    *, request: DataSubjectRequest, tables: list[Table], connectors_answered: list[str], generated_at: datetime
) -> CoverLetterFacts:
    """What the catalog and the ledger say about the person's data, for the export's cover letter: the purposes
    of their records (and those needing no consent), their current notice, the recipients of those purposes or of
    their data, the sources of their records, and the categories the export holds."""
    organization = request.organization
    history = _rows(tables, "consent_history")
    in_records = {str(row["purpose"]) for row in history}
    purposes = list(
        Purpose.objects.filter(organization=organization)
        .filter(Q(key__in=in_records) | ~Q(legal_basis=LawfulBasis.CONSENT))
        .order_by("key")
    )
    notices: dict[int, PolicyVersion] = {}
    for version in PolicyVersion.objects.filter(purpose__in=purposes, effective_at__lte=generated_at).order_by(
        "purpose_id", "effective_at", "id"
    ):
        notices[version.purpose_id] = version  # the latest in force wins
    stamped = {str(row["recipient"]) for row in _rows(tables, "stamp_log") if row.get("decision") == "allow"}
    recipients = (
        Recipient.objects.filter(organization=organization)
        .filter(Q(purposes__in=purposes) | Q(key__in=stamped))
        .prefetch_related("purposes")
        .distinct()
        .order_by("key")
    )
    held: list[str] = []
    if _rows(tables, "subject"):
        held.append("identifiers: your id with us and your email address")
    if history:
        held.append(
            "consent records: what you agreed to, refused or withdrew, when, through which source and notice "
            "version, with the evidence recorded (such as IP address and browser)"
        )
    if _rows(tables, "stamp_log"):
        held.append("records of which recipients were allowed to receive data about you, and when")
    if connectors_answered:
        held.append("data other systems of ours hold about you (connectors/*.json)")
    return CoverLetterFacts(
        organization_name=organization.name,
        request_id=request.public_id,
        request_type=request.type,
        generated_at=generated_at,
        purposes=[
            PurposeFacts(
                key=purpose.key,
                name=purpose.name,
                description=purpose.description,
                legal_basis=purpose.legal_basis,
                legal_basis_label=LawfulBasis(purpose.legal_basis).label,
                notice_version=notices[purpose.pk].version if purpose.pk in notices else "",
                notice_url=notices[purpose.pk].notice_url if purpose.pk in notices else "",
                consent_validity=purpose.validity,
                in_your_records=purpose.key in in_records,
                retention=purpose.retention,
                recipient_categories=tuple(purpose.recipient_category_list),
            )
            for purpose in purposes
        ],
        recipients=[
            RecipientFacts(
                key=recipient.key,
                name=recipient.name,
                role=recipient.role,
                role_label=RecipientRole(recipient.role).label,
                purposes=sorted(p.key for p in recipient.purposes.all() if p in purposes),
                data_categories=[str(category) for category in recipient.data_categories or []],
                received_your_data=recipient.key in stamped,
            )
            for recipient in recipients
        ],
        sources=[
            SourceFacts(
                key=str(row["key"]),
                name=str(row["name"]),
                kind=str(row["kind"]),
                vendor_name=str(row.get("vendor_name") or ""),
                collection_point=str(row.get("collection_point") or ""),
            )
            for row in _rows(tables, "sources")
        ],
        connectors=sorted(connectors_answered),
        held_categories=held,
        export_retention_days=int(settings.PROVENANT_EXPORT_RETENTION_DAYS),
    )
