"""What legal does by hand on one request besides moving it along: link it to the ledger's subject (a letter names
a person the ledger knows), and write to the requester through the outbox. Each is one transaction with its
audit row."""

from __future__ import annotations

from typing import Final

from django.db import transaction
from django.utils import timezone
from ulid import ULID

from consent.models import Subject
from core.enums import AuditAction
from core.problems import InvalidInput
from core.services import audit_log
from dsar.enums import MessageKind, RequestStatus
from dsar.models import DataSubjectRequest, RequestMessage
from dsar.problems import RequesterUnreachable, SubjectFixed
from dsar.selectors import dsar_requester_email
from dsar.services.messaging import message_facts, message_queue
from dsar.services.workflow import request_subject_of

STAFF_MESSAGE_MAX_CHARS: Final = 5000


# A request's subject may change only until fulfilment starts: an export built, or an erasure waiting for approval,
# is for the subject it started with (relinking then would send one person's data or erase another's).
LINKABLE_STATUSES: Final = frozenset({RequestStatus.RECEIVED, RequestStatus.IDENTITY_PENDING, RequestStatus.VERIFIED})
NOT_LINKABLE = (
    "The subject can change only until fulfilment starts: what was built or is waiting for approval is for the "
    "subject it started with. Reject the request and file a new one for the right person."
)


def dsar_subject_link(*, request: DataSubjectRequest, subject: Subject | None, actor: str) -> DataSubjectRequest:
    """Link the request to the ledger's subject (None: unlink). Linking sets ``subject_external_id`` to the
    subject's id; unlinking keeps the id given at intake. Only until fulfilment starts (``LINKABLE_STATUSES``,
    compare-and-set). Audited with the subject's ids before and after, never its PII."""
    if request.status not in LINKABLE_STATUSES:
        raise SubjectFixed(NOT_LINKABLE)
    if subject is None:
        linked, external_id = None, request.subject_external_id
    else:
        linked, external_id = request_subject_of(request.organization, subject, "")
    previous = {"subject_id": request.subject_id, "subject_external_id": request.subject_external_id}
    with transaction.atomic():
        claimed = DataSubjectRequest.objects.filter(pk=request.pk, status__in=LINKABLE_STATUSES).update(
            subject=linked, subject_external_id=external_id, updated_at=timezone.now()
        )
        if not claimed:
            raise SubjectFixed(NOT_LINKABLE)
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_SUBJECT_LINKED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={
                "subject": str(linked.uuid) if linked is not None else None,
                "subject_external_id": external_id,
                "previous_subject_id": previous["subject_id"],
                "previous_subject_external_id": previous["subject_external_id"],
            },
        )
    request.subject, request.subject_external_id = linked, external_id
    return request


def dsar_message_write(*, request: DataSubjectRequest, text: str, actor: str) -> RequestMessage:
    """A free-text message from staff to the requester, queued in the outbox like every other message (sealed until
    sent, then only its digest is kept) and audited with its author; refused without a requester address."""
    text = text.strip()
    if not text:
        raise InvalidInput("The message is empty.", errors=[{"pointer": "/text", "detail": "required"}])
    if len(text) > STAFF_MESSAGE_MAX_CHARS:
        raise InvalidInput(
            f"The message is longer than {STAFF_MESSAGE_MAX_CHARS} characters.",
            errors=[{"pointer": "/text", "detail": "too long"}],
        )
    if not dsar_requester_email(request):
        raise RequesterUnreachable("The request has no requester address to write to.")
    with transaction.atomic():
        message = message_queue(
            request=request,
            kind=MessageKind.STAFF,
            key=f"staff:{ULID()}",
            facts=message_facts(request, staff_text=text),
        )
        assert message is not None  # a fresh key and an address: always queued
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_MESSAGE_WRITTEN,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"message_id": message.public_id, "sha256": message.sha256, "kind": MessageKind.STAFF},
        )
    return message
