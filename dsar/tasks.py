"""DSAR tasks: thin, idempotent wrappers around services (claims are unique rows; a rerun sends nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import shared_task
from django.utils.dateparse import parse_datetime

from core.tasks import DATABASE_RETRY
from dsar import services


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise ValueError("now must be an ISO 8601 instant with an offset")
    return parsed


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def send_verification_link(request_id: int) -> dict[str, Any]:
    """Email the requester's signed verification link once; the identity sweep sends one that got lost."""
    return services.dsar_identity_link_send(request_id=request_id)


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def identity_sweep(now: str | None = None) -> dict[str, Any]:
    """Beat: requester reminders on the configured days and closures of requests never verified. ``now``: an
    ISO instant to sweep as of (replays, tests); default the current time."""
    return services.dsar_identity_sweep(now=_instant(now))


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def deliver_message(message_id: int) -> bool:
    """Send one queued requester message; a rerun or a message already sent sends nothing (the claim is
    compare-and-set), a lost one is sent by the messages sweep."""
    return services.message_deliver(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def messages_sweep(now: str | None = None) -> dict[str, Any]:
    """Beat: send requester messages left pending (lost after commit, failed, or their sender died mid-send)."""
    return services.dsar_messages_sweep(now=_instant(now))


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def deadline_sweep(now: str | None = None) -> dict[str, Any]:
    """Beat: legal reminders 7, 3 and 1 days before each due date and overdue escalation, each once."""
    return services.dsar_deadline_sweep(now=_instant(now))


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def fulfil(request_id: int) -> dict[str, Any]:
    """Carry out a request's steps that are not done yet; a rerun skips them (each is claimed compare-and-set)."""
    return services.dsar_fulfil_run(request_id=request_id)


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def resume_stuck() -> dict[str, Any]:
    """Beat: enqueue again requests in progress whose steps stalled (lost message, dead worker)."""
    return services.dsar_fulfil_resume_stuck()


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def purge_exports(now: str | None = None) -> dict[str, Any]:
    """Beat: delete export archives past their retention period, each once."""
    return services.dsar_exports_purge(now=_instant(now))


@shared_task(acks_late=True, ignore_result=True, **DATABASE_RETRY)
def erasure_sweep(now: str | None = None) -> dict[str, Any]:
    """Beat: run the erasures that were approved or whose cooling-off ended and that have not run yet."""
    return services.dsar_erasure_sweep(now=_instant(now))
