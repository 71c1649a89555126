"""Consent notices: every recipient with a webhook hears of consent changes for the purposes it receives.

The consent layer cannot call up into provenance, so changes are found by tailing the append-only
ledger. On PostgreSQL the scan is exact (consent.feed): its cursor is the snapshot of the previous scan,
and it reads the events committed since, whatever order their transactions committed in and however long
one stayed open; nothing is read twice. On SQLite (development) and on the very first scan, it reads the
events recorded since the last scan (or since the webhook recipients were last changed) minus a
60-second overlap. Reading an event twice is harmless either way: a notice is unique per
(recipient, event) and inserted with ON CONFLICT DO NOTHING.

Webhooks follow the Standard Webhooks specification: ``webhook-id`` (the notice id, stable across
retries), ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``{id}.{timestamp}.{body}`` with the recipient's ``whsec_`` secret; for PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS
after a rotation a second signature, with the secret it replaced, follows in the same header. A 2xx
answer acknowledges.
Opt-outs of sale or sharing carry the legal deadline to stop (CCPA regs §7026(f): 15 business days).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from ulid import ULID

from consent.feed import events_recorded_between, feed_is_exact, ledger_position
from consent.gpc import purpose_signal_categories
from consent.ledger import format_instant
from consent.models import ConsentEvent
from consent.selectors import consent_status_after_event
from core.crypto import CryptoError
from core.db import insert_rows
from core.jurisdiction_rules import jurisdiction_rules
from core.tasks import enqueue_each_after_commit
from provenance.enums import CHANGE_EVENT_TYPES, NOTICE_OPEN_STATUSES, AlertKind, AttemptOutcome, NoticeStatus
from provenance.models import ConsentNotice, ConsentNoticeCursor, DeliveryAttempt, Recipient
from provenance.notice_rules import NOTIFIED_ACTIONS, change_for_event, optout_deadline
from provenance.services.alerts import alert_failures, provenance_alert_open
from provenance.services.outbox import (
    CLAIM_FOR,
    GIVE_UP_AFTER,
    NOTICE_TASK,
    claim_or_take_over,
    next_attempt_delay,
    post,
    schedule_retry,
)
from provenance.services.webhook_secrets import recipient_webhook_signing_secrets, sign_webhook_with
from provenance.verify import canonical_json

logger = logging.getLogger(__name__)

SCAN_OVERLAP = timedelta(seconds=60)
SCAN_LOCK_KEY = 7_364_021_001  # pg_try_advisory_xact_lock: one scanner at a time


# ---------------------------------------------------------------------------------------------------
# Finding changes


_NOTICE_COLUMNS = (
    "organization_id",
    "public_id",
    "recipient_id",
    "subject_external_id",
    "purpose_id",
    "event_id",
    "change",
    "status",
    "attempts",
    "next_attempt_at",
    "give_up_at",
    "legal_deadline",
    "legal_rule",
    "last_error",
    "created_at",
)


def _scan_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite serialises writers anyway
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SCAN_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def consent_notices_scan(*, now: datetime | None = None) -> dict[str, Any]:
    """Turn the ledger events committed since the last scan into notices for every recipient that
    receives the purpose and has a webhook, and enqueue them after commit. Safe to run at any time, twice.

    Returns how many notices were created and how many events were read."""
    now = now or timezone.now()
    created: list[int] = []
    read = [0]
    with transaction.atomic():
        if not _scan_lock():
            return {"skipped": True, "created": 0, "events_read": 0}
        cursor = ConsentNoticeCursor.objects.select_for_update().order_by("pk").first()
        position = ledger_position() if feed_is_exact() else ""
        recipients = list(Recipient.objects.filter(is_active=True).exclude(webhook_url="").prefetch_related("purposes"))
        by_organization: dict[int, list[Recipient]] = defaultdict(list)
        for recipient in recipients:
            by_organization[recipient.organization_id].append(recipient)
        for organization_id, members in by_organization.items():
            window = _scan_window(cursor, position, members)
            created.extend(_scan_organization(organization_id, members, window, now, read))
        if cursor is None:
            ConsentNoticeCursor.objects.create(position=position, scanned_until=now, updated_at=timezone.now())
        else:
            ConsentNoticeCursor.objects.filter(pk=cursor.pk).update(
                position=position, scanned_until=now, updated_at=timezone.now()
            )
        enqueue_each_after_commit(NOTICE_TASK, created)
    return {"created": len(created), "events_read": read[0]}


def _scan_window(
    cursor: ConsentNoticeCursor | None, position: str, members: list[Recipient]
) -> Callable[[QuerySet[ConsentEvent]], QuerySet[ConsentEvent]]:
    """Which events a scan reads: exactly those committed since the last scan's snapshot (PostgreSQL), else
    those recorded since the last scan (or since the recipients changed) minus the overlap."""
    if position and cursor is not None and cursor.position:
        previous = cursor.position
        return lambda events: events_recorded_between(events, since=previous, until=position)
    since = (cursor.scanned_until if cursor is not None else min(r.updated_at for r in members)) - SCAN_OVERLAP
    return lambda events: events.filter(recorded_at__gte=since)


def _scan_organization(
    organization_id: int,
    members: list[Recipient],
    window: Callable[[QuerySet[ConsentEvent]], QuerySet[ConsentEvent]],
    now: datetime,
    read: list[int],
) -> list[int]:
    receivers: dict[int, list[Recipient]] = defaultdict(list)
    for recipient in members:
        for purpose in recipient.purposes.all():
            receivers[purpose.pk].append(recipient)
    if not receivers:
        return []
    events = (
        window(
            ConsentEvent.objects.filter(
                organization_id=organization_id,
                purpose_id__in=list(receivers),
                action__in=NOTIFIED_ACTIONS,
            )
        )
        .select_related("purpose", "subject")
        .only(
            "event_id",
            "action",
            "collection_method",
            "occurred_at",
            "recorded_at",
            "jurisdiction",
            "purpose__is_sale_or_sharing",
            "purpose__is_targeted_advertising",
            "subject__external_id",
        )
        .order_by("recorded_at", "id")
    )
    created: list[int] = []
    rows: list[tuple[Any, ...]] = []
    for event in events.iterator(chunk_size=1000):
        read[0] += 1
        change = change_for_event(action=event.action, collection_method=event.collection_method)
        if change is None:
            continue
        deadline, rule = optout_deadline(
            jurisdiction=event.jurisdiction,
            received_at=event.occurred_at,
            change=change,
            is_sale_or_sharing=bool(
                purpose_signal_categories(
                    is_sale_or_sharing=event.purpose.is_sale_or_sharing,
                    is_targeted_advertising=event.purpose.is_targeted_advertising,
                )
            ),
        )
        for recipient in receivers[event.purpose_id]:
            if event.recorded_at < recipient.created_at:
                continue  # a recipient hears of changes made since it was registered
            rows.append(
                (
                    organization_id,
                    str(ULID()),
                    recipient.pk,
                    event.subject.external_id,
                    event.purpose_id,
                    event.event_id,
                    change,
                    NoticeStatus.PENDING,
                    0,
                    now,
                    now + GIVE_UP_AFTER,
                    deadline,
                    rule,
                    "",
                    now,
                )
            )
        if len(rows) >= 1000:
            created.extend(insert_rows(ConsentNotice, _NOTICE_COLUMNS, rows, returning="id", skip_conflicts=True))
            rows = []
    created.extend(insert_rows(ConsentNotice, _NOTICE_COLUMNS, rows, returning="id", skip_conflicts=True))
    return created


# ---------------------------------------------------------------------------------------------------
# Sending


def current_state_url(subject_external_id: str, purpose_key: str) -> str:
    """Where a receiver re-reads the purpose's state as it is now (scope ``consent:read``)."""
    base = str(settings.PROVENANT_PUBLIC_BASE_URL).rstrip("/")
    query = urlencode({"purpose": purpose_key})
    return f"{base}/api/v1/subjects/{quote(subject_external_id, safe='')}/consent?{query}"


def notice_body(notice: ConsentNotice, event: ConsentEvent | None) -> dict[str, Any]:
    """The notice as sent. ``sequence`` orders one subject's notices (issue #17): it is the event's place in the
    subject's hash chain, which grows in commit order (each append locks the subject), so a receiver applies a
    notice only when its sequence is above the last it applied for the subject and purpose; ``state`` is the purpose's
    status once the event was appended, and ``current_state_url`` re-reads it as it is now."""
    return {
        "type": CHANGE_EVENT_TYPES[notice.change],
        "subject_id": notice.subject_external_id,
        "purpose": notice.purpose.key,
        "event_id": notice.event_id,
        "occurred_at": format_instant(event.occurred_at) if event else None,
        "recorded_at": format_instant(event.recorded_at) if event else None,
        "jurisdiction": event.jurisdiction if event else None,
        "chain_index": event.chain_index if event else None,
        "sequence": event.chain_index if event else None,
        "state": {"purpose": notice.purpose.key, "status": consent_status_after_event(event)} if event else None,
        "current_state_url": current_state_url(notice.subject_external_id, notice.purpose.key),
        "legal_deadline": notice.legal_deadline.isoformat() if notice.legal_deadline else None,
        "legal_rule": notice.legal_rule or None,
    }


def consent_notice_send(*, notice_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Claim one notice and send it once. Idempotent: an acknowledged, dead, not yet due or
    claimed notice is left alone."""
    now = now or timezone.now()
    claim = now + CLAIM_FOR
    claimed = claim_or_take_over(ConsentNotice, notice_id, due=Q(status__in=NOTICE_OPEN_STATUSES), now=now, claim=claim)
    if not claimed:
        current = ConsentNotice.objects.filter(pk=notice_id).values_list("status", flat=True).first()
        return {"notice": notice_id, "skipped": True, "status": current}

    notice = ConsentNotice.objects.select_related("recipient", "purpose", "organization").get(pk=notice_id)
    recipient = notice.recipient
    if now >= notice.give_up_at:
        return _record(
            notice, claim, None, dead=f"gave up: not acknowledged before give_up_at; last: {notice.last_error}"
        )
    if not recipient.is_active or not recipient.webhook_url:
        return _record(notice, claim, None, dead="the recipient is inactive or has no webhook_url now")
    try:
        signing_secrets = recipient_webhook_signing_secrets(recipient, now=now)
    except CryptoError as exc:
        return _record(notice, claim, None, dead=f"the webhook secret cannot be opened: {exc}")
    if not signing_secrets:
        # Kept for retry: sending starts once a secret is issued (POST /recipients/{key}/webhook-secret).
        attempt = DeliveryAttempt(
            notice=notice, attempted_at=now, outcome=AttemptOutcome.NO_SECRET, detail="no webhook secret"
        )
        delay = next_attempt_delay(notice.attempts + 1)
        return _record(notice, claim, attempt, retry_detail="no webhook secret issued", delay=delay)

    event = ConsentEvent.objects.filter(organization=notice.organization, event_id=notice.event_id).first()
    body = canonical_json(notice_body(notice, event))
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": notice.public_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook_with(signing_secrets, notice.public_id, timestamp, body),
    }
    outcome = post(recipient.webhook_url, body, headers)
    attempt = DeliveryAttempt(
        notice=notice,
        attempted_at=now,
        outcome=AttemptOutcome.ACKNOWLEDGED if outcome.ok else outcome.label,
        http_status=outcome.http_status,
        duration_ms=outcome.duration_ms,
        detail=outcome.detail,
    )
    if outcome.ok:
        return _record(notice, claim, attempt, acknowledged=True)
    if not outcome.transient:
        return _record(notice, claim, attempt, dead=outcome.detail)
    delay = next_attempt_delay(notice.attempts + 1, retry_after=outcome.retry_after)
    return _record(notice, claim, attempt, retry_detail=outcome.detail, delay=delay)


def _record(
    notice: ConsentNotice,
    claim: datetime,
    attempt: DeliveryAttempt | None,
    *,
    acknowledged: bool = False,
    dead: str | None = None,
    retry_detail: str = "",
    delay: float | None = None,
) -> dict[str, Any]:
    """Write the attempt and the notice's new state, if this worker still holds the claim."""
    now = timezone.now()
    values: dict[str, Any] = {"claimed_until": None}
    if attempt is not None:
        values["attempts"] = F("attempts") + 1
    retry_at = None
    if acknowledged:
        values.update(status=NoticeStatus.ACKNOWLEDGED, acknowledged_at=now, sent_at=now, last_error="")
    elif dead is None:
        retry_at = now + timedelta(seconds=delay or 0.0)
        if retry_at >= notice.give_up_at:
            dead = f"gave up after {notice.attempts + 1} attempts; last: {retry_detail}"
        else:
            values.update(status=NoticeStatus.RETRYING, next_attempt_at=retry_at, last_error=retry_detail[:500])
    if dead is not None:
        values.update(status=NoticeStatus.DEAD, last_error=dead[:500])
    with transaction.atomic():
        if attempt is not None:
            attempt.save()
        updated = ConsentNotice.objects.filter(pk=notice.pk, claimed_until=claim).update(**values)
        if not updated:
            logger.warning("consent notice %s: claim lost before the outcome was recorded", notice.public_id)
            return {"notice": notice.pk, "status": "claim_lost"}
        if dead is not None:
            provenance_alert_open(
                organization_id=notice.organization_id,
                kind=AlertKind.NOTICE_DEAD,
                subject_external_id=notice.subject_external_id,
                failures=alert_failures(what="consent_notice", problem="dead", detail=dead),
                note=f"Consent notice {notice.public_id} ({notice.change} of '{notice.purpose.key}') to recipient "
                f"'{notice.recipient.key}' was dead-lettered.",
            )
        elif retry_at is not None:
            schedule_retry(NOTICE_TASK, notice.pk, retry_at)
    return {"notice": notice.pk, "public_id": notice.public_id, "status": values["status"]}


# ---------------------------------------------------------------------------------------------------
# Legal deadlines


def consent_notices_alert_overdue(*, now: datetime | None = None) -> dict[str, Any]:
    """One ``notice_overdue`` alert for each notice not acknowledged by its legal deadline (the end
    of that day in the jurisdiction's time zone). Safe to run twice: a notice is alerted once."""
    now = now or timezone.now()
    # A local date is at most a day ahead of UTC's: every overdue notice is among these candidates.
    candidates = (
        ConsentNotice.objects.filter(legal_deadline__lte=now.date(), overdue_alerted_at__isnull=True)
        .filter(Q(acknowledged_at__isnull=True) | Q(acknowledged_at__date__gte=F("legal_deadline")))
        .order_by("id")
    )
    alerted = 0
    after = 0
    while chunk := list(candidates.filter(id__gt=after).select_related("recipient", "purpose")[:500]):
        after = chunk[-1].pk
        jurisdictions = dict(
            ConsentEvent.objects.filter(event_id__in=[n.event_id for n in chunk]).values_list(
                "event_id", "jurisdiction"
            )
        )
        alerted += sum(_alert_if_overdue(notice, jurisdictions.get(notice.event_id), now) for notice in chunk)
    return {"alerted": alerted}


def _alert_if_overdue(notice: ConsentNotice, jurisdiction: str | None, now: datetime) -> bool:
    assert notice.legal_deadline is not None
    zone = ZoneInfo(jurisdiction_rules().rule_for(jurisdiction).dsar.time_zone)
    if now.astimezone(zone).date() <= notice.legal_deadline:
        return False
    if notice.acknowledged_at and notice.acknowledged_at.astimezone(zone).date() <= notice.legal_deadline:
        return False
    with transaction.atomic():
        if not ConsentNotice.objects.filter(pk=notice.pk, overdue_alerted_at__isnull=True).update(
            overdue_alerted_at=now
        ):
            return False
        provenance_alert_open(
            organization_id=notice.organization_id,
            kind=AlertKind.NOTICE_OVERDUE,
            subject_external_id=notice.subject_external_id,
            failures=alert_failures(
                what="consent_notice",
                problem="overdue",
                detail=f"{notice.change} of '{notice.purpose.key}' not acknowledged by "
                f"'{notice.recipient.key}' by {notice.legal_deadline.isoformat()}",
            ),
            note=f"Consent notice {notice.public_id}: {notice.legal_rule}.",
        )
    return True
