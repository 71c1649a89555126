"""The DSAR workflow's rules shared by the services: legal transitions, problem types, deadline computation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from django.conf import settings
from django.core.mail import send_mail

from core.crypto import CryptoError, unseal, unwrap_data_key
from core.jurisdiction_rules import jurisdiction_rules
from core.problems import Conflict, DomainError, InvalidInput
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
from dsar.models import (
    DataSubjectRequest,
    RequestStatus,
    RequestTransition,
    RequestType,
)
from dsar.verification import Message

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


# --- shared by the workflow, verification and the sweeps ---------------------------------------------------

OPEN_STATUSES: Final = tuple(status for status in S.values if status not in FINAL_STATUSES)
VERIFIED_OR_LATER: Final = frozenset({S.VERIFIED, S.IN_PROGRESS, S.AWAITING_REVIEW, S.COMPLETED})


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
