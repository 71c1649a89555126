"""Staff decisions on a deletion request's erasure while it waits (PROVENANT_DSAR_ERASURE_REVIEW): approve it
(it runs now, in either mode) or cancel it (the request is rejected with the reason; the erasure never runs).
Both are audited; running the approved erasure after commit is ``services.pipeline``'s."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.enums import AuditAction
from core.problems import InvalidInput
from core.services import audit_log
from dsar.enums import FINAL_STATUSES, FulfilmentStepStatus, RequestStatus, RequestType
from dsar.erasure_review import ErasureGate
from dsar.models import DataSubjectRequest, FulfilmentStep
from dsar.problems import ErasureNotWaiting
from dsar.services.fulfilment import ERASE_STEP, request_erasure_gate
from dsar.services.workflow import dsar_transition


def _locked(request: DataSubjectRequest) -> DataSubjectRequest:
    return DataSubjectRequest.objects.select_for_update(of=("self",)).select_related("organization").get(pk=request.pk)


def _erase_step_locked(request: DataSubjectRequest) -> FulfilmentStep | None:
    return FulfilmentStep.objects.select_for_update().filter(request=request, step=ERASE_STEP).first()


def dsar_erasure_approve(*, request: DataSubjectRequest, actor: str) -> DataSubjectRequest:
    """Approve a waiting erasure; refused (409) unless the deletion request is in progress with its erasure
    still waiting (not approved, cancelled, running or done)."""
    with transaction.atomic():
        current = _locked(request)
        step = _erase_step_locked(current)
        gate = request_erasure_gate(current)
        if (
            current.type != RequestType.DELETION
            or current.status != RequestStatus.IN_PROGRESS
            or step is None
            or step.status != FulfilmentStepStatus.PENDING
            or gate not in (ErasureGate.AWAITING_APPROVAL, ErasureGate.COOLING_OFF)
        ):
            raise ErasureNotWaiting("This request has no erasure waiting for approval; nothing changed.")
        now = timezone.now()
        DataSubjectRequest.objects.filter(pk=current.pk).update(
            erasure_approved_at=now, erasure_approved_by=actor, updated_at=now
        )
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_ERASURE_APPROVED,
            object_type="dsar",
            object_id=current.public_id,
            organization=current.organization,
            data={"review": current.erasure_review or "legal"},
        )
    request.erasure_approved_at, request.erasure_approved_by = now, actor
    return request


def dsar_erasure_cancel(
    *, request: DataSubjectRequest, actor: str, reason: str, notify_requester: bool = True
) -> DataSubjectRequest:
    """Cancel a deletion request's erasure before it runs: the request is rejected with ``reason`` (final; its
    deadlines stay on record) and the erase step never runs. Refused (409) once the erasure started or ran."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the erasure is cancelled.", errors=[{"pointer": "/reason", "detail": "required"}])
    with transaction.atomic():
        current = _locked(request)
        # The step's row lock orders this against a worker's claim: claimed first, the cancellation is refused;
        # cancelled first, the worker gives the step back (fulfilment._still_erasable).
        step = _erase_step_locked(current)
        if (
            current.type != RequestType.DELETION
            or current.status in FINAL_STATUSES
            or current.erasure_cancelled_at is not None
            or (step is not None and step.status != FulfilmentStepStatus.PENDING)
        ):
            raise ErasureNotWaiting("This request's erasure is running, done or closed; it cannot be cancelled.")
        before, now = current.status, timezone.now()
        DataSubjectRequest.objects.filter(pk=current.pk).update(erasure_cancelled_at=now)
        current.erasure_cancelled_at = now
        dsar_transition(
            request=current,
            to_status=RequestStatus.REJECTED,
            actor=actor,
            reason=f"Erasure cancelled before it ran: {reason}",
            notify_requester=notify_requester,
        )
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_ERASURE_CANCELLED,
            object_type="dsar",
            object_id=current.public_id,
            organization=current.organization,
            data={"from": before, "notified": notify_requester},
        )
    return current
