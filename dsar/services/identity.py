"""Identity verification of requesters: the move to identity_pending, the signed link's email, legal's (or the
link's) verification, requester reminders and the closure of requests never verified. The hops after a commit
(sending the link, starting the fulfilment) are ``services.pipeline``'s."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.enums import AuditAction
from core.problems import InvalidInput
from core.services import audit_log
from dsar.deadlines import DeadlineResult
from dsar.enums import FINAL_STATUSES, VERIFIED_OR_LATER, MessageKind, RequestStatus
from dsar.identity_links import identity_link_url, reminder_days
from dsar.messages import ccpa_unverified_reason, gdpr_unable_to_identify_reason
from dsar.models import DataSubjectRequest, RequestNotice, RequestTransition
from dsar.problems import IllegalTransition, RequestClosed, RequesterUnreachable, StatusChanged
from dsar.request_deadlines import extension_of, request_deadlines
from dsar.selectors import dsar_by_pk, dsar_requester_email, dsars_identity_pending, privacy_center_url
from dsar.services.messaging import message_deliver_waiting, message_facts, message_queue
from dsar.services.workflow import IDENTITY_REQUESTED_REASON, dsar_transition

logger = logging.getLogger(__name__)

IDENTITY_SWEEP_ACTOR: Final = "task:dsar.identity_sweep"
LINK_ACTOR: Final = "requester:verification-link"


def notice_claim(request: DataSubjectRequest, kind: str, for_date: date) -> bool:
    """Claim one message (unique request, kind, date); False when it was claimed (sent) before."""
    _, created = RequestNotice.objects.get_or_create(request=request, kind=kind, for_date=for_date)
    return created


def identity_requested_on(transitions: Iterable[RequestTransition]) -> date | None:
    """The day of the latest move into identity_pending: the start of the open pause."""
    opened = [
        step
        for step in transitions
        if step.to_status == RequestStatus.IDENTITY_PENDING and step.from_status != step.to_status
    ]
    if not opened:
        return None
    return timezone.localdate(max(opened, key=lambda step: (step.at, step.pk or 0)).at)


def dsar_identity_pending(*, request: DataSubjectRequest, actor: str) -> DataSubjectRequest:
    """Ask the requester to prove who they are: the request moves to identity_pending (which pauses the GDPR clock,
    REGULATORY.md A3; US laws keep counting). Refused when there is no address to send the link to."""
    if not dsar_requester_email(request):
        raise RequesterUnreachable("The request has no requester email to send a verification link to.")
    if request.status != RequestStatus.IDENTITY_PENDING:
        dsar_transition(
            request=request,
            to_status=RequestStatus.IDENTITY_PENDING,
            actor=actor,
            reason=IDENTITY_REQUESTED_REASON,
        )
    return request


def dsar_identity_link_send(*, request_id: int) -> dict[str, Any]:
    """Email the identity link once per identity request; nothing when it went out already or the request
    is no longer waiting for the requester. The request's messages never tried (the receipt intake left to this
    task) go out first, whatever its status; a failure there never holds the link back (the messages sweep
    retries them)."""
    try:
        message_deliver_waiting(request_id=request_id)
    except Exception:  # a mail backend's own error (not an OSError): the claimed message's lease and sweep recover it
        logger.exception("sending the messages waiting for the identity link's task failed; queuing the link")
    request = dsar_by_pk(request_id, status=RequestStatus.IDENTITY_PENDING)
    if request is None:
        return {"sent": False, "reason": "not pending"}
    requested_on = identity_requested_on(RequestTransition.objects.filter(request=request))
    email = dsar_requester_email(request)
    if requested_on is None or not email:
        return {"sent": False, "reason": "no identity request or no address"}
    with transaction.atomic():
        if not notice_claim(request, "identity.link", requested_on):
            return {"sent": False, "reason": "sent already"}
        _queue_link(request, requested_on)
    return {"sent": True}


def _queue_link(request: DataSubjectRequest, requested_on: date, *, reminder_day: int = 0) -> None:
    kind = MessageKind.IDENTITY_REMINDER if reminder_day else MessageKind.IDENTITY_LINK
    key = f"identity.reminder.{reminder_day}:{requested_on}" if reminder_day else f"identity.link:{requested_on}"
    facts = message_facts(
        request,
        verification_url=identity_link_url(
            request.public_id, privacy_center_url=privacy_center_url(request.organization)
        ),
        link_hours=int(settings.PROVENANT_DSAR_VERIFICATION_LINK_HOURS),
        reminder_day=reminder_day,
        needs_verification=True,
    )
    message_queue(request=request, kind=kind, key=key, facts=facts)


def dsar_identity_confirm(
    *, request: DataSubjectRequest, actor: str, note: str, method: str = "manual"
) -> tuple[DataSubjectRequest, bool]:
    """Record the requester's identity as verified: received or identity_pending -> verified, which resumes the
    GDPR clock (A3). A request verified already is left as it is; a rejected one is refused (409). Returns the
    request and whether this call verified it."""
    if request.status in VERIFIED_OR_LATER:
        return request, False
    if request.status in FINAL_STATUSES:
        raise RequestClosed("The request is closed; verifying it changes nothing.")
    note = note.strip()
    if not note:
        raise InvalidInput("Say how the identity was verified.", errors=[{"pointer": "/note", "detail": "required"}])
    with transaction.atomic():
        try:
            dsar_transition(request=request, to_status=RequestStatus.VERIFIED, actor=actor, reason=note)
        except StatusChanged:
            current = DataSubjectRequest.objects.get(pk=request.pk)
            if current.status in VERIFIED_OR_LATER:
                return current, False
            raise
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_VERIFIED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"method": method},
        )
    return request, True


def _deadlines_as_of(
    request: DataSubjectRequest, transitions: Iterable[RequestTransition], as_of: date
) -> DeadlineResult:
    return request_deadlines(
        regime=request.regime,
        request_type=request.type,
        jurisdiction=request.jurisdiction,
        received_at=request.received_at,
        transitions=transitions,
        extension=extension_of(request),
        as_of=as_of,
        stored=request.deadlines,
    )


def _close_unverified(request: DataSubjectRequest, result: DeadlineResult, requested_on: date) -> bool:
    """GDPR: Art. 12(4) closure after add_months(id_request_date, 1); CCPA: denial from day 45 (A3, §1(b))."""
    if result.status == "closed_unable_to_identify":
        assert result.identity_cutoff is not None
        cutoff = result.identity_cutoff
        reason = gdpr_unable_to_identify_reason(requested_on=requested_on, cutoff=cutoff)
    else:
        assert result.response_due is not None
        cutoff = result.response_due
        reason = ccpa_unverified_reason(requested_on=requested_on, day_45=cutoff)
    with transaction.atomic():
        try:
            dsar_transition(
                request=request, to_status=RequestStatus.REJECTED, actor=IDENTITY_SWEEP_ACTOR, reason=reason
            )
        except (StatusChanged, IllegalTransition):
            return False
        if notice_claim(request, "identity.closed", requested_on):
            facts = message_facts(request, identity_requested_on=requested_on, identity_cutoff=cutoff)
            message_queue(request=request, kind=MessageKind.UNVERIFIABLE, key="rejected", facts=facts)
    return True


def dsar_identity_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Requests waiting for the requester: send a lost link, remind on the configured days (each once), and close
    those the law lets us close as unverifiable. Safe to run as often as wanted: a rerun sends nothing."""
    today = timezone.localdate(now or timezone.now())
    days = reminder_days()
    counts = {"links": 0, "reminders": 0, "closed": 0}
    for request in dsars_identity_pending().iterator(chunk_size=500):
        history = sorted(request.transitions.all(), key=lambda step: (step.at, step.pk))
        requested_on = identity_requested_on(history)
        if requested_on is None:
            continue
        result = _deadlines_as_of(request, history, today)
        if result.status in ("closed_unable_to_identify", "deniable_unverified"):
            counts["closed"] += _close_unverified(request, result, requested_on)
            continue
        email = dsar_requester_email(request)
        if not email:
            continue
        with transaction.atomic():
            if notice_claim(request, "identity.link", requested_on):
                _queue_link(request, requested_on)
                counts["links"] += 1
        passed = [day for day in days if day <= (today - requested_on).days]
        if not passed:
            continue
        with transaction.atomic():
            # One reminder per run: the latest day reached; days a stopped beat skipped are marked, not sent.
            if notice_claim(request, f"identity.reminder.{passed[-1]}", requested_on):
                for day in passed[:-1]:
                    notice_claim(request, f"identity.reminder.{day}", requested_on)
                _queue_link(request, requested_on, reminder_day=passed[-1])
                counts["reminders"] += 1
    return counts
