"""Ledger integrity checks: recompute the hash chains and keep the outcome for reports and audits."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from consent.models import LedgerVerificationRun, Subject
from consent.selectors import ledger_incremental_report, ledger_integrity_report, projection_mismatches
from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log

logger = logging.getLogger("consent.services")


def ledger_integrity_check(
    *,
    organization: Organization | None,
    actor: str,
    progress: Callable[[int], None] | None = None,
    incremental: bool = False,
) -> LedgerVerificationRun:
    """Check the ledger's integrity (one organization, or all) and keep the outcome, with its audit row
    (``ledger.verified``). Reading the outcome without keeping it is ``ledger_integrity_report``.
    ``incremental``: only what came after the last valid run (a full check when there is none)."""
    report = None
    if incremental and organization is not None:
        report = ledger_incremental_report(organization)
    if report is None:
        report = ledger_integrity_report(organization=organization, progress=progress)
    if not report.is_valid:
        logger.error(
            "ledger verification failed: %s at chain index %s",
            (report.first_break or {}).get("problem"),
            (report.first_break or {}).get("chain_index"),
        )
    with transaction.atomic():
        run = LedgerVerificationRun.objects.create(
            organization=organization,
            verified_at=report.verified_at,
            triggered_by=actor,
            is_valid=report.is_valid,
            subjects_checked=report.subjects_checked,
            events_checked=report.events_checked,
            ledger_root=report.ledger_root,
            first_break=report.first_break,
            mode=report.mode,
            log_size=report.log_size if report.is_valid else None,
            log_root=report.log_root if report.is_valid else "",
        )
        audit_log(
            actor=actor,
            action=AuditAction.LEDGER_VERIFIED,
            object_type="ledger_verification_run",
            object_id=run.pk,
            organization=organization,
            data={
                "is_valid": run.is_valid,
                "events_checked": run.events_checked,
                "ledger_root": run.ledger_root,
                "problem": (run.first_break or {}).get("problem"),
            },
        )
    _flag_inconsistent_subjects(organization, report.first_break)
    return run


def _flag_inconsistent_subjects(organization: Organization | None, first_break: dict[str, object] | None) -> None:
    """Mark the subjects whose consent state is not what their events give, so stamping refuses to decide for
    them, and clear the mark of those that are consistent again. Only a recorded verification does this."""
    flagged = Subject.objects.filter(state_inconsistent_since__isnull=False)
    if organization is not None:
        flagged = flagged.filter(organization=organization)
    if (first_break or {}).get("problem") != "state_mismatch" and not flagged.exists():
        return
    organizations = [organization] if organization is not None else list(Organization.objects.order_by("pk"))
    now = timezone.now()
    for each in organizations:
        inconsistent = sorted({subject_pk for subject_pk, _, _, _ in projection_mismatches(each)})
        marked = Subject.objects.filter(organization=each, pk__in=inconsistent, state_inconsistent_since__isnull=True)
        newly = marked.update(state_inconsistent_since=now)
        if newly:
            logger.error(
                "consent states of %s subject(s) disagree with their events; stamping refuses them", len(inconsistent)
            )
        Subject.objects.filter(organization=each, state_inconsistent_since__isnull=False).exclude(
            pk__in=inconsistent
        ).update(state_inconsistent_since=None)
