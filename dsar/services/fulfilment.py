"""Carrying out a verified request: a fixed list of steps per request type, each claimed with a compare-and-set
and marked done in the transaction that writes its effects, so a rerun skips what is done and a step a dead
worker left half-way is redone whole (nothing it did was committed).

access/portability: export (ZIP, sealed, with every HTTP connector's answer) -> review; deletion: erase (HTTP
connectors and recipients' ``subject.erased`` webhooks, then crypto-shred + suppression) -> complete, or review
when a connector or webhook failed; opt_out_of_sale: opt_out (withdraw/refuse events) -> complete; correction and
the rest: review. Outbound calls run before the step's transaction and are recorded in it (dsar/connector_calls.py,
services/connectors.py). Enqueuing the run after a commit is ``services.pipeline``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from ulid import ULID

from consent.models import Action, CollectionMethod, Subject
from consent.selectors.ledger import consent_state_for_subject, subject_email
from consent.services import ConsentEventInput, consent_record_many, subject_erase, subject_suppress, system_source
from core.crypto import normalize_email, seal, unwrap_data_key
from core.enums import AuditAction
from core.services import audit_log
from dsar.connector_calls import call_connectors, calls_summary, notify_recipients_erased
from dsar.cover_letter import cover_letter_document
from dsar.enums import NO_VERIFICATION_NEEDED, FulfilmentStepStatus, RequestStatus, RequestType
from dsar.erasure_review import ErasureGate, erasure_cooling_off, erasure_gate, erasure_review_mode
from dsar.export_archive import ConnectorAnswer, build_archive, seal_archive
from dsar.models import DataSubjectRequest, FulfilmentStep
from dsar.problems import FulfilmentNotReady, IllegalTransition, StatusChanged
from dsar.seal_contexts import correction_context, request_key_owner
from dsar.selectors import (
    cover_letter_facts,
    dsar_by_pk,
    dsar_requester_email,
    dsar_status,
    failed_call_keys,
    request_contact_email,
    request_subject,
    sale_purposes,
    subject_tables,
)
from dsar.services.connectors import connector_calls_record
from dsar.services.exports import export_store, exports_shred_for_erasure
from dsar.services.workflow import dsar_transition
from provenance.services.erasure import provenance_subject_forget

FULFIL_ACTOR: Final = "task:dsar.fulfil"
ERASE_STEP: Final = "erase"

STEPS: Final[dict[str, tuple[str, ...]]] = {
    RequestType.ACCESS: ("export", "review"),
    RequestType.PORTABILITY: ("export", "review"),
    RequestType.DELETION: ("erase", "complete"),
    RequestType.OPT_OUT_OF_SALE: ("opt_out", "complete"),
}
DEFAULT_STEPS: Final = ("review",)


class StepLost(Exception):
    """Another worker took the step over (our lease ran out): roll back what this one did."""


def steps_for(request_type: str) -> tuple[str, ...]:
    return STEPS.get(request_type, DEFAULT_STEPS)


def _lease() -> timedelta:
    return timedelta(seconds=float(settings.PROVENANT_DSAR_STEP_LEASE_SECONDS))


# --- start --------------------------------------------------------------------------------------------------------


def dsar_fulfil_begin(*, request: DataSubjectRequest, actor: str, requested_change: str = "") -> DataSubjectRequest:
    """Start carrying out a verified request (an opt-out needs no verification): in_progress and its steps recorded
    (``services.pipeline.dsar_fulfil_start`` enqueues the run after commit). ``requested_change`` (correction) is
    sealed under the request's key."""
    allowed = {RequestStatus.VERIFIED} | ({RequestStatus.RECEIVED} if request.type in NO_VERIFICATION_NEEDED else set())
    if request.status not in allowed:
        raise FulfilmentNotReady(
            f"A {request.type} request in status {request.status} cannot be carried out; verify the identity first.",
            status_now=request.status,
        )
    names = steps_for(request.type)
    with transaction.atomic():
        dsar_transition(request=request, to_status=RequestStatus.IN_PROGRESS, actor=actor, reason="fulfilment started")
        rows = [FulfilmentStep(request=request, step=name, position=i) for i, name in enumerate(names)]
        if requested_change.strip():
            data_key = unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id))
            sealed = seal(data_key, requested_change.strip(), context=correction_context(request.public_id))
            rows[-1].result = {"requested_change_sealed": sealed}
        FulfilmentStep.objects.bulk_create(rows, ignore_conflicts=True)
        data: dict[str, Any] = {"steps": list(names)}
        if request.type == RequestType.DELETION:
            # The erasure waits for legal's approval or the cooling-off period (REVIEW mode fixed now).
            review = erasure_review_mode()
            not_before = timezone.now() + erasure_cooling_off() if review == "none" else None
            DataSubjectRequest.objects.filter(pk=request.pk).update(
                erasure_review=review, erasure_not_before=not_before
            )
            request.erasure_review, request.erasure_not_before = review, not_before
            data["erasure_review"] = review
            if not_before is not None:
                data["erasure_not_before"] = not_before.isoformat()
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_FULFILMENT_STARTED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data=data,
        )
    return request


def request_erasure_gate(request: DataSubjectRequest, now: datetime | None = None) -> ErasureGate:
    """Where the request's erasure stands (see ``dsar.erasure_review.erasure_gate``)."""
    return erasure_gate(
        review=request.erasure_review,
        not_before=request.erasure_not_before,
        approved_at=request.erasure_approved_at,
        cancelled_at=request.erasure_cancelled_at,
        now=now or timezone.now(),
    )


# --- the run ------------------------------------------------------------------------------------------------------


def _claim(step: FulfilmentStep, now: datetime) -> int | None:
    """Compare-and-set: take a pending step, or a running one whose worker's lease ran out; the attempt number."""
    claimable = Q(status=FulfilmentStepStatus.PENDING) | Q(status=FulfilmentStepStatus.RUNNING, claimed_until__lt=now)
    claimed = FulfilmentStep.objects.filter(claimable, pk=step.pk).update(
        status=FulfilmentStepStatus.RUNNING, attempts=F("attempts") + 1, claimed_until=now + _lease()
    )
    if not claimed:
        return None
    return int(FulfilmentStep.objects.values_list("attempts", flat=True).get(pk=step.pk))


def _finish(step: FulfilmentStep, attempt: int, result: dict[str, Any], request: DataSubjectRequest) -> None:
    """Mark the step done, only while this attempt still holds it; call inside the step's transaction."""
    merged = {**step.result, **result}
    done = FulfilmentStep.objects.filter(pk=step.pk, status=FulfilmentStepStatus.RUNNING, attempts=attempt).update(
        status=FulfilmentStepStatus.DONE, result=merged, completed_at=timezone.now(), claimed_until=None
    )
    if not done:
        raise StepLost(step.step)
    audit_log(
        actor=FULFIL_ACTOR,
        action=AuditAction.DSAR_FULFILMENT_STEP_DONE,
        object_type="dsar",
        object_id=request.public_id,
        organization=request.organization,
        data={"step": step.step, "attempt": attempt, "result": {k: v for k, v in result.items() if k != "sha256"}},
    )


def _step_export(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    subject = request_subject(request)
    calls = call_connectors(request=request, step=step.step, email=request_contact_email(request, subject))
    now = timezone.now()
    tables = subject_tables(organization=request.organization, subject=subject)
    answered = [call.target_key for call in calls if call.is_answered]
    letter = cover_letter_facts(request=request, tables=tables, connectors_answered=answered, generated_at=now)
    archive = build_archive(
        request_public_id=request.public_id,
        request_type=request.type,
        tables=tables,
        generated_at=now,
        connectors=[ConnectorAnswer(call.target_key, call.status, call.answer) for call in calls],
        cover_letter=cover_letter_document(letter),
    )
    export_id = str(ULID())
    sealed, wrapped = seal_archive(archive.content, export_public_id=export_id)
    rows = {table.name: len(table.rows) for table in tables}
    result: dict[str, Any] = {
        "export_id": export_id,
        "files": len(archive.files),
        "size_bytes": len(archive.content),
        "subject_found": subject is not None,
        "rows": rows,
        # Nothing about the person: no ledger rows and no connector answered. Review says so before approval.
        "empty": not any(rows.values()) and not answered,
    }
    if calls:
        result["connectors"] = calls_summary(calls)
    with transaction.atomic():
        connector_calls_record(request=request, step=step.step, outcomes=calls)
        export_store(
            request=request,
            export_public_id=export_id,
            archive=archive,
            sealed=sealed,
            wrapped_key=wrapped,
            created_at=now,
        )
        _finish(step, attempt, result, request)
    return result


def _suppression_identifiers(request: DataSubjectRequest, subject: Subject | None) -> dict[str, set[str]]:
    identifiers: dict[str, set[str]] = {"external_id": set(), "email": set()}
    if request.subject_external_id:
        identifiers["external_id"].add(request.subject_external_id)
    for email in (dsar_requester_email(request), subject_email(subject) if subject is not None else None):
        if email:
            identifiers["email"].add(normalize_email(email))
    return identifiers


def _still_erasable(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> bool:
    """After claiming the erase step: a cancellation that committed before the claim wins (it locked the step
    while the request was still erasable); give the step back and stop. After the claim, cancelling is refused."""
    current = DataSubjectRequest.objects.get(pk=request.pk)
    if current.status == RequestStatus.IN_PROGRESS and request_erasure_gate(current) == ErasureGate.OPEN:
        return True
    FulfilmentStep.objects.filter(pk=step.pk, status=FulfilmentStepStatus.RUNNING, attempts=attempt).update(
        status=FulfilmentStepStatus.PENDING, claimed_until=None
    )
    return False


def _step_erase(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    subject = request_subject(request)
    identifiers = _suppression_identifiers(request, subject)  # read before the key is destroyed
    email = request_contact_email(request, subject)
    # Outside systems first: a worker dying after them redoes the step, and the Idempotency-Key makes that safe.
    calls = call_connectors(request=request, step=step.step, email=email)
    calls += notify_recipients_erased(request=request, step=step.step, email=email)
    with transaction.atomic():
        erased = False
        forgotten = 0
        if subject is not None:
            original_external_id = subject.external_id
            erased_subject = subject_erase(subject=subject, actor=FULFIL_ACTOR)
            erased = erased_subject.data_key_destroyed_at is not None
            forgotten = provenance_subject_forget(
                organization=request.organization, original_external_id=original_external_id, erased=erased_subject
            )
        subject_suppress(
            organization=request.organization,
            identifiers={kind: sorted(values) for kind, values in identifiers.items()},
            actor=FULFIL_ACTOR,
        )
        connector_calls_record(request=request, step=step.step, outcomes=calls)
        # Erasure reaches the person's earlier access/portability exports too (issue #11 item 4).
        shredded = exports_shred_for_erasure(request=request, actor=FULFIL_ACTOR)
        result: dict[str, Any] = {
            "subject_found": subject is not None,
            "erased": erased,
            "suppressed": sum(len(set(values)) for values in identifiers.values()),
            "exports_shredded": len(shredded),
            "provenance_records_renamed": forgotten,
        }
        if calls:
            result["connectors"] = calls_summary(calls)
        _finish(step, attempt, result, request)
    return result


def _step_opt_out(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    purposes = sale_purposes(request.organization)
    subject = request_subject(request)
    if not request.subject_external_id or not purposes:
        result: dict[str, Any] = {
            "events": 0,
            "reason": "no subject id" if purposes else "no sale purposes",
            "subject_found": bool(request.subject_external_id),
        }
        with transaction.atomic():
            _finish(step, attempt, result, request)
        return result
    opted_in: set[str] = set()
    if subject is not None:
        states = consent_state_for_subject(organization=request.organization, subject=subject)
        opted_in = {state.purpose for state in states if state.opt_in}
    jurisdiction = request.jurisdiction or (subject.jurisdiction if subject is not None else "")
    source = system_source(request.organization)
    now = timezone.now()
    items = [
        ConsentEventInput(
            subject_id=request.subject_external_id,
            purpose=purpose.key,
            action=Action.WITHDRAW if purpose.key in opted_in else Action.REFUSE,
            occurred_at=now,
            source=source.key,
            collection_method=CollectionMethod.SYSTEM,
            jurisdiction=jurisdiction,
            # One event per request and purpose, even if the step is redone.
            idempotency_key=f"dsar:{request.public_id}:opt-out:{purpose.key}",
            request_digest=f"dsar:{request.public_id}:opt-out:{purpose.key}",
        )
        for purpose in purposes
    ]
    with transaction.atomic():
        recorded = consent_record_many(
            organization=request.organization, items=items, allow_system_actions=True, now=now
        )
        result = {
            "events": sum(1 for item in recorded if not item.replayed),
            "purposes": [purpose.key for purpose in purposes],
        }
        _finish(step, attempt, result, request)
    return result


def _move(request: DataSubjectRequest, to_status: str, reason: str) -> dict[str, Any]:
    try:
        dsar_transition(request=request, to_status=to_status, actor=FULFIL_ACTOR, reason=reason)
    except (StatusChanged, IllegalTransition):
        current = dsar_status(request.pk)
        return {"moved": False, "status": current}
    return {"moved": True, "status": to_status}


def _step_review(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    reasons: dict[str, str] = {
        RequestType.ACCESS: "export ready for review",
        RequestType.PORTABILITY: "export ready for review",
        RequestType.CORRECTION: "requested correction recorded; legal decides",
    }
    reason = reasons.get(request.type, "ready for review")
    export = FulfilmentStep.objects.filter(request=request, step="export").values_list("result", flat=True).first()
    if export and export.get("empty"):
        reason = "export ready for review: it is EMPTY (no data about the subject was found)"
    with transaction.atomic():
        result = _move(request, RequestStatus.AWAITING_REVIEW, reason)
        _finish(step, attempt, result, request)
    return result


def _step_complete(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    done = FulfilmentStep.objects.filter(request=request, status=FulfilmentStepStatus.DONE).exclude(pk=step.pk)
    summary = "; ".join(f"{name}: {result}" for name, result in done.values_list("step", "result"))
    failed = failed_call_keys(request)
    # No subject: the person may be under another id; legal checks before the request is closed (issue #14).
    no_subject = any(result.get("subject_found") is False for result in done.values_list("result", flat=True))
    with transaction.atomic():
        if failed:
            # An outside system may still hold the data: legal follows up before the request is closed.
            result = _move(request, RequestStatus.AWAITING_REVIEW, f"unconfirmed by {', '.join(failed)} ({summary})")
        elif no_subject:
            result = _move(
                request, RequestStatus.AWAITING_REVIEW, f"no subject found: review before closing ({summary})"
            )
        else:
            result = _move(request, RequestStatus.COMPLETED, f"fulfilled ({summary})" if summary else "fulfilled")
        _finish(step, attempt, result, request)
    return result


RUNNERS: Final[dict[str, Callable[[DataSubjectRequest, FulfilmentStep, int], dict[str, Any]]]] = {
    "export": _step_export,
    "erase": _step_erase,
    "opt_out": _step_opt_out,
    "review": _step_review,
    "complete": _step_complete,
}


def dsar_fulfil_run(*, request_id: int) -> dict[str, Any]:
    """Run the request's steps that are not done, in order. A step another worker holds stops the run (it will
    finish it); a request no longer in progress is left alone. Safe to run any number of times."""
    request = dsar_by_pk(request_id)
    if request is None or request.status != RequestStatus.IN_PROGRESS:
        return {"ran": [], "status": request.status if request else None}
    ran: list[str] = []
    for position, name in enumerate(steps_for(request.type)):
        step, _ = FulfilmentStep.objects.get_or_create(request=request, step=name, defaults={"position": position})
        if step.status == FulfilmentStepStatus.DONE:
            continue
        if name == ERASE_STEP:
            gate = request_erasure_gate(request)
            if gate != ErasureGate.OPEN:
                return {"ran": ran, "waiting": str(gate)}  # approval or the sweep enqueues the run again
        attempt = _claim(step, timezone.now())
        if attempt is None:
            return {"ran": ran, "busy": name}
        if name == ERASE_STEP and not _still_erasable(request, step, attempt):
            return {"ran": ran, "waiting": "cancelled"}
        step.refresh_from_db(fields=["result"])
        try:
            RUNNERS[name](request, step, attempt)
        except StepLost:
            return {"ran": ran, "lost": name}
        ran.append(name)
    return {"ran": ran}
