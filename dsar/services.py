"""Writes for data-subject requests: intake, status transitions and the one extension.

Each change is one transaction: a compare-and-set UPDATE on the expected status, the recomputed deadlines,
one ``RequestTransition`` row and one audit-log entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from ulid import ULID

from core.crypto import new_data_key, seal
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
from dsar.models import DataSubjectRequest, DsarRegime, RequestStatus, RequestTransition

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
    return request


# --- workflow --------------------------------------------------------------------------------------------------


def _apply(request: DataSubjectRequest, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(request, name, value)


def dsar_transition(*, request: DataSubjectRequest, to_status: str, actor: str, reason: str = "") -> DataSubjectRequest:
    """Move a request along the workflow; refused (409) when illegal or when its status changed meanwhile."""
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
