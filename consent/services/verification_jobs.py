"""Ledger verification in the background (issue #12): asked for through the API, run by a worker with its progress
on the job's row, kept as a verification run. A verification of a large ledger never runs inside a web request.
The task is thin and idempotent: a job is claimed once (queued -> running); one whose worker died is claimed again
after ``PROVENANT_LEDGER_VERIFICATION_LEASE_SECONDS`` by the beat sweep."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from ulid import ULID

from consent.enums import VerificationJobStatus
from consent.models import ConsentEvent, LedgerVerificationJob
from consent.services.integrity import ledger_integrity_check
from core.models import Organization
from core.tasks import enqueue_after_commit

logger = logging.getLogger("consent.verification_jobs")
RUN_TASK = "consent.tasks.run_ledger_verification"


def verification_job_create(
    *, organization: Organization, actor: str, mode: str = "incremental"
) -> LedgerVerificationJob:
    """Queue a verification of the organization's ledger (``incremental`` from the last valid run, the default,
    or ``full``); the worker starts it after commit."""
    job = LedgerVerificationJob.objects.create(
        public_id=str(ULID()),
        organization=organization,
        requested_by=actor,
        mode=mode,
        events_total=ConsentEvent.objects.filter(organization=organization).count(),
    )
    enqueue_after_commit(RUN_TASK, job.pk)
    return job


def _claimable() -> Q:
    stale = timezone.now() - timedelta(seconds=settings.PROVENANT_LEDGER_VERIFICATION_LEASE_SECONDS)
    return Q(status=VerificationJobStatus.QUEUED) | Q(status=VerificationJobStatus.RUNNING, started_at__lt=stale)


def verification_job_run(job_id: int) -> str:
    """Run the job if it is queued (or its worker died); its status afterwards."""
    claimed = LedgerVerificationJob.objects.filter(_claimable(), pk=job_id).update(
        status=VerificationJobStatus.RUNNING, started_at=timezone.now(), events_checked=0
    )
    job = LedgerVerificationJob.objects.select_related("organization").get(pk=job_id)
    if not claimed:
        return str(job.status)

    def progress(events_checked: int) -> None:
        LedgerVerificationJob.objects.filter(pk=job.pk).update(events_checked=events_checked)

    try:
        run = ledger_integrity_check(
            organization=job.organization,
            actor=f"job:{job.public_id} for {job.requested_by}",
            progress=progress,
            incremental=job.mode == "incremental",
        )
    except Exception as exc:  # kept on the job for whoever polls it; the worker logs the rest
        logger.exception("ledger verification job %s failed", job.public_id)
        LedgerVerificationJob.objects.filter(pk=job.pk).update(
            status=VerificationJobStatus.FAILED, finished_at=timezone.now(), error=type(exc).__name__
        )
        return str(VerificationJobStatus.FAILED)
    LedgerVerificationJob.objects.filter(pk=job.pk).update(
        status=VerificationJobStatus.DONE, finished_at=timezone.now(), events_checked=run.events_checked, run=run
    )
    return str(VerificationJobStatus.DONE)


def verification_jobs_due() -> list[int]:
    """Jobs whose message was lost (queued for over a minute) or whose worker died (running past the lease)."""
    lost = Q(status=VerificationJobStatus.QUEUED, created_at__lt=timezone.now() - timedelta(minutes=1))
    stale = _claimable() & Q(status=VerificationJobStatus.RUNNING)
    return list(LedgerVerificationJob.objects.filter(lost | stale).values_list("pk", flat=True)[:100])
