"""Ledger integrity checks: recompute the hash chains and keep the outcome for reports and audits."""

from __future__ import annotations

import logging

from django.db import transaction

from consent.models import LedgerVerificationRun
from consent.selectors import ledger_integrity_report
from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log

logger = logging.getLogger("consent.services")


def ledger_integrity_check(*, organization: Organization | None, actor: str) -> LedgerVerificationRun:
    """Check the ledger's integrity (one organization, or all) and keep the outcome, with its audit row
    (``ledger.verified``). Reading the outcome without keeping it is ``ledger_integrity_report``."""
    report = ledger_integrity_report(organization=organization)
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
    return run
