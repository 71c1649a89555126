"""Carrying out a verified request: a fixed list of steps per request type, each claimed with a compare-and-set
and marked done in the transaction that writes its effects, so a rerun skips what is done and a step a dead
worker left half-way is redone whole (nothing it did was committed).

access/portability: export (ZIP, sealed, with every HTTP connector's answer) -> review; deletion: erase (HTTP
connectors and recipients' ``subject.erased`` webhooks, then crypto-shred + suppression) -> complete, or review
when a connector or webhook failed; opt_out_of_sale: opt_out (withdraw/refuse events) -> complete; correction and
the rest: review. Outbound calls run before the step's transaction and are recorded in it (dsar/connectors.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from ulid import ULID

from consent.models import Action, CollectionMethod, Purpose, Subject
from consent.selectors.ledger import consent_state_for_subject, subject_by_external_id, subject_email
from consent.services import ConsentEventInput, consent_record_many, subject_erase, subject_suppress, system_source
from core.crypto import normalize_email, seal, unwrap_data_key
from core.enums import AuditAction
from core.problems import DomainError, NotFound
from core.services import audit_log
from core.tasks import enqueue, enqueue_after_commit
from dsar import connectors, exports
from dsar.models import (
    ConnectorCall,
    ConnectorCallStatus,
    DataSubjectRequest,
    DsarExport,
    FulfilmentStep,
    FulfilmentStepStatus,
    RequestStatus,
    RequestType,
)
from dsar.services import (
    NO_VERIFICATION_NEEDED,
    IllegalTransition,
    StatusChanged,
    _requester_email,
    dsar_transition,
)

S = RequestStatus
STEP = FulfilmentStepStatus
FULFIL_ACTOR: Final = "task:dsar.fulfil"
FULFIL_TASK: Final = "dsar.tasks.fulfil"
RESUME_ACTOR: Final = "task:dsar.resume_stuck"
DOWNLOAD_ACTOR: Final = "requester:export-link"

STEPS: Final[dict[str, tuple[str, ...]]] = {
    RequestType.ACCESS: ("export", "review"),
    RequestType.PORTABILITY: ("export", "review"),
    RequestType.DELETION: ("erase", "complete"),
    RequestType.OPT_OUT_OF_SALE: ("opt_out", "complete"),
}
DEFAULT_STEPS: Final = ("review",)


class FulfilmentNotReady(DomainError):
    status = 409
    slug = "fulfilment-not-ready"
    title = "The request cannot be carried out yet"


class StepLost(Exception):
    """Another worker took the step over (our lease ran out): roll back what this one did."""


def steps_for(request_type: str) -> tuple[str, ...]:
    return STEPS.get(request_type, DEFAULT_STEPS)


def _lease() -> timedelta:
    return timedelta(seconds=float(settings.PROVENANT_DSAR_STEP_LEASE_SECONDS))


def _stuck_after() -> timedelta:
    return timedelta(minutes=float(settings.PROVENANT_DSAR_FULFIL_STUCK_MINUTES))


def _export_pause() -> float:
    """Test only: seconds the export step waits between building and storing (to kill a worker mid-step)."""
    configured = getattr(settings, "PROVENANT_DSAR_EXPORT_PAUSE_SECONDS", None)
    if configured is None:
        configured = os.environ.get("PROVENANT_DSAR_EXPORT_PAUSE_SECONDS", "0")
    return float(configured)


# --- start --------------------------------------------------------------------------------------------------------


def dsar_fulfil_start(*, request: DataSubjectRequest, actor: str, requested_change: str = "") -> DataSubjectRequest:
    """Start carrying out a verified request (an opt-out needs no verification): in_progress, its steps recorded,
    the work enqueued after commit. ``requested_change`` (correction) is sealed under the request's key."""
    allowed = {S.VERIFIED} | ({S.RECEIVED} if request.type in NO_VERIFICATION_NEEDED else set())
    if request.status not in allowed:
        raise FulfilmentNotReady(
            f"A {request.type} request in status {request.status} cannot be carried out; verify the identity first.",
            status_now=request.status,
        )
    names = steps_for(request.type)
    with transaction.atomic():
        dsar_transition(request=request, to_status=S.IN_PROGRESS, actor=actor, reason="fulfilment started")
        rows = [FulfilmentStep(request=request, step=name, position=i) for i, name in enumerate(names)]
        if requested_change.strip():
            data_key = unwrap_data_key(request.wrapped_data_key)
            sealed = seal(data_key, requested_change.strip(), context=f"dsar:{request.public_id}:correction")
            rows[-1].result = {"requested_change_sealed": sealed}
        FulfilmentStep.objects.bulk_create(rows, ignore_conflicts=True)
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_FULFILMENT_STARTED,
            object_type="dsar",
            object_id=request.public_id,
            organization=request.organization,
            data={"steps": list(names)},
        )
        enqueue_after_commit(FULFIL_TASK, request.pk)
    return request


# --- the run ------------------------------------------------------------------------------------------------------


def _claim(step: FulfilmentStep, now: datetime) -> int | None:
    """Compare-and-set: take a pending step, or a running one whose worker's lease ran out; the attempt number."""
    claimable = Q(status=STEP.PENDING) | Q(status=STEP.RUNNING, claimed_until__lt=now)
    claimed = FulfilmentStep.objects.filter(claimable, pk=step.pk).update(
        status=STEP.RUNNING, attempts=F("attempts") + 1, claimed_until=now + _lease()
    )
    if not claimed:
        return None
    return int(FulfilmentStep.objects.values_list("attempts", flat=True).get(pk=step.pk))


def _finish(step: FulfilmentStep, attempt: int, result: dict[str, Any], request: DataSubjectRequest) -> None:
    """Mark the step done, only while this attempt still holds it; call inside the step's transaction."""
    merged = {**step.result, **result}
    done = FulfilmentStep.objects.filter(pk=step.pk, status=STEP.RUNNING, attempts=attempt).update(
        status=STEP.DONE, result=merged, completed_at=timezone.now(), claimed_until=None
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


def _subject(request: DataSubjectRequest) -> Subject | None:
    if not request.subject_external_id:
        return None
    return subject_by_external_id(organization=request.organization, external_id=request.subject_external_id)


def _contact_email(request: DataSubjectRequest, subject: Subject | None) -> str | None:
    return _requester_email(request) or (subject_email(subject) if subject is not None else None)


def _step_export(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    subject = _subject(request)
    calls = connectors.call_connectors(request=request, step=step.step, email=_contact_email(request, subject))
    now = timezone.now()
    tables = exports.subject_tables(organization=request.organization, subject=subject)
    archive = exports.build_archive(
        request_public_id=request.public_id,
        request_type=request.type,
        tables=tables,
        generated_at=now,
        connectors=[exports.ConnectorAnswer(call.target_key, call.status, call.answer) for call in calls],
    )
    export_id = str(ULID())
    sealed, wrapped = exports.seal_archive(archive.content, export_public_id=export_id)
    pause = _export_pause()
    if pause > 0:
        time.sleep(pause)
    result: dict[str, Any] = {
        "export_id": export_id,
        "files": len(archive.files),
        "size_bytes": len(archive.content),
    }
    if calls:
        result["connectors"] = connectors.summary(calls)
    with transaction.atomic():
        connectors.record_calls(request=request, step=step.step, outcomes=calls)
        DsarExport.objects.create(
            request=request,
            organization=request.organization,
            public_id=export_id,
            sealed_archive=sealed,
            wrapped_data_key=wrapped,
            sha256=archive.sha256,
            size_bytes=len(archive.content),
            files=archive.files,
            created_at=now,
        )
        _finish(step, attempt, result, request)
    return result


def _suppression_identifiers(request: DataSubjectRequest, subject: Subject | None) -> dict[str, set[str]]:
    identifiers: dict[str, set[str]] = {"external_id": set(), "email": set()}
    if request.subject_external_id:
        identifiers["external_id"].add(request.subject_external_id)
    for email in (_requester_email(request), subject_email(subject) if subject is not None else None):
        if email:
            identifiers["email"].add(normalize_email(email))
    return identifiers


def _step_erase(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    subject = _subject(request)
    identifiers = _suppression_identifiers(request, subject)  # read before the key is destroyed
    email = _contact_email(request, subject)
    # Outside systems first: a worker dying after them redoes the step, and the Idempotency-Key makes that safe.
    calls = connectors.call_connectors(request=request, step=step.step, email=email)
    calls += connectors.notify_recipients_erased(request=request, step=step.step, email=email)
    with transaction.atomic():
        erased = False
        if subject is not None:
            erased = subject_erase(subject=subject, actor=FULFIL_ACTOR).data_key_destroyed_at is not None
        subject_suppress(
            organization=request.organization,
            identifiers={kind: sorted(values) for kind, values in identifiers.items()},
            actor=FULFIL_ACTOR,
        )
        connectors.record_calls(request=request, step=step.step, outcomes=calls)
        result: dict[str, Any] = {
            "subject_found": subject is not None,
            "erased": erased,
            "suppressed": sum(len(set(values)) for values in identifiers.values()),
        }
        if calls:
            result["connectors"] = connectors.summary(calls)
        _finish(step, attempt, result, request)
    return result


def _sale_purposes(request: DataSubjectRequest) -> list[Purpose]:
    return list(
        Purpose.objects.filter(organization=request.organization)
        .filter(Q(is_sale_or_sharing=True) | Q(is_targeted_advertising=True))
        .order_by("key")
    )


def _step_opt_out(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    purposes = _sale_purposes(request)
    subject = _subject(request)
    if not request.subject_external_id or not purposes:
        result: dict[str, Any] = {"events": 0, "reason": "no subject id" if purposes else "no sale purposes"}
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
        current = DataSubjectRequest.objects.values_list("status", flat=True).get(pk=request.pk)
        return {"moved": False, "status": current}
    return {"moved": True, "status": to_status}


def _step_review(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    reasons: dict[str, str] = {
        RequestType.ACCESS: "export ready for review",
        RequestType.PORTABILITY: "export ready for review",
        RequestType.CORRECTION: "requested correction recorded; legal decides",
    }
    reason = reasons.get(request.type, "ready for review")
    with transaction.atomic():
        result = _move(request, S.AWAITING_REVIEW, reason)
        _finish(step, attempt, result, request)
    return result


def _step_complete(request: DataSubjectRequest, step: FulfilmentStep, attempt: int) -> dict[str, Any]:
    done = FulfilmentStep.objects.filter(request=request, status=STEP.DONE).exclude(pk=step.pk)
    summary = "; ".join(f"{name}: {result}" for name, result in done.values_list("step", "result"))
    failed = sorted(
        ConnectorCall.objects.filter(request=request, status=ConnectorCallStatus.FAILED).values_list(
            "target_key", flat=True
        )
    )
    with transaction.atomic():
        if failed:
            # An outside system may still hold the data: legal follows up before the request is closed.
            result = _move(request, S.AWAITING_REVIEW, f"unconfirmed by {', '.join(failed)} ({summary})")
        else:
            result = _move(request, S.COMPLETED, f"fulfilled ({summary})" if summary else "fulfilled")
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
    request = DataSubjectRequest.objects.select_related("organization").filter(pk=request_id).first()
    if request is None or request.status != S.IN_PROGRESS:
        return {"ran": [], "status": request.status if request else None}
    ran: list[str] = []
    for position, name in enumerate(steps_for(request.type)):
        step, _ = FulfilmentStep.objects.get_or_create(request=request, step=name, defaults={"position": position})
        if step.status == STEP.DONE:
            continue
        attempt = _claim(step, timezone.now())
        if attempt is None:
            return {"ran": ran, "busy": name}
        step.refresh_from_db(fields=["result"])
        try:
            RUNNERS[name](request, step, attempt)
        except StepLost:
            return {"ran": ran, "lost": name}
        ran.append(name)
    return {"ran": ran}


# --- recovery -----------------------------------------------------------------------------------------------------


def dsar_fulfil_resume_stuck(*, now: datetime | None = None) -> dict[str, int]:
    """Enqueue again requests in progress with unfinished steps and no live claim, quiet for longer than the
    timeout: a lost message or a dead worker delays the work, it does not lose it."""
    now = now or timezone.now()
    unfinished = FulfilmentStep.objects.filter(request=OuterRef("pk")).exclude(status=STEP.DONE)
    held = FulfilmentStep.objects.filter(request=OuterRef("pk"), status=STEP.RUNNING, claimed_until__gte=now)
    stalled_since = now - _stuck_after()
    recent = FulfilmentStep.objects.filter(request=OuterRef("pk"), completed_at__gt=stalled_since)
    stuck = list(
        DataSubjectRequest.objects.filter(status=S.IN_PROGRESS, updated_at__lte=stalled_since)
        .filter(Exists(unfinished))
        .exclude(Exists(held))
        .exclude(Exists(recent))
        .order_by("id")
        .values_list("pk", flat=True)
    )
    for request_id in stuck:
        enqueue(FULFIL_TASK, request_id)
    return {"resumed": len(stuck)}


# --- the download -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportDownload:
    filename: str
    content: bytes


def dsar_export_download(*, token: str) -> ExportDownload:
    """The requester opened the signed link: the ZIP in clear, and an audit row for every download."""
    export_id = exports.export_id_from_token(token)
    export = DsarExport.objects.select_related("request", "organization").filter(public_id=export_id).first()
    if export is None:
        raise NotFound("This export does not exist any more.")
    if export.purged_at is not None:
        raise exports.ExportPurged(
            f"This export was deleted on {export.purged_at:%Y-%m-%d}, as our retention rules require; "
            "ask us again if you still need your data."
        )
    content = exports.open_archive(export.sealed_archive, export.wrapped_data_key, export_public_id=export.public_id)
    audit_log(
        actor=DOWNLOAD_ACTOR,
        action=AuditAction.DSAR_EXPORT_DOWNLOADED,
        object_type="dsar",
        object_id=export.request.public_id,
        organization=export.organization,
        data={"export_id": export.public_id, "size_bytes": export.size_bytes},
    )
    return ExportDownload(f"provenant-{export.request.public_id}.zip", content)


def dsar_export_link(*, request: DataSubjectRequest) -> str:
    """The download URL to send the requester once legal has reviewed the export."""
    export = DsarExport.objects.filter(request=request).first()
    if export is None:
        raise NotFound("This request has no export.")
    if export.purged_at is not None:
        raise exports.ExportPurged(f"This request's export was deleted on {export.purged_at:%Y-%m-%d}.")
    return exports.download_url(export.public_id)


PURGE_ACTOR: Final = "task:dsar.purge_exports"


def export_retention() -> timedelta:
    return timedelta(days=int(settings.PROVENANT_EXPORT_RETENTION_DAYS))


def dsar_exports_purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete the archives of exports older than the retention period (crypto-shredding: the sealed ZIP and its
    wrapped key go; the digest, size and file list stay as evidence of what was answered). Each export once,
    audited; a rerun purges nothing."""
    now = now or timezone.now()
    purged = 0
    due = DsarExport.objects.filter(purged_at__isnull=True, created_at__lt=now - export_retention())
    for export_id in due.values_list("pk", flat=True).order_by("pk").iterator(chunk_size=500):
        with transaction.atomic():
            export = (
                DsarExport.objects.select_for_update(of=("self",))
                .select_related("request", "organization")
                .filter(pk=export_id, purged_at__isnull=True)
                .first()
            )
            if export is None:
                continue  # another sweep got there first
            DsarExport.objects.filter(pk=export.pk).update(sealed_archive=b"", wrapped_data_key=b"", purged_at=now)
            audit_log(
                actor=PURGE_ACTOR,
                action=AuditAction.DSAR_EXPORT_PURGED,
                object_type="dsar",
                object_id=export.request.public_id,
                organization=export.organization,
                data={
                    "export_id": export.public_id,
                    "sha256": export.sha256,
                    "created_at": export.created_at.isoformat(),
                },
            )
            purged += 1
    return {"purged": purged}
