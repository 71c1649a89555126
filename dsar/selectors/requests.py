"""Reads of data-subject requests: one request of an organization, its requester's contact, the requests the
sweeps work on, and the what-if deadline calculator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, prefetch_related_objects

from consent.subject_ids import email_index
from core.crypto import CryptoError, normalize_email, unseal, unwrap_data_key
from core.models import Organization
from dsar.certificate import CertificateFacts, CertificateStep
from dsar.deadlines import ClockEvent, DeadlineError, DeadlineResult, ExtensionNotice, compute_deadlines
from dsar.enums import OPEN_STATUSES, FulfilmentStepStatus, RequestStatus, RequestType
from dsar.models import DataSubjectRequest, FulfilmentStep, RequestTransition
from dsar.problems import deadline_problem
from dsar.seal_contexts import request_key_owner, requester_context
from dsar.selectors.deadline_settings import organization_deadline_layer


def dsar_by_idempotency_key(*, organization: Organization, idempotency_key: str) -> DataSubjectRequest | None:
    return DataSubjectRequest.objects.filter(organization=organization, idempotency_key=idempotency_key).first()


# What a request's answer shows beside it: its history and its messages (one query each).
_HISTORY_AND_MESSAGES = ("transitions", "messages")


def dsar_for_organization(*, organization: Organization, public_id: str) -> DataSubjectRequest | None:
    """The request with its history and its messages (two extra queries), or None when another organization owns
    it."""
    return (
        DataSubjectRequest.objects.filter(organization=organization, public_id=public_id)
        .prefetch_related(*_HISTORY_AND_MESSAGES)
        .first()
    )


def dsar_with_history(request: DataSubjectRequest) -> DataSubjectRequest:
    """The request a caller holds as it stands, with its history and its messages loaded (two queries)."""
    prefetch_related_objects([request], *_HISTORY_AND_MESSAGES)
    return request


def dsar_by_public_id(public_id: str) -> DataSubjectRequest | None:
    """Any organization's request (the requester's signed link names it), with its organization."""
    return DataSubjectRequest.objects.select_related("organization").filter(public_id=public_id).first()


def dsar_by_pk(request_id: int, *, status: str | None = None) -> DataSubjectRequest | None:
    """The request (with its organization) a task was given; None when gone or, with ``status``, in another."""
    found = DataSubjectRequest.objects.select_related("organization").filter(pk=request_id)
    if status is not None:
        found = found.filter(status=status)
    return found.first()


def dsar_status(request_id: int) -> str:
    """The request's status as stored now."""
    return str(DataSubjectRequest.objects.values_list("status", flat=True).get(pk=request_id))


def dsar_history(request: DataSubjectRequest) -> list[RequestTransition]:
    """Every transition of the request, oldest first."""
    return list(RequestTransition.objects.filter(request=request).order_by("at", "id"))


def dsars_identity_pending() -> QuerySet[DataSubjectRequest]:
    """Requests waiting for the requester to prove who they are, with their history, oldest first."""
    return (
        DataSubjectRequest.objects.filter(status=RequestStatus.IDENTITY_PENDING)
        .select_related("organization")
        .prefetch_related("transitions")
        .order_by("id")
    )


def dsar_ids_stuck(*, now: datetime, stalled_since: datetime) -> list[int]:
    """Requests in progress with unfinished steps, no live claim and nothing done since ``stalled_since``."""
    unfinished = FulfilmentStep.objects.filter(request=OuterRef("pk")).exclude(status=FulfilmentStepStatus.DONE)
    held = FulfilmentStep.objects.filter(
        request=OuterRef("pk"), status=FulfilmentStepStatus.RUNNING, claimed_until__gte=now
    )
    recent = FulfilmentStep.objects.filter(request=OuterRef("pk"), completed_at__gt=stalled_since)
    return list(
        DataSubjectRequest.objects.filter(status=RequestStatus.IN_PROGRESS, updated_at__lte=stalled_since)
        .exclude(_erasure_waiting(now))  # waiting on purpose: the erasure sweep runs them when they may
        .filter(Exists(unfinished))
        .exclude(Exists(held))
        .exclude(Exists(recent))
        .order_by("id")
        .values_list("pk", flat=True)
    )


def _erasure_waiting(now: datetime) -> Q:
    """Deletion requests whose erasure step may not run yet (cancelled, awaiting approval, cooling off)."""
    gate_open = Q(erasure_cancelled_at__isnull=True) & (
        Q(erasure_approved_at__isnull=False) | Q(erasure_review="none", erasure_not_before__lte=now)
    )
    return Q(type=RequestType.DELETION) & ~gate_open


def dsar_ids_erasure_due(*, now: datetime) -> list[int]:
    """Deletion requests in progress whose erasure may run now (approved, or cooled off under review "none") and
    whose erase step is still pending or was left by a dead worker."""
    erase_open = FulfilmentStep.objects.filter(request=OuterRef("pk"), step="erase").filter(
        Q(status=FulfilmentStepStatus.PENDING) | Q(status=FulfilmentStepStatus.RUNNING, claimed_until__lt=now)
    )
    return list(
        DataSubjectRequest.objects.filter(status=RequestStatus.IN_PROGRESS, type=RequestType.DELETION)
        .exclude(_erasure_waiting(now))
        .filter(Exists(erase_open))
        .order_by("id")
        .values_list("pk", flat=True)
    )


# --- the compliance certificate --------------------------------------------------------------------------------


def dsar_certificate_facts(request: DataSubjectRequest) -> CertificateFacts:
    """The facts of a request loaded by ``dsar_for_organization`` (organization and history fetched)."""
    return CertificateFacts(
        request_id=request.public_id,
        organization=request.organization.slug,
        request_type=request.type,
        regime=request.regime,
        jurisdiction=request.jurisdiction,
        channel=request.channel,
        received_at=request.received_at,
        status=request.status,
        deadlines=request.deadlines,
        steps=[
            CertificateStep(
                at=step.at, actor=step.actor, from_status=step.from_status, to_status=step.to_status, reason=step.reason
            )
            for step in request.transitions.all()
        ],
        rejection_reason=request.rejection_reason,
        extension_reason_code=request.extension_reason_code,
        extension_notice_sent_on=request.extension_notice_sent_on,
    )


# --- the requester's contact -------------------------------------------------------------------------------------


def dsar_requester_email(request: DataSubjectRequest) -> str:
    """The requester's address, unsealed for sending only; blank when none was given or the key is gone."""
    if not request.requester_email_sealed:
        return ""
    try:
        data_key = unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id))
        return unseal(data_key, request.requester_email_sealed, context=requester_context(request.public_id, "email"))
    except CryptoError:
        return ""


def requester_email_index(organization_id: int, email: str) -> str:
    """The requester's email hashed as ``Subject.email_index`` is (normalized, keyed per organization), so staff
    find the request by typing the address and nothing is decrypted to search; blank without one."""
    return email_index(organization_id, normalize_email(email)) if email.strip() else ""


def requester_email_reindexed(request: Any) -> dict[str, str] | None:
    """``manage.py reindex_blind_indexes``: the requester email's index under the current key (this also fills it
    for requests filed before it was kept); None without an address or once the request's key is gone."""
    if not request.requester_email_sealed:
        return None
    data_key = unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id))
    email = unseal(data_key, request.requester_email_sealed, context=requester_context(request.public_id, "email"))
    return {"requester_email_index": requester_email_index(request.organization_id, email)}


@dataclass(frozen=True)
class MaskedRequester:
    email: str
    name: str


@dataclass(frozen=True)
class RequesterContact:
    """The requester's contact in clear: shown only through the audited reveal."""

    email: str
    name: str


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_name(name: str) -> str:
    return " ".join(f"{part[:1]}***" for part in name.split())


def dsar_requester_contact(request: DataSubjectRequest) -> RequesterContact:
    """The requester's contact in clear, for the audited reveal (``services.dsar_requester_reveal``) only; blank
    parts when none was given or the key is gone (erased, or a key that belongs to another row)."""
    try:
        data_key = unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id))
    except CryptoError:
        return RequesterContact(email="", name="")

    def opened(token: str, field: str) -> str:
        if not token:
            return ""
        try:
            return unseal(data_key, token, context=requester_context(request.public_id, field))
        except CryptoError:
            return ""

    return RequesterContact(
        email=opened(request.requester_email_sealed, "email"), name=opened(request.requester_name_sealed, "name")
    )


def dsar_requester_masked(request: DataSubjectRequest) -> MaskedRequester:
    """The requester's contact, masked for display (``j***@example.com``); never the plaintext."""
    contact = dsar_requester_contact(request)
    return MaskedRequester(email=mask_email(contact.email) if contact.email else "", name=mask_name(contact.name))


# --- what-if -----------------------------------------------------------------------------------------------------


def deadlines_what_if(
    *,
    organization: Organization,
    regime: str,
    request_type: str,
    received_at: datetime,
    tz: str | None = None,
    calendar: str | None = None,
    events: Iterable[tuple[str, date]] = (),
    extension: tuple[date, str] | None = None,
    as_of: date | None = None,
) -> DeadlineResult:
    """The deadline engine on a hypothetical request, completed by the organization's deadline settings where it
    names no zone or calendar; its refusals become problem documents (409/422)."""
    organization_settings = organization_deadline_layer(organization)
    try:
        return compute_deadlines(
            regime=regime,
            request_type=request_type,
            received_at=received_at,
            tz=tz,
            calendar=calendar,
            events=[ClockEvent(kind, day) for kind, day in events],
            extension=ExtensionNotice(*extension) if extension is not None else None,
            as_of=as_of,
            settings=[organization_settings] if organization_settings is not None else [],
        )
    except DeadlineError as exc:
        raise deadline_problem(exc) from exc


# --- lists for integrators (issue #17) ---------------------------------------------------------------------------


def overdue_requests(today: date) -> Q:
    """Open requests past their due date: marked by the deadline sweep, or due before yesterday in UTC (past the
    end of the due day in every time zone, whether or not the sweep has run since)."""
    return Q(status__in=OPEN_STATUSES) & (Q(overdue_on__isnull=False) | Q(due_on__lt=today - timedelta(days=1)))


def dsar_list(
    *,
    organization: Organization,
    status: str | None = None,
    request_type: str | None = None,
    regime: str | None = None,
    due_before: date | None = None,
    overdue: bool | None = None,
    assignee: str | None = None,
    today: date,
) -> QuerySet[DataSubjectRequest]:
    """The organization's requests; ``due_before``: due strictly before that date; ``assignee``: a staff username."""
    requests = DataSubjectRequest.objects.filter(organization=organization).select_related("assignee")
    if status is not None:
        requests = requests.filter(status=status)
    if request_type is not None:
        requests = requests.filter(type=request_type)
    if regime is not None:
        requests = requests.filter(regime=regime)
    if due_before is not None:
        requests = requests.filter(due_on__lt=due_before)
    if overdue is not None:
        requests = requests.filter(overdue_requests(today)) if overdue else requests.exclude(overdue_requests(today))
    if assignee is not None:
        requests = requests.filter(assignee__username=assignee)
    return requests
