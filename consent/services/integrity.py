"""Ledger integrity checks: recompute the hash chains and keep the outcome for reports and audits."""

from __future__ import annotations

import logging

from consent.models import LedgerVerificationRun
from consent.selectors import ledger_integrity_report
from core.models import Organization

logger = logging.getLogger("consent.services")


def ledger_integrity_check(*, organization: Organization | None, actor: str) -> LedgerVerificationRun:
    """Check the ledger's integrity (one organization, or all) and keep the outcome."""
    report = ledger_integrity_report(organization=organization)
    if not report.is_valid:
        logger.error("ledger verification failed: %s", report.first_break)
    return LedgerVerificationRun.objects.create(
        organization=organization,
        verified_at=report.verified_at,
        triggered_by=actor,
        is_valid=report.is_valid,
        subjects_checked=report.subjects_checked,
        events_checked=report.events_checked,
        ledger_root=report.ledger_root,
        first_break=report.first_break,
    )
