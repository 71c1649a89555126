"""Beat tasks of the consent ledger: thin wrappers around services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from consent.services import (
    checkpoint_push,
    checkpoint_pushes_create,
    consent_expire_lapsed,
    ledger_checkpoint,
    ledger_integrity_check,
    ledger_sequence_all,
    preference_links_purge,
    verification_job_run,
    verification_jobs_due,
    witness_pushes_due,
)
from core.models import Organization


@shared_task(acks_late=True, ignore_result=True)
def expire_lapsed_grants() -> dict[str, Any]:
    """Write the ``expire`` event of every grant past its validity. Safe to run twice."""
    return {"expired": consent_expire_lapsed()}


@shared_task(acks_late=True, ignore_result=True)
def purge_preference_links() -> dict[str, Any]:
    """Delete the privacy center's expired magic links (their sealed emails go with them). Safe to run twice."""
    return {"deleted": preference_links_purge()}


@shared_task(acks_late=True, ignore_result=True)
def verify_all_ledgers() -> dict[str, Any]:
    broken = []
    for organization in Organization.objects.all():
        run = ledger_integrity_check(organization=organization, actor="task:consent.verify_all_ledgers")
        if not run.is_valid:
            broken.append(organization.slug)
    return {"broken": broken}


@shared_task(acks_late=True, ignore_result=True)
def sequence_ledgers() -> dict[str, Any]:
    """Append newly committed events to every organization's log and sign a checkpoint of each log that grew.
    Safe to run twice, or at once."""
    reports = ledger_sequence_all()
    signed = 0
    for report in reports:
        if report.appended:
            checkpoint = ledger_checkpoint(Organization.objects.get(pk=report.organization_id))
            if checkpoint is not None:
                signed += 1
                checkpoint_pushes_create(checkpoint)  # to every witness, after commit
    return {"appended": sum(report.appended for report in reports), "checkpoints": signed}


@shared_task(acks_late=True, ignore_result=True)
def push_checkpoint_to_witness(push_id: int) -> str:
    """Send one checkpoint to one witness; a no-op unless the push is pending and due."""
    return checkpoint_push(push_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep_witness_pushes() -> dict[str, Any]:
    """Pushes whose retry is due or whose message was lost."""
    sent = [checkpoint_push(push_id) for push_id in witness_pushes_due()]
    return {"tried": len(sent), "delivered": sent.count("delivered")}


@shared_task(acks_late=True, ignore_result=True)
def run_ledger_verification(job_id: int) -> str:
    """A full ledger verification asked for through the API; a no-op unless the job is queued or abandoned."""
    return verification_job_run(job_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep_ledger_verifications() -> dict[str, Any]:
    """Verification jobs whose message was lost or whose worker died."""
    return {"ran": [verification_job_run(job_id) for job_id in verification_jobs_due()]}
