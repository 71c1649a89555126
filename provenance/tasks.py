"""Provenance tasks: send deliveries and consent notices, find consent changes, sweep, alert.

Thin wrappers around services. Each is idempotent (the services claim rows with a compare-and-set
UPDATE), acknowledged late, and retried only on transient database errors; outbound HTTP failures
are retried by the services themselves, which record every attempt and schedule the next one.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from core.tasks import DATABASE_RETRY
from provenance.services import deliveries, notices, outbox


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def deliver(delivery_id: int) -> dict[str, Any]:
    """Try one delivery once (re-deciding consent first); the service schedules any retry."""
    return deliveries.delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def send_consent_notice(notice_id: int) -> dict[str, Any]:
    """Send one consent notice once; the service schedules any retry."""
    return notices.consent_notice_send(notice_id=notice_id)


@shared_task(acks_late=True, ignore_result=True)
def scan_consent_changes() -> dict[str, Any]:
    """Beat, every few seconds: turn new ledger events into consent notices."""
    return notices.consent_notices_scan()


@shared_task(acks_late=True, ignore_result=True)
def sweep_due() -> dict[str, Any]:
    """Beat, every minute: enqueue again deliveries and notices whose message was lost."""
    return outbox.outbox_sweep()


@shared_task(acks_late=True, ignore_result=True)
def alert_overdue_notices() -> dict[str, Any]:
    """Beat: alert once for each consent notice not acknowledged by its legal deadline."""
    return notices.consent_notices_alert_overdue()
