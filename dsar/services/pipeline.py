"""The hops after a commit: what intake, the identity request, a verification and a fulfilment start hand on once
their transaction commits, and the recovery of stalled runs. The DSAR module that enqueues the steps' tasks (by
name, through ``core.tasks``; ``messaging`` enqueues its messages' delivery); the services below it never look up."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Required, TypedDict, Unpack

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from consent.models import Subject
from consent.services import IdempotencyKeyReused
from core.models import Organization
from core.tasks import enqueue, enqueue_after_commit, tasks_run_here
from dsar.enums import FINAL_STATUSES, NO_VERIFICATION_NEEDED, VERIFIED_OR_LATER, RequestStatus
from dsar.identity_links import check_confirmation, confirmation_value, public_id_from_identity_token
from dsar.models import DataSubjectRequest
from dsar.problems import (
    FulfilmentNotReady,
    IllegalTransition,
    RequestClosed,
    StatusChanged,
    VerificationLinkInvalid,
)
from dsar.selectors import dsar_by_idempotency_key, dsar_by_pk, dsar_by_public_id, dsar_ids_erasure_due, dsar_ids_stuck
from dsar.services.erasure import dsar_erasure_approve as erasure_approve
from dsar.services.fulfilment import dsar_fulfil_begin
from dsar.services.identity import LINK_ACTOR, dsar_identity_confirm, dsar_identity_pending
from dsar.services.workflow import RecordedIntake, Requester, dsar_intake

AUTOWIRE_ACTOR: Final = "task:dsar.workflow"
FULFIL_TASK: Final = "dsar.tasks.fulfil"
SEND_IDENTITY_LINK_TASK: Final = "dsar.tasks.send_verification_link"
# What a move of a request changes on the object its caller holds (``workflow.dsar_transition``).
_MOVING_FIELDS: Final = ("status", "deadlines", "due_on", "updated_at", "rejection_reason")


# --- intake ----------------------------------------------------------------------------------------------------


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
    language: str = "",
    subject: Subject | None = None,
    idempotency_key: str = "",
    request_digest: str = "",
) -> DataSubjectRequest:
    """Record a new request, its deadlines, the intake step of its history and the receipt confirmation; a request
    with a requester email that needs verification moves on to identity_pending in the same transaction and its
    link is sent after the commit; an opt-out or limit request starts after the commit. ``language``: the
    requester's (BCP 47); their messages use it when we have the templates."""
    return _record(
        organization=organization,
        request_type=request_type,
        channel=channel,
        actor=actor,
        jurisdiction=jurisdiction,
        regime=regime,
        subject_external_id=subject_external_id,
        received_at=received_at,
        requester=requester or Requester(),
        language=language,
        subject=subject,
        idempotency_key=idempotency_key,
        request_digest=request_digest,
    ).request


class _IntakeFields(TypedDict, total=False):
    """What ``dsar_create`` and ``dsar_accept`` hand to ``dsar_intake`` as they got it."""

    organization: Required[Organization]
    request_type: Required[str]
    channel: Required[str]
    actor: Required[str]
    jurisdiction: str
    regime: str | None
    subject_external_id: str
    received_at: datetime | None
    language: str
    subject: Subject | None
    idempotency_key: str
    request_digest: str


def _record(*, requester: Requester, **intake: Unpack[_IntakeFields]) -> RecordedIntake:
    asks_identity = intake["request_type"] not in NO_VERIFICATION_NEEDED and bool(requester.email)
    # Outside any transaction, intake's commit is the caller's: the identity step that would run right after it
    # is written with it (one transaction, issue #16). In a caller's transaction it runs after that commits, as
    # the caller may still move the request.
    identity_now = asks_identity and not transaction.get_connection().in_atomic_block
    recorded = dsar_intake(**intake, requester=requester, identity_requested_by=AUTOWIRE_ACTOR if identity_now else "")
    if identity_now:
        # The link goes out now; lost with the broker, the identity sweep sends it.
        enqueue_after_commit(SEND_IDENTITY_LINK_TASK, recorded.request.pk)
    elif asks_identity or intake["request_type"] in NO_VERIFICATION_NEEDED:
        _advance_after_commit(recorded.request)
    # Without an email, legal verifies by hand: the request waits in received.
    return recorded


@dataclass(frozen=True)
class AcceptedRequest:
    """A request as ``dsar_accept`` answers it: new, or the first one of an idempotent retry. ``recorded``: what
    intake wrote, when nothing after its commit changed it (the answer needs no second read); else None."""

    request: DataSubjectRequest
    replayed: bool = False
    recorded: RecordedIntake | None = None


def dsar_accept(
    *,
    organization: Organization,
    idempotency_key: str,
    request_digest: str,
    request_type: str,
    channel: str,
    actor: str,
    jurisdiction: str = "",
    regime: str | None = None,
    subject_external_id: str = "",
    received_at: datetime | None = None,
    requester: Requester | None = None,
    language: str = "",
) -> AcceptedRequest:
    """``dsar_create`` for an API client that may retry: with an ``idempotency_key`` (unique per organization) a
    retry of the same body (same ``request_digest``) gets the first request back, and nothing is recorded or sent
    again; another body under the same key is refused with ``IdempotencyKeyReused``."""
    if idempotency_key:
        first = dsar_by_idempotency_key(organization=organization, idempotency_key=idempotency_key)
        if first is not None:
            return _replayed(first, idempotency_key, request_digest)
    try:
        recorded = _record(
            organization=organization,
            request_type=request_type,
            channel=channel,
            actor=actor,
            jurisdiction=jurisdiction,
            regime=regime,
            subject_external_id=subject_external_id,
            received_at=received_at,
            requester=requester or Requester(),
            language=language,
            idempotency_key=idempotency_key,
            request_digest=request_digest,
        )
    except IntegrityError:
        # A concurrent retry with the key committed first (our insert waited for it): its request is the answer.
        first = dsar_by_idempotency_key(organization=organization, idempotency_key=idempotency_key)
        if not idempotency_key or first is None:
            raise
        return _replayed(first, idempotency_key, request_digest)
    return AcceptedRequest(recorded.request, recorded=recorded if _unchanged_after_commit(recorded) else None)


def _unchanged_after_commit(recorded: RecordedIntake) -> bool:
    """Whether what intake wrote is how the request stands once what its commit set off here has run: not when an
    opt-out or limit request started, when the identity step waits for the caller's commit, when tasks run in
    this process (Celery's eager mode), or when messages are delivered in it (not by a worker)."""
    request = recorded.request
    identity_waits = request.status == RequestStatus.RECEIVED and bool(request.requester_email_sealed)
    if request.type in NO_VERIFICATION_NEEDED or identity_waits or tasks_run_here():
        return False
    return not recorded.messages or bool(settings.PROVENANT_DSAR_MESSAGES_IN_WORKER)


def _replayed(first: DataSubjectRequest, idempotency_key: str, request_digest: str) -> AcceptedRequest:
    if first.request_digest != request_digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used before with a different request body.",
            idempotency_key=idempotency_key,
            pointer="/",
        )
    return AcceptedRequest(first, replayed=True)


def _advance_after_commit(request: DataSubjectRequest) -> None:
    """After the caller's transaction commits: an opt-out or limit request starts at once (no verification); any
    other request (one with a requester email) gets its verification link. After commit, not inside the intake:
    a failure here never loses the request, which then waits in ``received`` for legal (the admin queue). The
    request is the one intake just recorded, not read again (issue #16): its moves are compare-and-set, so one
    someone moved meanwhile is left as they left it; the object the caller holds shows where the request stands."""

    def advance() -> None:
        if request.status != RequestStatus.RECEIVED:  # moved in the caller's transaction, after intake
            return
        try:
            if request.type in NO_VERIFICATION_NEEDED:
                _start_fulfilment(request)
            else:
                with contextlib.suppress(StatusChanged, IllegalTransition):
                    dsar_identity_request(request=request, actor=AUTOWIRE_ACTOR)
        except Exception:
            # The object may show a move that did not commit: read back what is stored, then let on_commit log.
            with contextlib.suppress(DatabaseError):
                request.refresh_from_db(fields=list(_MOVING_FIELDS))
            raise

    transaction.on_commit(advance, robust=True)


# --- identity --------------------------------------------------------------------------------------------------


def dsar_identity_request(*, request: DataSubjectRequest, actor: str) -> DataSubjectRequest:
    """Ask the requester to prove who they are: identity_pending, and the signed link emailed after commit."""
    with transaction.atomic():
        dsar_identity_pending(request=request, actor=actor)
        enqueue_after_commit(SEND_IDENTITY_LINK_TASK, request.pk)
    return request


def dsar_identity_verify(
    *, request: DataSubjectRequest, actor: str, note: str, method: str = "manual"
) -> DataSubjectRequest:
    """Record the requester's identity as verified (see ``dsar_identity_confirm``); a request this call verified
    is carried out after commit."""
    with transaction.atomic():
        verified, is_new = dsar_identity_confirm(request=request, actor=actor, note=note, method=method)
        if is_new:
            _fulfil_after_commit(request.pk)
    return verified


@dataclass(frozen=True)
class IdentityLinkOutcome:
    public_id: str
    status: str
    is_newly_verified: bool


@dataclass(frozen=True)
class IdentityLinkPreview:
    """What the verification page shows before the requester confirms; reading it writes nothing."""

    public_id: str
    status: str
    request_type: str
    is_verified: bool
    confirmation: str


def _request_of_link(token: str) -> DataSubjectRequest:
    request = dsar_by_public_id(public_id_from_identity_token(token))
    if request is None:
        raise VerificationLinkInvalid("This verification link is not valid.")
    return request


def dsar_identity_link_preview(*, token: str) -> IdentityLinkPreview:
    """The requester (or a mail scanner) opened the link: what confirming would do, and the signed confirmation
    value the page posts back. Expired (410), tampered (400) and closed (409) links are refused; nothing is
    written either way."""
    request = _request_of_link(token)
    is_verified = request.status in VERIFIED_OR_LATER
    if not is_verified and request.status in FINAL_STATUSES:
        raise RequestClosed("The request is closed; verifying it changes nothing.")
    return IdentityLinkPreview(
        public_id=request.public_id,
        status=request.status,
        request_type=request.type,
        is_verified=is_verified,
        confirmation="" if is_verified else confirmation_value(request.public_id, token),
    )


def dsar_identity_verify_by_link(*, token: str, confirmation: object) -> IdentityLinkOutcome:
    """The requester confirmed on the page the link opened (a POST with its signed confirmation value): verify
    the request it names. Expired (410) or tampered (400) links and a missing or foreign confirmation (403)
    change nothing; a second use answers the same and writes nothing."""
    request = _request_of_link(token)
    was_verified = request.status in VERIFIED_OR_LATER
    if not was_verified:
        check_confirmation(confirmation, public_id=request.public_id, token=token)
    public_id = request.public_id
    verified = dsar_identity_verify(
        request=request, actor=LINK_ACTOR, note="identity verified by the requester's signed link", method="link"
    )
    return IdentityLinkOutcome(
        public_id, verified.status, not was_verified and verified.status == RequestStatus.VERIFIED
    )


# --- fulfilment ------------------------------------------------------------------------------------------------


def dsar_fulfil_start(*, request: DataSubjectRequest, actor: str, requested_change: str = "") -> DataSubjectRequest:
    """Start carrying out a verified request (see ``dsar_fulfil_begin``); the run is enqueued after commit."""
    with transaction.atomic():
        dsar_fulfil_begin(request=request, actor=actor, requested_change=requested_change)
        enqueue_after_commit(FULFIL_TASK, request.pk)
        if request.erasure_not_before is not None and request.erasure_not_before > timezone.now():
            # "none": the erasure runs when its cooling-off ends (the erasure sweep finds it if this is lost).
            enqueue_after_commit(FULFIL_TASK, request.pk, eta=request.erasure_not_before)
    return request


def dsar_erasure_approve(*, request: DataSubjectRequest, actor: str) -> DataSubjectRequest:
    """Approve a waiting erasure (see ``services.erasure``); it runs after commit."""
    with transaction.atomic():
        erasure_approve(request=request, actor=actor)
        enqueue_after_commit(FULFIL_TASK, request.pk)
    return request


def dsar_erasure_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Beat: enqueue the erasures whose approval or cooling-off let them run and that have not run: a lost
    message, a countdown lost with its worker or a crash delays an erasure, it does not lose it."""
    due = dsar_ids_erasure_due(now=now or timezone.now())
    for request_id in due:
        enqueue(FULFIL_TASK, request_id)
    return {"enqueued": len(due)}


def _start_fulfilment(request: DataSubjectRequest) -> None:
    # Someone moved it meanwhile (started by hand, rejected): theirs stands.
    with contextlib.suppress(FulfilmentNotReady, StatusChanged, IllegalTransition):
        dsar_fulfil_start(request=request, actor=AUTOWIRE_ACTOR)


def _fulfil_after_commit(request_id: int) -> None:
    """After a verification commits, carry the request out; one already started or closed is left alone."""

    def start() -> None:
        request = dsar_by_pk(request_id)
        if request is not None and request.status == RequestStatus.VERIFIED:
            _start_fulfilment(request)

    transaction.on_commit(start, robust=True)


def stuck_after() -> timedelta:
    return timedelta(minutes=float(settings.PROVENANT_DSAR_FULFIL_STUCK_MINUTES))


def dsar_fulfil_resume_stuck(*, now: datetime | None = None) -> dict[str, int]:
    """Enqueue again requests in progress with unfinished steps and no live claim, quiet for longer than the
    timeout: a lost message or a dead worker delays the work, it does not lose it."""
    now = now or timezone.now()
    stuck = dsar_ids_stuck(now=now, stalled_since=now - stuck_after())
    for request_id in stuck:
        enqueue(FULFIL_TASK, request_id)
    return {"resumed": len(stuck)}
