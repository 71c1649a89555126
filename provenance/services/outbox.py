"""The outbox shared by deliveries and consent notices: claim a row, POST, classify the answer, back off,
enqueue the next try, and sweep up what was lost.

A worker claims a row with a compare-and-set UPDATE (one whose claim ran out was held by a dead worker and is
taken over, that attempt logged as interrupted). Transient failures are retried with exponential backoff and full
jitter; the next try is enqueued by task name after commit, with an ETA when it is near and by the sweep otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.outbound import OutboundFailure, backoff_seconds, outbound_post, outbound_timeout_seconds
from core.tasks import enqueue, enqueue_after_commit
from provenance import selectors
from provenance.enums import AttemptOutcome
from provenance.models import ConsentNotice, Delivery, DeliveryAttempt

GIVE_UP_AFTER = timedelta(hours=24)
CLAIM_FOR = timedelta(minutes=5)
DETAIL_LENGTH = 200
DELIVERY_TASK = "provenance.tasks.deliver"
NOTICE_TASK = "provenance.tasks.send_consent_notice"
SWEEP_BATCH = 1000
MAX_ETA = timedelta(minutes=10)
INTERRUPTED = "the worker stopped before recording the outcome; the recipient may have received the request"


def retry_base_seconds() -> float:
    return float(settings.PROVENANT_RETRY_BASE_SECONDS)


def retry_cap_seconds() -> float:
    return float(settings.PROVENANT_RETRY_CAP_SECONDS)


@dataclass(frozen=True)
class HttpOutcome:
    """One POST and what it means: ``ok`` (2xx), else ``transient`` (5xx, 429, network) or permanent;
    ``refused`` when the destination is not a public address (no connection was made)."""

    ok: bool
    transient: bool
    http_status: int | None
    duration_ms: int
    detail: str
    retry_after: float | None = None
    refused: bool = False

    @property
    def label(self) -> str:
        if self.ok:
            return AttemptOutcome.DELIVERED
        if self.refused:
            return AttemptOutcome.REFUSED
        if self.http_status is None:
            return AttemptOutcome.NETWORK_ERROR
        return AttemptOutcome.RETRYABLE_ERROR if self.transient else AttemptOutcome.REJECTED

    @property
    def problem(self) -> str:
        """The alert's ``problem`` when this outcome dead-letters the item."""
        if self.refused:
            return "refused"
        return "network_error" if self.http_status is None else f"http_{self.http_status}"


def post(url: str, content: bytes, headers: dict[str, str]) -> HttpOutcome:
    """POST through the SSRF-guarded client (core.outbound), without following redirects (data goes only
    where the recipient said); never raises for network errors or a refused destination, which is
    permanent. The detail never holds the payload or the answer's body."""
    started = time.monotonic()
    response = outbound_post(url, content=content, headers=headers, timeout=outbound_timeout_seconds())
    if isinstance(response, OutboundFailure):
        return HttpOutcome(
            False, response.transient, None, _elapsed(started), response.detail, refused=response.refused
        )
    status = response.status_code
    duration = _elapsed(started)
    if 200 <= status < 300:
        return HttpOutcome(True, False, status, duration, f"HTTP {status}")
    transient = status >= 500 or status == 429
    detail = f"HTTP {status} {response.reason_phrase}".strip()
    if 300 <= status < 400:
        detail += " (redirects are not followed)"
    return HttpOutcome(False, transient, status, duration, detail[:DETAIL_LENGTH], _retry_after(response))


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in delta-seconds (RFC 9110 10.2.3); an HTTP-date is ignored."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if (value.isascii() and value.isdigit()) else None


def next_attempt_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds until the next try after ``attempt`` tries; a receiver's Retry-After is honoured up to the cap."""
    cap = retry_cap_seconds()
    delay = backoff_seconds(attempt, base=retry_base_seconds(), cap=cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def schedule_retry(task_name: str, object_id: int, retry_at: datetime) -> None:
    """Enqueue the next try with an ETA when it is near. A later one is left to ``outbox_sweep``: a
    worker holds ETA messages unacknowledged, and past Redis's visibility timeout (1 h) they would
    be delivered again."""
    if retry_at - timezone.now() <= MAX_ETA:
        enqueue_after_commit(task_name, object_id, eta=retry_at)


def claim_or_take_over(
    model: type[Delivery] | type[ConsentNotice],
    object_id: int,
    *,
    due: Q,
    now: datetime,
    claim: datetime,
    **values: Any,
) -> bool:
    """Compare-and-set claim: a due, unclaimed row, or one whose claim ran out, which means the
    worker holding it died mid-attempt; that attempt is logged as interrupted."""
    owner = "delivery_id" if model is Delivery else "notice_id"
    with transaction.atomic():
        if model.objects.filter(due, pk=object_id, claimed_until__lt=now).update(
            claimed_until=claim, attempts=F("attempts") + 1, **values
        ):
            DeliveryAttempt.objects.create(
                **{owner: object_id}, attempted_at=now, outcome=AttemptOutcome.INTERRUPTED, detail=INTERRUPTED
            )
            return True
    return bool(
        model.objects.filter(due, pk=object_id, claimed_until__isnull=True, next_attempt_at__lte=now).update(
            claimed_until=claim, **values
        )
    )


def outbox_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Enqueue the deliveries and notices that are due without a message on its way: lost messages,
    claims of dead workers, retries too far ahead for an ETA. Duplicates are harmless: each task
    claims its row with a compare-and-set before doing anything."""
    now = now or timezone.now()
    grace = timedelta(seconds=float(settings.PROVENANT_SWEEP_GRACE_SECONDS))
    deliveries = list(
        selectors.deliveries_due(now=now, grace=grace)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    notices = list(
        selectors.notices_due(now=now, grace=grace)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for delivery_id in deliveries:
        enqueue(DELIVERY_TASK, delivery_id)
    for notice_id in notices:
        enqueue(NOTICE_TASK, notice_id)
    return {"deliveries": len(deliveries), "notices": len(notices)}
