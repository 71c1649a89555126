"""Replaying dead-lettered deliveries and consent notices (legal teams do it from the admin)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.enums import AuditAction
from core.problems import Conflict
from core.services import audit_log
from core.tasks import enqueue_after_commit
from provenance.enums import DeliveryStatus, NoticeStatus
from provenance.models import ConsentNotice, Delivery
from provenance.services.outbox import DELIVERY_TASK, NOTICE_TASK

REPLAY_WINDOW = timedelta(hours=24)


def delivery_replay(*, delivery: Delivery, actor: str) -> bool:
    """Queue a dead-lettered delivery again for another 24 h of attempts. Consent is re-checked when
    it is sent, as always. Returns whether it was re-queued (a second call does nothing)."""
    if not delivery.payload_sealed:
        raise Conflict("This delivery's payload was purged; it cannot be replayed.")
    now = timezone.now()
    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.DEAD).update(
            status=DeliveryStatus.QUEUED,
            next_attempt_at=now,
            give_up_at=now + REPLAY_WINDOW,
            finished_at=None,
            claimed_until=None,
        )
        if updated:
            audit_log(
                actor=actor,
                action=AuditAction.DELIVERY_REPLAYED,
                object_type="delivery",
                object_id=delivery.public_id,
                organization=delivery.organization,
            )
            enqueue_after_commit(DELIVERY_TASK, delivery.pk)
    delivery.refresh_from_db()
    return bool(updated)


def notice_replay(*, notice: ConsentNotice, actor: str) -> bool:
    """Send a dead-lettered consent notice again for another 24 h of attempts."""
    now = timezone.now()
    with transaction.atomic():
        updated = ConsentNotice.objects.filter(pk=notice.pk, status=NoticeStatus.DEAD).update(
            status=NoticeStatus.PENDING, next_attempt_at=now, give_up_at=now + REPLAY_WINDOW, claimed_until=None
        )
        if updated:
            audit_log(
                actor=actor,
                action=AuditAction.CONSENT_NOTICE_REPLAYED,
                object_type="consent_notice",
                object_id=notice.public_id,
                organization=notice.organization,
            )
            enqueue_after_commit(NOTICE_TASK, notice.pk)
    notice.refresh_from_db()
    return bool(updated)
