"""Ledger verification runs, kept for reports and audits."""

from __future__ import annotations

import logging

from consent.models import (
    LedgerVerificationRun,
)
from consent.selectors import ledger_verification
from core.models import Organization

logger = logging.getLogger("consent.services")
# --------------------------------------------------------------------------------------------
# Verification runs
# --------------------------------------------------------------------------------------------


def ledger_verify(*, organization: Organization | None, actor: str) -> LedgerVerificationRun:
    """Verify the ledger (one organization, or all) and keep the outcome."""
    result = ledger_verification(organization=organization)
    if not result.is_valid:
        logger.error("ledger verification failed: %s", result.first_break)
    return LedgerVerificationRun.objects.create(
        organization=organization,
        verified_at=result.verified_at,
        triggered_by=actor,
        is_valid=result.is_valid,
        subjects_checked=result.subjects_checked,
        events_checked=result.events_checked,
        ledger_root=result.ledger_root,
        first_break=result.first_break,
    )
