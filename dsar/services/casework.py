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
from dsar.enums import FINAL_STATUSES, MessageKind
from dsar.models import DataSubjectRequest, RequestMessage
from dsar.problems import RequestClosed, RequesterUnreachable
from dsar.selectors import dsar_requester_email
from dsar.services.messaging import message_facts, message_queue
from dsar.services.workflow import request_subject_of

STAFF_MESSAGE_MAX_CHARS: Final = 5000


def dsar_subject_link(*, request: DataSubjectRequest, subject: Subject | None, actor: str) -> DataSubjectRequest:
    """Link the request to the ledger's subject (None: unlink), keeping ``subject_external_id`` its id. Refused
    for a closed request (what was done for it stands). Audited with the subject's ids, never its PII."""
    if request.status in FINAL_STATUSES:
        raise RequestClosed("A completed or rejected request keeps the subject it was carried out for.")
    linked, external_id = request_subject_of(request.organization, subject, "")
    with transaction.atomic():
        claimed = (
            DataSubjectRequest.objects.filter(pk=request.pk)
            .exclude(status__in=FINAL_STATUSES)
            .update(subject=linked, subject_external_id=external_id, updated_at=timezone.now())
        )
        if not claimed:
            raise RequestClosed("A completed or rejected request keeps the subject it was carried out for.")
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_SUBJECT_LINKED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={
                "subject": str(linked.uuid) if linked is not None else None,
                "previous_subject_id": request.subject_id,
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
