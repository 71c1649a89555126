"""Beat tasks of the consent ledger: thin wrappers around services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from consent.services import consent_expire_lapsed, ledger_checkpoint, ledger_integrity_check, ledger_sequence_all
from core.models import Organization


@shared_task(acks_late=True, ignore_result=True)
def expire_lapsed_grants() -> dict[str, Any]:
    """Write the ``expire`` event of every grant past its validity. Safe to run twice."""
    return {"expired": consent_expire_lapsed()}


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
            signed += ledger_checkpoint(Organization.objects.get(pk=report.organization_id)) is not None
    return {"appended": sum(report.appended for report in reports), "checkpoints": signed}
