"""Consent facts the legal team records from the admin: a withdrawal or refusal that reached it by letter, phone or
email, with the document as evidence. Written through the ledger's own append (the API's path), with collection
method ``admin``, the built-in ``legal_team`` source and the staff user as the recorded actor; the evidence (which
the chain covers) names the document's digest, and the document is sealed apart (``EvidenceDocument``) under the
subject's data key, so erasing the subject shreds it too and ledger reads never carry it. Audited in the same
transaction (``consent.recorded_by_staff``)."""

from __future__ import annotations

import base64
from datetime import datetime

from django.utils import timezone

from consent.enums import STAFF_ACTIONS, CollectionMethod, ReceivedBy
from consent.models import EvidenceDocument as StoredEvidenceDocument
from consent.models import Subject
from consent.selectors.ledger import evidence_document_context
from consent.services.appending import RecordedEvent, append_events, atomic_with_retries
from consent.services.builtin_sources import LEGAL_TEAM_SOURCE_KEY, builtin_source
from consent.services.validation import ConsentEventInput, EvidenceDocument, StaffRecord, SubjectErased
from consent.subject_keys import subject_data_key
from core.crypto import seal
from core.enums import AuditAction
from core.problems import InvalidInput
from core.services import audit_log

# A scanned letter fits; it is kept apart from the ledger row (EvidenceDocument), only its digest in the chain.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_NOTE_CHARS = 2000


def consent_record_by_staff(
    *,
    subject: Subject,
    purpose: str,
    action: str,
    occurred_at: datetime,
    received_by: str,
    jurisdiction: str,
    actor: str,
    document: EvidenceDocument | None = None,
    note: str = "",
    policy_version: str | None = None,
) -> RecordedEvent:
    """Append the person's withdrawal or refusal the legal team received, with its evidence, and audit it."""
    errors = []
    if action not in STAFF_ACTIONS:
        errors.append({"pointer": "/action", "detail": "the admin records withdrawals and refusals only"})
    if received_by not in ReceivedBy.values:
        errors.append({"pointer": "/received_by", "detail": "unknown channel"})
    if not jurisdiction:
        errors.append({"pointer": "/jurisdiction", "detail": "name the jurisdiction the person is in"})
    if len(note) > MAX_NOTE_CHARS:
        errors.append({"pointer": "/note", "detail": f"at most {MAX_NOTE_CHARS} characters"})
    if document is not None and len(document.content) > MAX_DOCUMENT_BYTES:
        errors.append({"pointer": "/document", "detail": f"at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"})
    if errors:
        raise InvalidInput("The consent fact cannot be recorded; see errors.", errors=errors)
    if subject.is_erased:
        raise SubjectErased("This subject's personal data was erased; evidence can no longer be stored for it.")
    organization = subject.organization
    builtin_source(organization=organization, key=LEGAL_TEAM_SOURCE_KEY)
    item = ConsentEventInput(
        subject_id=subject.external_id,
        purpose=purpose,
        action=action,
        occurred_at=occurred_at,
        source=LEGAL_TEAM_SOURCE_KEY,
        collection_method=CollectionMethod.ADMIN,
        jurisdiction=jurisdiction,
        policy_version=policy_version,
        staff_record=StaffRecord(received_by=received_by, recorded_by=actor, note=note, document=document),
    )
    moment = timezone.now()

    def write() -> RecordedEvent:
        # The legal team writes as the controller (a reserved source), as the privacy center does.
        recorded = append_events(organization=organization, items=[item], allow_system_actions=True, now=moment)[0]
        if document is not None:
            event_id = recorded.event.event_id
            StoredEvidenceDocument.objects.create(
                subject=subject,
                event_id=event_id,
                sha256=document.sha256,
                content_sealed=seal(
                    subject_data_key(subject),
                    base64.b64encode(document.content).decode("ascii"),
                    context=evidence_document_context(event_id),
                ),
            )
        audit_log(
            actor=actor,
            action=AuditAction.CONSENT_RECORDED_BY_STAFF,
            object_type="consent_event",
            object_id=recorded.event.event_id,
            organization=organization,
            data={
                "subject_uuid": str(subject.uuid),
                "purpose": purpose,
                "action": action,
                "received_by": received_by,
                "document_sha256": document.sha256 if document is not None else None,
            },
        )
        return recorded

    return atomic_with_retries(write)
