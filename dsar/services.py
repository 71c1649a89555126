"""Writes for data-subject requests: intake, status transitions and the one extension.

Each change is one transaction: a compare-and-set UPDATE on the expected status, the recomputed deadlines,
one ``RequestTransition`` row and one audit-log entry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from ulid import ULID

from core.crypto import CryptoError, new_data_key, seal, unseal, unwrap_data_key
from core.jurisdiction_rules import NO_DSAR_REGIME, jurisdiction_rules
from core.jurisdictions import normalize_jurisdiction
from core.models import Organization
from core.problems import Conflict, DomainError, InvalidInput
from core.services import audit_log
from dsar.deadlines import (
    ID_RECEIVED,
    ID_REQUESTED,
    RESPONSE_SENT,
    ClockEvent,
    DeadlineError,
    DeadlineResult,
    ExtensionNotAvailable,
    ExtensionNotice,
    ExtensionNoticeLate,
    compute_deadlines,
)
from dsar.denials import with_denial_notice
from dsar.models import (
    DataSubjectRequest,
    DsarLegalContact,
    DsarRegime,
    RequestNotice,
    RequestStatus,
    RequestTransition,
    RequestType,
)
from dsar.verification import (
    Message,
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

S = RequestStatus

# The workflow. Completed and rejected are final; a rejection is possible from every open status.
LEGAL_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    S.RECEIVED: frozenset({S.IDENTITY_PENDING, S.VERIFIED, S.IN_PROGRESS, S.REJECTED}),
    S.IDENTITY_PENDING: frozenset({S.VERIFIED, S.REJECTED}),
    S.VERIFIED: frozenset({S.IN_PROGRESS, S.REJECTED}),
    S.IN_PROGRESS: frozenset({S.AWAITING_REVIEW, S.COMPLETED, S.REJECTED}),
    S.AWAITING_REVIEW: frozenset({S.IN_PROGRESS, S.COMPLETED, S.REJECTED}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
}
FINAL_STATUSES: Final = frozenset({S.COMPLETED, S.REJECTED})
# Channels whose receipt time the operator types in (the letter or mail arrived before it was logged).
BACKDATED_CHANNELS: Final = frozenset({"email", "mail"})
# CCPA regs §7026(b) and §7027(e): an opt-out of sale/sharing and a request to limit the use of sensitive
# personal information need no identity verification; intake starts carrying them out.
NO_VERIFICATION_NEEDED: Final = frozenset({RequestType.OPT_OUT_OF_SALE, RequestType.LIMIT_SENSITIVE})
AUTOWIRE_ACTOR: Final = "task:dsar.workflow"


# --- errors ----------------------------------------------------------------------------------------------------


class IllegalTransition(DomainError):
    status = 409
    slug = "illegal-transition"
    title = "The request cannot move to this status"


class StatusChanged(Conflict):
    slug = "status-changed"
    title = "The request changed meanwhile"


class AlreadyExtended(Conflict):
    slug = "already-extended"
    title = "The request was extended already"


class RequestClosed(Conflict):
    slug = "request-closed"
    title = "The request is closed"


class ExtensionNoticeTooLate(Conflict):
    slug = "extension-notice-late"
    title = "The extension notice went out too late"


class ExtensionUnavailable(DomainError):
    slug = "extension-not-available"
    title = "No extension for this regime or request type"


class DeadlineInputInvalid(InvalidInput):
    slug = "deadline-input-invalid"
    title = "The deadlines cannot be computed from this input"


def deadline_problem(exc: DeadlineError) -> DomainError:
    """The engine's refusals as problem documents: a late notice is a 409 with its due date, the rest 422."""
    if isinstance(exc, ExtensionNoticeLate):
        return ExtensionNoticeTooLate(str(exc), code=exc.code, due=exc.due.isoformat())
    if isinstance(exc, ExtensionNotAvailable):
        return ExtensionUnavailable(str(exc))
    return DeadlineInputInvalid(str(exc))


# --- deadlines -------------------------------------------------------------------------------------------------


def _zone_and_calendar(regime: str, jurisdiction: str) -> tuple[str | None, str | None]:
    """The jurisdiction's deadline time zone and holiday calendar when it is under that regime (GDPR A1)."""
    if not jurisdiction:
        return None, None
    dsar = jurisdiction_rules().rule_for(jurisdiction).dsar
    if dsar.regime != regime:
        return None, None
    return dsar.time_zone, dsar.holiday_calendar


def _clock_events(transitions: Iterable[RequestTransition]) -> list[ClockEvent]:
    """Identity requests and answers pause the GDPR clock; a completion or a rejection is the response."""
    events: list[ClockEvent] = []
    for step in transitions:
        if step.from_status == step.to_status:  # an extension, not a move
            continue
        if step.to_status == S.IDENTITY_PENDING:
            events.append(ClockEvent(ID_REQUESTED, step.at))
        elif step.from_status == S.IDENTITY_PENDING:
            events.append(ClockEvent(ID_RECEIVED, step.at))
        if step.to_status in FINAL_STATUSES:
            events.append(ClockEvent(RESPONSE_SENT, step.at))
    return events


def _compute(
    *,
    regime: str,
    request_type: str,
    jurisdiction: str,
    received_at: datetime,
    transitions: Iterable[RequestTransition] = (),
    extension: ExtensionNotice | None = None,
) -> DeadlineResult:
    zone, calendar = _zone_and_calendar(regime, jurisdiction)
    try:
        return compute_deadlines(
            regime=regime,
            request_type=request_type,
            received_at=received_at,
            tz=zone,
            calendar=calendar,
            events=_clock_events(transitions),
            extension=extension,
        )
    except DeadlineError as exc:
        raise deadline_problem(exc) from exc


def _extension_of(request: DataSubjectRequest) -> ExtensionNotice | None:
    if not request.is_extended or request.extension_notice_sent_on is None:
        return None
    return ExtensionNotice(request.extension_notice_sent_on, request.extension_reason_code)


# --- intake ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requester:
    """The person who asked; both fields are sealed before they reach the database."""

    email: str = ""
    name: str = ""


def _derive_regime(regime: str | None, jurisdiction: str) -> str:
    if regime:
        if regime not in DsarRegime.values:
            raise InvalidInput(
                f"regime must be one of {', '.join(DsarRegime.values)}.",
                errors=[{"pointer": "/regime", "detail": "unknown regime"}],
            )
        return regime
    if not jurisdiction:
        raise InvalidInput(
            "Give the requester's jurisdiction or the regime.",
            errors=[{"pointer": "/jurisdiction", "detail": "required when regime is not given"}],
        )
    derived = jurisdiction_rules().rule_for(jurisdiction).dsar.regime
    if derived == NO_DSAR_REGIME or derived not in DsarRegime.values:
        raise InvalidInput(
            f"No data-subject-request law applies in {jurisdiction}; give the regime explicitly.",
            errors=[{"pointer": "/regime", "detail": "required for this jurisdiction"}],
        )
    return derived


def dsar_create(
    *,
    organization: Organization,
    request_type: str,
    channel: str,
    actor: str,
    jurisdiction: str = "",
    regime: str | None = None,
    subject_external_id: str = "",
    received_at: datetime | None = None,
    requester: Requester | None = None,
) -> DataSubjectRequest:
    """Record a new request, its deadlines and the intake step of its history."""
    now = timezone.now()
    if jurisdiction:
        try:
            jurisdiction = normalize_jurisdiction(jurisdiction)
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[{"pointer": "/jurisdiction", "detail": str(exc)}]) from exc
    if received_at is None:
        received_at = now
    else:
        if channel not in BACKDATED_CHANNELS:
            raise InvalidInput(
                "received_at can be set only for requests received by email or mail.",
                errors=[{"pointer": "/received_at", "detail": "only for channel email or mail"}],
            )
        if received_at > now + timedelta(seconds=settings.PROVENANT_ALLOWED_CLOCK_SKEW_SECONDS):
            raise InvalidInput(
                "received_at lies in the future.",
                errors=[{"pointer": "/received_at", "detail": "must not be in the future"}],
            )
        received_at = min(received_at, now)  # within the allowed clock skew: it arrived now
    resolved_regime = _derive_regime(regime, jurisdiction)
    result = _compute(
        regime=resolved_regime, request_type=request_type, jurisdiction=jurisdiction, received_at=received_at
    )
    requester = requester or Requester()
    public_id = str(ULID())
    data_key, wrapped = new_data_key()

    def sealed(value: str, field: str) -> str:
        return seal(data_key, value, context=f"dsar:{public_id}:{field}") if value else ""

    with transaction.atomic():
        request = DataSubjectRequest.objects.create(
            organization=organization,
            public_id=public_id,
            subject_external_id=subject_external_id,
            type=request_type,
            regime=resolved_regime,
            jurisdiction=jurisdiction,
            channel=channel,
            received_at=received_at,
            requester_email_sealed=sealed(requester.email, "email"),
            requester_name_sealed=sealed(requester.name, "name"),
            wrapped_data_key=wrapped,
            deadlines=result.to_dict(),
            due_on=result.enforced_due,
            created_at=now,
            updated_at=now,
        )
        RequestTransition.objects.create(request=request, at=now, actor=actor, from_status="", to_status=S.RECEIVED)
        audit_log(
            actor=actor,
            action="dsar.received",
            object_type="dsar",
            object_id=public_id,
            organization=organization,
            data={
                "type": request_type,
                "regime": resolved_regime,
                "channel": channel,
                "due_on": str(result.enforced_due),
            },
        )
        _advance_after_commit(request.pk, has_email=bool(requester.email))
    if not transaction.get_connection().in_atomic_block:  # the auto-wiring ran: show where it left the request
        request.refresh_from_db(fields=["status", "deadlines", "due_on", "updated_at"])
    return request


# --- auto-wiring -----------------------------------------------------------------------------------------------


def _advance_after_commit(request_id: int, *, has_email: bool) -> None:
    """After intake commits: an opt-out or limit request starts at once (no verification); any other request
    with a requester email gets its verification link. Without an email, legal verifies by hand.

    After commit, not inside the intake: a failure here never loses the request, which then waits in
    ``received`` for legal (the admin queue) like one without an email."""

    def advance() -> None:
        request = DataSubjectRequest.objects.select_related("organization").filter(pk=request_id).first()
        if request is None or request.status != S.RECEIVED:
            return
        if request.type in NO_VERIFICATION_NEEDED:
            _start_fulfilment(request)
        elif has_email:
            dsar_identity_request(request=request, actor=AUTOWIRE_ACTOR)

    transaction.on_commit(advance, robust=True)


def _start_fulfilment(request: DataSubjectRequest) -> None:
    from dsar.fulfilment import FulfilmentNotReady, dsar_fulfil_start  # fulfilment imports this module

    # Someone moved it meanwhile (started by hand, rejected): theirs stands.
    with contextlib.suppress(FulfilmentNotReady, StatusChanged, IllegalTransition):
        dsar_fulfil_start(request=request, actor=AUTOWIRE_ACTOR)


def _fulfil_after_commit(request_id: int) -> None:
    """After a verification commits, carry the request out; one already started or closed is left alone."""

    def start() -> None:
        request = DataSubjectRequest.objects.select_related("organization").filter(pk=request_id).first()
        if request is not None and request.status == S.VERIFIED:
            _start_fulfilment(request)

    transaction.on_commit(start, robust=True)


# --- workflow --------------------------------------------------------------------------------------------------


def _apply(request: DataSubjectRequest, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(request, name, value)


def dsar_transition(
    *, request: DataSubjectRequest, to_status: str, actor: str, reason: str = "", notify_requester: bool = False
) -> DataSubjectRequest:
    """Move a request along the workflow; refused (409) when illegal or when its status changed meanwhile.
    ``notify_requester``: a rejection is also emailed to the requester (after commit)."""
    expected = request.status
    if to_status not in S.values:
        raise InvalidInput(f"Unknown status {to_status!r}.", errors=[{"pointer": "/status", "detail": "unknown"}])
    if to_status not in LEGAL_TRANSITIONS[expected]:
        raise IllegalTransition(
            f"A request in status {expected} cannot move to {to_status}.", from_status=expected, to_status=to_status
        )
    reason = reason.strip()
    if to_status == S.REJECTED and not reason:
        raise InvalidInput("A rejection needs a reason.", errors=[{"pointer": "/reason", "detail": "required"}])
    if to_status == S.REJECTED:
        # Denials carry the person's remedies: Art. 12(4) under the GDPR, the appeal under US state laws.
        rule = jurisdiction_rules().rule_for(request.jurisdiction or None)
        reason = with_denial_notice(
            reason, regime=request.regime, appeal_response_days=rule.dsar.appeal_response_days if rule.dsar else None
        )
    now = timezone.now()
    step = RequestTransition(
        request=request, at=now, actor=actor, from_status=expected, to_status=to_status, reason=reason
    )
    with transaction.atomic():
        history = list(RequestTransition.objects.filter(request=request).order_by("at", "id"))
        result = _compute(
            regime=request.regime,
            request_type=request.type,
            jurisdiction=request.jurisdiction,
            received_at=request.received_at,
            transitions=[*history, step],
            extension=_extension_of(request),
        )
        values: dict[str, Any] = {
            "status": to_status,
            "deadlines": result.to_dict(),
            "due_on": result.enforced_due,
            "updated_at": now,
        }
        if to_status == S.REJECTED:
            values["rejection_reason"] = reason
            email = _requester_email(request) if notify_requester else ""
            if email:
                message = closure_message(public_id=request.public_id, reason=reason)
                transaction.on_commit(lambda: _send([email], message))
        claimed = DataSubjectRequest.objects.filter(pk=request.pk, status=expected).update(**values)
        if not claimed:
            raise StatusChanged("The request's status changed meanwhile; reload it and try again.")
        step.save()
        audit_log(
            actor=actor,
            action="dsar.transitioned",
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"from": expected, "to": to_status},
        )
    _apply(request, values)
    return request


def dsar_extend(
    *, request: DataSubjectRequest, reason_code: str, notice_sent_on: date, actor: str
) -> DataSubjectRequest:
    """Extend the deadline once (GDPR Art. 12(3); Civ. Code §1798.130), for a notice sent in time."""
    if request.status in FINAL_STATUSES:
        raise RequestClosed("A completed or rejected request cannot be extended.")
    if request.is_extended:
        raise AlreadyExtended("The request was extended already; the law allows one extension.")
    if notice_sent_on > timezone.localdate():
        raise InvalidInput(
            "notice_sent_on lies in the future.",
            errors=[{"pointer": "/notice_sent_on", "detail": "must not be in the future"}],
        )
    try:
        notice = ExtensionNotice(notice_sent_on, reason_code)
    except DeadlineError as exc:
        raise deadline_problem(exc) from exc
    now = timezone.now()
    with transaction.atomic():
        history = list(RequestTransition.objects.filter(request=request).order_by("at", "id"))
        result = _compute(
            regime=request.regime,
            request_type=request.type,
            jurisdiction=request.jurisdiction,
            received_at=request.received_at,
            transitions=history,
            extension=notice,
        )
        values: dict[str, Any] = {
            "is_extended": True,
            "extension_reason_code": reason_code,
            "extension_notice_sent_on": notice_sent_on,
            "deadlines": result.to_dict(),
            "due_on": result.enforced_due,
            "updated_at": now,
        }
        claimed = (
            DataSubjectRequest.objects.filter(pk=request.pk, status=request.status, is_extended=False)
            .exclude(status__in=FINAL_STATUSES)
            .update(**values)
        )
        if not claimed:
            current = DataSubjectRequest.objects.filter(pk=request.pk).values_list("is_extended", flat=True).first()
            if current:
                raise AlreadyExtended("The request was extended already; the law allows one extension.")
            raise StatusChanged("The request's status changed meanwhile; reload it and try again.")
        RequestTransition.objects.create(
            request=request,
            at=now,
            actor=actor,
            from_status=request.status,
            to_status=request.status,
            reason=f"extended ({reason_code}); notice sent {notice_sent_on.isoformat()}",
        )
        audit_log(
            actor=actor,
            action="dsar.extended",
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={
                "reason_code": reason_code,
                "notice_sent_on": notice_sent_on.isoformat(),
                "due_on": str(result.enforced_due),
            },
        )
    _apply(request, values)
    return request


# --- identity verification -------------------------------------------------------------------------------------

OPEN_STATUSES: Final = tuple(status for status in S.values if status not in FINAL_STATUSES)
VERIFIED_OR_LATER: Final = frozenset({S.VERIFIED, S.IN_PROGRESS, S.AWAITING_REVIEW, S.COMPLETED})
IDENTITY_SWEEP_ACTOR: Final = "task:dsar.identity_sweep"
LINK_ACTOR: Final = "requester:verification-link"


class RequesterUnreachable(DomainError):
    slug = "requester-unreachable"
    title = "The requester cannot be reached"


def _requester_email(request: DataSubjectRequest) -> str:
    """The requester's address, unsealed for sending only; blank when none was given or the key is gone."""
    if not request.requester_email_sealed:
        return ""
    try:
        data_key = unwrap_data_key(request.wrapped_data_key)
        return unseal(data_key, request.requester_email_sealed, context=f"dsar:{request.public_id}:email")
    except CryptoError:
        return ""


def _send(recipients: list[str], message: Message) -> None:
    send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, recipients)


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


def _enqueue_link_after_commit(request_id: int) -> None:
    def send() -> None:
        from dsar import tasks  # tasks import the services: resolve the name at call time

        queue = getattr(settings, "PROVENANT_TASK_QUEUE", None)
        tasks.send_verification_link.apply_async(args=(request_id,), **({"queue": queue} if queue else {}))

    transaction.on_commit(send, robust=True)


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
        _enqueue_link_after_commit(request.pk)
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
            action="dsar.verified",
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


# --- deadline sweep ----------------------------------------------------------------------------------------------

DEADLINE_SWEEP_ACTOR: Final = "task:dsar.deadline_sweep"
OVERDUE_KIND: Final = "deadline.overdue"


def _returning(sql: str, params: list[Any]) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def _legal_recipients(organization_ids: Iterable[int]) -> dict[int, list[str]]:
    contacts = dict(
        DsarLegalContact.objects.filter(organization_id__in=list(organization_ids)).values_list(
            "organization_id", "email"
        )
    )
    admins = [address for _, address in getattr(settings, "ADMINS", [])]
    return {org_id: [contacts[org_id]] if org_id in contacts else admins for org_id in organization_ids}


def _digest(organization: Organization, lines: list[tuple[str, str, str, str, date]], today: date) -> Message:
    labels = {
        "deadline.7": "due in 7 days or less",
        "deadline.3": "due in 3 days or less",
        "deadline.1": "due tomorrow",
    }
    overdue = [line for line in lines if line[0] == OVERDUE_KIND]
    upcoming = [line for line in lines if line[0] != OVERDUE_KIND]
    body = [f"Data-subject request deadlines for {organization.name} on {today.isoformat()}.", ""]
    if overdue:
        body += [f"OVERDUE ({len(overdue)}), escalated:"]
        body += [
            f"  {public_id}  {rtype}/{regime}  was due {due.isoformat()}"
            for _, public_id, rtype, regime, due in overdue
        ]
        body.append("")
    if upcoming:
        body += [f"Upcoming ({len(upcoming)}):"]
        body += [
            f"  {public_id}  {rtype}/{regime}  due {due.isoformat()} ({labels.get(kind, kind)})"
            for kind, public_id, rtype, regime, due in upcoming
        ]
    subject = f"[Provenant] {organization.name}: {len(overdue)} overdue, {len(upcoming)} due soon"
    return Message(subject=subject, body="\n".join(body) + "\n")


def dsar_deadline_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Remind legal 7, 3 and 1 days before each due date and escalate overdue requests, each once, in one digest
    per organization. Set-based: the claims are INSERT ... ON CONFLICT DO NOTHING on (request, kind, due date),
    and overdue requests are marked with one UPDATE, so a rerun finds nothing to send."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    requests_table = DataSubjectRequest._meta.db_table
    notices_table = RequestNotice._meta.db_table
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    with transaction.atomic():
        reminders = _returning(
            f"""
            INSERT INTO {notices_table} (request_id, kind, for_date, created_at)
            SELECT id,
                   CASE WHEN due_on <= %s THEN 'deadline.1' WHEN due_on <= %s THEN 'deadline.3' ELSE 'deadline.7' END,
                   due_on, %s
            FROM {requests_table}
            WHERE status IN ({statuses}) AND due_on > %s AND due_on <= %s
            ON CONFLICT (request_id, kind, for_date) DO NOTHING
            RETURNING request_id, kind
            """,  # noqa: S608 (table names from the models' meta; every value is a parameter)
            [
                today + timedelta(days=1),
                today + timedelta(days=3),
                now,
                *OPEN_STATUSES,
                today,
                today + timedelta(days=7),
            ],
        )
        escalations = _returning(
            f"""
            INSERT INTO {notices_table} (request_id, kind, for_date, created_at)
            SELECT id, %s, due_on, %s
            FROM {requests_table}
            WHERE status IN ({statuses}) AND due_on < %s AND overdue_on IS NULL
            ON CONFLICT (request_id, kind, for_date) DO NOTHING
            RETURNING request_id, kind
            """,  # noqa: S608 (table names from the models' meta; every value is a parameter)
            [OVERDUE_KIND, now, *OPEN_STATUSES, today],
        )
        marked = DataSubjectRequest.objects.filter(
            status__in=OPEN_STATUSES, due_on__lt=today, overdue_on__isnull=True
        ).update(overdue_on=today, updated_at=now)
        claimed = reminders + escalations
        kinds = dict(claimed)
        details: dict[int, list[tuple[str, str, str, str, date]]] = {}
        ids = list(kinds)
        for start in range(0, len(ids), 2000):
            rows = DataSubjectRequest.objects.filter(pk__in=ids[start : start + 2000]).values_list(
                "pk", "organization_id", "public_id", "type", "regime", "due_on"
            )
            for pk, organization_id, public_id, request_type, regime, due_on in rows:
                details.setdefault(organization_id, []).append((kinds[pk], public_id, request_type, regime, due_on))
        organizations = Organization.objects.in_bulk(list(details))
        recipients = _legal_recipients(details)
        digests = 0
        for organization_id, lines in sorted(details.items()):
            lines.sort(key=lambda line: (line[4], line[1]))
            organization = organizations[organization_id]
            if recipients[organization_id]:
                _send(recipients[organization_id], _digest(organization, lines, today))
                digests += 1
            overdue_ids = [line[1] for line in lines if line[0] == OVERDUE_KIND]
            audit_log(
                actor=DEADLINE_SWEEP_ACTOR,
                action="dsar.deadline_sweep",
                object_type="organization",
                object_id=organization.slug,
                organization=organization,
                data={
                    "reminders": len(lines) - len(overdue_ids),
                    "overdue": overdue_ids,
                    "digest_sent": bool(recipients[organization_id]),
                },
            )
    return {"reminders": len(reminders), "overdue": len(escalations), "marked_overdue": marked, "digests": digests}


def dsar_assign(*, request: DataSubjectRequest, assignee: Any, actor: str) -> DataSubjectRequest:
    """Hand the request to a staff member of the legal team (None: unassign). Audited."""
    if assignee is not None and not assignee.is_staff:
        raise InvalidInput(
            "Only staff users can be assigned.", errors=[{"pointer": "/assignee", "detail": "not staff"}]
        )
    with transaction.atomic():
        DataSubjectRequest.objects.filter(pk=request.pk).update(assignee=assignee, updated_at=timezone.now())
        audit_log(
            actor=actor,
            action="dsar.assigned",
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"assignee": assignee.pk if assignee is not None else None},
        )
    request.refresh_from_db()
    return request
