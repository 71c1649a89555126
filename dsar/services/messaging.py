"""Messages to the requester: an outbox of one row per message and step, delivered after commit and by a sweep.

``message_queue`` is called inside the transaction of the step the message belongs to (and, beside
``dsar.services.pipeline``, is the one DSAR module that enqueues a task: its row's delivery, after commit, by a
worker; PROVENANT_DSAR_MESSAGES_IN_WORKER): it renders the message
(the organization's override, else the default, in the requester's language), seals the text under the request's
data key and inserts the row under a unique (request, key), so a replayed step or a retried task queues nothing
twice and a rolled-back step queues nothing at all. ``message_deliver`` claims a row compare-and-set (pending ->
sending, with a lease), sends it with a Message-ID named after the row, and marks it sent (wiping the text,
keeping the kind, template version and SHA-256) while it still holds the claim; the row and an audit entry are the
message's record in the request's history. A sender that dies between sending and marking leaves the row claimed;
after the lease the sweep sends it again with the same Message-ID (SMTP gives no stronger guarantee; mail systems
drop a second copy with a Message-ID they have seen).
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from ulid import ULID

from core.crypto import CryptoError, seal, unseal, unwrap_data_key
from core.db import insert_instance
from core.enums import AuditAction
from core.jurisdiction_rules import jurisdiction_rules
from core.services import audit_log
from core.tasks import enqueue_after_commit
from dsar.enums import NO_VERIFICATION_NEEDED, VERIFIED_OR_LATER, MessageStatus
from dsar.message_context import MessageFacts, message_context
from dsar.message_defaults import message_language
from dsar.message_sandbox import RenderedMessage, TemplateRejected, render_message
from dsar.models import DataSubjectRequest, RequestMessage
from dsar.seal_contexts import request_key_owner, request_message_context
from dsar.selectors import (
    dsar_by_pk,
    dsar_requester_email,
    message_ids_due,
    message_ids_never_tried,
    message_template_default,
    message_template_for,
)

MESSAGE_ACTOR: Final = "task:dsar.messages"
DELIVER_MESSAGE_TASK: Final = "dsar.tasks.deliver_message"
MAX_ATTEMPTS: Final = 10


def _lease() -> timedelta:
    return timedelta(seconds=float(settings.PROVENANT_DSAR_MESSAGE_LEASE_SECONDS))


def _backoff(attempts: int) -> timedelta:
    """Full jitter, exponential from the retry base, capped (as the deliveries' outbox)."""
    cap = float(settings.PROVENANT_RETRY_CAP_SECONDS)
    base = float(settings.PROVENANT_RETRY_BASE_SECONDS)
    return timedelta(seconds=random.uniform(0, min(cap, base * 2 ** max(attempts - 1, 0))))  # noqa: S311


def message_facts(request: DataSubjectRequest, **facts: Any) -> MessageFacts:
    """The facts every message shares (organization, request, dates), plus what the step adds."""
    deadlines = request.deadlines or {}
    receipt = deadlines.get("receipt_date")
    confirm = deadlines.get("confirm_legal_due")
    base: dict[str, Any] = {
        "organization_name": request.organization.name,
        "request_id": request.public_id,
        "request_type": request.type,
        "regime": request.regime,
        "received_on": date.fromisoformat(receipt) if receipt else timezone.localdate(request.received_at),
        "due_on": request.due_on,
        "confirm_by": date.fromisoformat(confirm) if confirm else None,
        "needs_verification": request.type not in NO_VERIFICATION_NEEDED and request.status not in VERIFIED_OR_LATER,
        "appeal_response_days": _appeal_days(request),
    }
    return MessageFacts(**{**base, **facts})


def _appeal_days(request: DataSubjectRequest) -> int | None:
    rule = jurisdiction_rules().rule_for(request.jurisdiction or None)
    return rule.dsar.appeal_response_days if rule.dsar else None


def message_render(request: DataSubjectRequest, *, kind: str, facts: MessageFacts) -> tuple[RenderedMessage, str]:
    """The message in the requester's language and the version id of the template used. An override that no
    longer renders (a filter given a bad value) never stops a message: the default goes out, and says so."""
    language = message_language(request.language)
    context = message_context(facts, language=language)
    chosen = message_template_for(organization=request.organization, kind=kind, language=language)
    try:
        return render_message(chosen.source, context, language=language), chosen.version_id
    except TemplateRejected:
        if not chosen.is_override:
            raise
    fallback = message_template_default(kind=kind, language=language)
    return render_message(fallback.source, context, language=language), f"{fallback.version_id}+fallback"


def message_queue(
    *, request: DataSubjectRequest, kind: str, key: str, facts: MessageFacts, sent_by_step_task: bool = False
) -> RequestMessage | None:
    """Queue one message (call inside the step's transaction); None when the request has no requester address
    or the message was queued before (``key`` is unique per request: the insert skips a second one, whether a
    replayed step or a racing twin queued it). It is delivered after commit, or by the sweep.
    ``sent_by_step_task``: the caller sends a task after commit that delivers the request's messages never tried
    (``message_deliver_waiting``), so a worker sends this one there, without a task of its own (the sweep sends
    it if that task is lost); sent in this process, it goes after commit as any other."""
    if not dsar_requester_email(request):
        return None
    rendered, version_id = message_render(request, kind=kind, facts=facts)
    public_id = str(ULID())
    data_key = unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id))
    content = json.dumps({"subject": rendered.subject, "text": rendered.body_text, "html": rendered.body_html})
    row = RequestMessage(
        request=request,
        public_id=public_id,
        kind=kind,
        key=key,
        language=message_language(request.language),
        template_version=version_id,
        sha256=rendered.sha256,
        content_sealed=seal(data_key, content, context=request_message_context(request.public_id, public_id)),
    )
    stored = insert_instance(row, skip_conflicts=True)
    if stored is None:
        return None
    message_id = stored.pk
    if settings.PROVENANT_DSAR_MESSAGES_IN_WORKER:
        if not sent_by_step_task:
            enqueue_after_commit(DELIVER_MESSAGE_TASK, message_id)  # the broker down: the messages sweep sends it
    else:
        transaction.on_commit(lambda: message_deliver(message_id=message_id), robust=True)
    return stored


def _message_id_header(message: RequestMessage) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "provenant.local"
    return f"<{message.public_id.lower()}@{domain}>"


def _release(message: RequestMessage, attempt: int, *, now: datetime, error: str, final: bool) -> None:
    values: dict[str, Any] = {"claimed_until": None, "last_error": error[:200]}
    if final:
        values |= {"status": MessageStatus.UNDELIVERABLE, "content_sealed": ""}
    else:
        values |= {"status": MessageStatus.PENDING, "next_attempt_at": now + _backoff(attempt)}
    RequestMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING, attempts=attempt).update(**values)


def message_deliver(*, message_id: int, now: datetime | None = None) -> bool:
    """Send one queued message if this caller wins its claim; True when this call sent it."""
    now = now or timezone.now()
    # A message never tried is due whatever the clocks say (the web host that stamped next_attempt_at and the
    # worker claiming it may disagree by a few seconds); a retry waits for its backoff.
    due = (
        Q(status=MessageStatus.PENDING, attempts=0)
        | Q(status=MessageStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=MessageStatus.SENDING, claimed_until__lt=now)
    )
    claimed = (
        RequestMessage.objects.filter(due, pk=message_id).update(
            status=MessageStatus.SENDING, attempts=F("attempts") + 1, claimed_until=now + _lease()
        )
        > 0
    )
    if not claimed:
        return False
    message = RequestMessage.objects.get(pk=message_id)
    attempt = message.attempts
    request = dsar_by_pk(message.request_id)
    email = dsar_requester_email(request) if request is not None else ""
    try:
        assert request is not None
        data_key = unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id))
        context = request_message_context(request.public_id, message.public_id)
        content = json.loads(unseal(data_key, message.content_sealed, context=context))
    except (AssertionError, CryptoError, ValueError):
        content = None
    if request is None or not email or content is None:
        _release(message, attempt, now=now, error="no address or unreadable content", final=True)
        return False
    mail = EmailMultiAlternatives(
        content["subject"],
        content["text"],
        settings.DEFAULT_FROM_EMAIL,
        [email],
        headers={"Message-ID": _message_id_header(message)},
    )
    if content["html"]:
        mail.attach_alternative(content["html"], "text/html")
    try:
        mail.send()
    except OSError as exc:  # smtplib.SMTPException is an OSError: the server, not the message
        _release(message, attempt, now=now, error=type(exc).__name__, final=attempt >= MAX_ATTEMPTS)
        return False
    with transaction.atomic():
        marked = RequestMessage.objects.filter(pk=message.pk, status=MessageStatus.SENDING, attempts=attempt).update(
            status=MessageStatus.SENT, sent_at=timezone.now(), content_sealed="", claimed_until=None, last_error=""
        )
        if marked:
            audit_log(
                actor=MESSAGE_ACTOR,
                action=AuditAction.DSAR_MESSAGE_SENT,
                object_type="dsar",
                object_id=request.public_id,
                organization=request.organization,
                data={
                    "message_id": message.public_id,
                    "kind": message.kind,
                    "key": message.key,
                    "language": message.language,
                    "template_version": message.template_version,
                    "sha256": message.sha256,
                },
            )
    return bool(marked)


def message_deliver_waiting(*, request_id: int) -> int:
    """Send the request's messages that were queued and never tried, oldest first (each if this caller wins its
    claim, on the clock of its own claim); the number sent."""
    return sum(message_deliver(message_id=message_id) for message_id in message_ids_never_tried(request_id))


def dsar_messages_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Beat: send the messages whose delivery after commit was lost, failed (due again) or died mid-send."""
    now = now or timezone.now()
    sent = 0
    due = message_ids_due(now=now)
    for message_id in due:
        sent += message_deliver(message_id=message_id, now=now)
    return {"due": len(due), "sent": sent}
