"""Identity verification: the signed link, legal's manual verification, requester reminders and the closure of
requests never verified."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from django.db import transaction
from django.utils import timezone

from core.enums import AuditAction
from core.problems import DomainError, InvalidInput
from core.services import audit_log
from core.tasks import enqueue_after_commit
from dsar.deadlines import (
    DeadlineError,
    DeadlineResult,
    compute_deadlines,
)
from dsar.models import (
    DataSubjectRequest,
    RequestNotice,
    RequestTransition,
)
from dsar.services.common import (
    FINAL_STATUSES,
    VERIFIED_OR_LATER,
    IllegalTransition,
    RequestClosed,
    S,
    StatusChanged,
    _clock_events,
    _extension_of,
    _requester_email,
    _send,
    _zone_and_calendar,
    deadline_problem,
)
from dsar.services.workflow import _fulfil_after_commit, dsar_transition
from dsar.verification import (
    VerificationLinkInvalid,
    ccpa_unverified_reason,
    closure_message,
    gdpr_unable_to_identify_reason,
    link_message,
    public_id_from_token,
    reminder_days,
    reminder_message,
    verification_url,
)

# --- identity verification -------------------------------------------------------------------------------------

IDENTITY_SWEEP_ACTOR: Final = "task:dsar.identity_sweep"
SEND_VERIFICATION_LINK_TASK: Final = "dsar.tasks.send_verification_link"
LINK_ACTOR: Final = "requester:verification-link"


class RequesterUnreachable(DomainError):
    slug = "requester-unreachable"
    title = "The requester cannot be reached"


def _claim_notice(request: DataSubjectRequest, kind: str, for_date: date) -> bool:
    """Claim one message (unique request, kind, date); False when it was claimed (sent) before."""
    _, created = RequestNotice.objects.get_or_create(request=request, kind=kind, for_date=for_date)
    return created


def _identity_requested_on(transitions: Iterable[RequestTransition]) -> date | None:
    """The day of the latest move into identity_pending: the start of the open pause."""
    opened = [
        step for step in transitions if step.to_status == S.IDENTITY_PENDING and step.from_status != step.to_status
    ]
    if not opened:
        return None
    return timezone.localdate(max(opened, key=lambda step: (step.at, step.pk or 0)).at)


def dsar_identity_request(*, request: DataSubjectRequest, actor: str) -> DataSubjectRequest:
    """Ask the requester to prove who they are: the request moves to identity_pending (which pauses the GDPR clock,
    REGULATORY.md A3; US laws keep counting) and the signed link is emailed after commit."""
    if not _requester_email(request):
        raise RequesterUnreachable("The request has no requester email to send a verification link to.")
    with transaction.atomic():
        if request.status != S.IDENTITY_PENDING:
            dsar_transition(
                request=request, to_status=S.IDENTITY_PENDING, actor=actor, reason="identity verification requested"
            )
        enqueue_after_commit(SEND_VERIFICATION_LINK_TASK, request.pk)
    return request


def dsar_verification_link_send(*, request_id: int) -> dict[str, Any]:
    """Email the verification link once per identity request; nothing when it went out already or the request
    is no longer waiting for the requester."""
    request = DataSubjectRequest.objects.filter(pk=request_id, status=S.IDENTITY_PENDING).first()
    if request is None:
        return {"sent": False, "reason": "not pending"}
    requested_on = _identity_requested_on(RequestTransition.objects.filter(request=request))
    email = _requester_email(request)
    if requested_on is None or not email:
        return {"sent": False, "reason": "no identity request or no address"}
    with transaction.atomic():
        if not _claim_notice(request, "identity.link", requested_on):
            return {"sent": False, "reason": "sent already"}
        _send([email], link_message(public_id=request.public_id, url=verification_url(request.public_id)))
    return {"sent": True}


def dsar_verify(*, request: DataSubjectRequest, actor: str, note: str, method: str = "manual") -> DataSubjectRequest:
    """Record the requester's identity as verified: received or identity_pending -> verified, which resumes the
    GDPR clock (A3). A request verified already is left as it is; a rejected one is refused (409)."""
    if request.status in VERIFIED_OR_LATER:
        return request
    if request.status in FINAL_STATUSES:
        raise RequestClosed("The request is closed; verifying it changes nothing.")
    note = note.strip()
    if not note:
        raise InvalidInput("Say how the identity was verified.", errors=[{"pointer": "/note", "detail": "required"}])
    with transaction.atomic():
        try:
            dsar_transition(request=request, to_status=S.VERIFIED, actor=actor, reason=note)
        except StatusChanged:
            current = DataSubjectRequest.objects.get(pk=request.pk)
            if current.status in VERIFIED_OR_LATER:
                return current
            raise
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_VERIFIED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"method": method},
        )
        _fulfil_after_commit(request.pk)
    return request


@dataclass(frozen=True)
class VerificationOutcome:
    public_id: str
    status: str
    is_newly_verified: bool


def dsar_verify_link(*, token: str) -> VerificationOutcome:
    """The requester opened the signed link: verify the request it names. Expired (410) or tampered (400) links
    change nothing; a second use answers the same and writes nothing."""
    public_id = public_id_from_token(token)
    request = DataSubjectRequest.objects.select_related("organization").filter(public_id=public_id).first()
    if request is None:
        raise VerificationLinkInvalid("This verification link is not valid.")
    was_verified = request.status in VERIFIED_OR_LATER
    verified = dsar_verify(
        request=request, actor=LINK_ACTOR, note="identity verified by the requester's signed link", method="link"
    )
    return VerificationOutcome(public_id, verified.status, not was_verified and verified.status == S.VERIFIED)


def _deadlines_as_of(
    request: DataSubjectRequest, transitions: Iterable[RequestTransition], as_of: date
) -> DeadlineResult:
    zone, calendar = _zone_and_calendar(request.regime, request.jurisdiction)
    try:
        return compute_deadlines(
            regime=request.regime,
            request_type=request.type,
            received_at=request.received_at,
            tz=zone,
            calendar=calendar,
            events=_clock_events(transitions),
            extension=_extension_of(request),
            as_of=as_of,
        )
    except DeadlineError as exc:
        raise deadline_problem(exc) from exc


def _close_unverified(request: DataSubjectRequest, result: DeadlineResult, requested_on: date) -> bool:
    """GDPR: Art. 12(4) closure after add_months(id_request_date, 1); CCPA: denial from day 45 (A3, §1(b))."""
    if result.status == "closed_unable_to_identify":
        assert result.identity_cutoff is not None
        reason = gdpr_unable_to_identify_reason(requested_on=requested_on, cutoff=result.identity_cutoff)
    else:
        assert result.response_due is not None
        reason = ccpa_unverified_reason(requested_on=requested_on, day_45=result.response_due)
    with transaction.atomic():
        try:
            dsar_transition(request=request, to_status=S.REJECTED, actor=IDENTITY_SWEEP_ACTOR, reason=reason)
        except (StatusChanged, IllegalTransition):
            return False
        email = _requester_email(request)
        if email and _claim_notice(request, "identity.closed", requested_on):
            _send([email], closure_message(public_id=request.public_id, reason=reason))
    return True


def dsar_identity_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Requests waiting for the requester: send a lost link, remind on the configured days (each once), and close
    those the law lets us close as unverifiable. Safe to run as often as wanted: a rerun sends nothing."""
    today = timezone.localdate(now or timezone.now())
    days = reminder_days()
    counts = {"links": 0, "reminders": 0, "closed": 0}
    pending = (
        DataSubjectRequest.objects.filter(status=S.IDENTITY_PENDING)
        .select_related("organization")
        .prefetch_related("transitions")
        .order_by("id")
    )
    for request in pending.iterator(chunk_size=500):
        history = sorted(request.transitions.all(), key=lambda step: (step.at, step.pk))
        requested_on = _identity_requested_on(history)
        if requested_on is None:
            continue
        result = _deadlines_as_of(request, history, today)
        if result.status in ("closed_unable_to_identify", "deniable_unverified"):
            counts["closed"] += _close_unverified(request, result, requested_on)
            continue
        email = _requester_email(request)
        if not email:
            continue
        with transaction.atomic():
            if _claim_notice(request, "identity.link", requested_on):
                _send([email], link_message(public_id=request.public_id, url=verification_url(request.public_id)))
                counts["links"] += 1
        passed = [day for day in days if day <= (today - requested_on).days]
        if not passed:
            continue
        with transaction.atomic():
            # One reminder per run: the latest day reached; days a stopped beat skipped are marked, not sent.
            if _claim_notice(request, f"identity.reminder.{passed[-1]}", requested_on):
                for day in passed[:-1]:
                    _claim_notice(request, f"identity.reminder.{day}", requested_on)
                url = verification_url(request.public_id)
                _send([email], reminder_message(public_id=request.public_id, url=url, day=passed[-1]))
                counts["reminders"] += 1
    return counts
