"""Legal can replay dead-lettered deliveries and consent notices; a replay happens once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditLogEntry, Organization
from core.problems import Conflict
from provenance.enums import DeliveryStatus, NoticeStatus
from provenance.models import ConsentNotice, Delivery, Recipient
from provenance.services.deliveries import delivery_create
from provenance.services.replay import delivery_replay, notice_replay
from provenance.services.stamping import StampRequest

pytestmark = pytest.mark.django_db


def dead_delivery(organization: Organization, recipient: Recipient) -> Delivery:
    recipient.endpoint_url = "http://127.0.0.1:9/never"
    recipient.save(update_fields=["endpoint_url"])
    delivery = delivery_create(
        organization=organization,
        request=StampRequest(recipient=recipient.key, purposes=("marketing-email",), subject_id="cust-1", data={}),
        actor="test",
    )
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DEAD, finished_at=timezone.now())
    delivery.refresh_from_db()
    return delivery


def test_a_dead_delivery_is_queued_again_once_with_an_audit_row(organization, recipients) -> None:
    delivery = dead_delivery(organization, recipients["crm"])

    assert delivery_replay(delivery=delivery, actor="user:1") is True
    assert delivery_replay(delivery=delivery, actor="user:1") is False

    assert delivery.status == DeliveryStatus.QUEUED
    assert delivery.finished_at is None
    assert delivery.give_up_at > timezone.now() + timedelta(hours=23)
    assert AuditLogEntry.objects.filter(action="delivery.replayed", object_id=delivery.public_id).count() == 1


def test_a_delivery_whose_payload_was_purged_cannot_be_replayed(organization, recipients) -> None:
    delivery = dead_delivery(organization, recipients["crm"])
    Delivery.objects.filter(pk=delivery.pk).update(payload_sealed="")
    delivery.refresh_from_db()

    with pytest.raises(Conflict):
        delivery_replay(delivery=delivery, actor="user:1")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD


def test_a_dead_consent_notice_is_sent_again_once(organization, recipients, purposes) -> None:
    now = timezone.now()
    notice = ConsentNotice.objects.create(
        organization=organization,
        public_id="01JREPLAYREPLAYREPLAYREPLA",
        recipient=recipients["crm"],
        subject_external_id="cust-1",
        purpose=purposes["marketing-email"],
        event_id="01JEVENTEVENTEVENTEVENTEVE",
        change="withdrawn",
        status=NoticeStatus.DEAD,
        give_up_at=now - timedelta(hours=1),
    )

    assert notice_replay(notice=notice, actor="user:1") is True
    assert notice_replay(notice=notice, actor="user:1") is False
    assert notice.status == NoticeStatus.PENDING
    assert notice.give_up_at > now + timedelta(hours=23)
    assert AuditLogEntry.objects.filter(action="consent_notice.replayed").count() == 1


def test_a_notice_that_is_not_dead_is_left_alone(organization, recipients, purposes) -> None:
    notice = ConsentNotice.objects.create(
        organization=organization,
        public_id="01JREPLAYREPLAYREPLAYREPLB",
        recipient=recipients["crm"],
        subject_external_id="cust-1",
        purpose=purposes["marketing-email"],
        event_id="01JEVENTEVENTEVENTEVENTEVF",
        change="withdrawn",
        status=NoticeStatus.ACKNOWLEDGED,
        give_up_at=timezone.now(),
    )

    assert notice_replay(notice=notice, actor="user:1") is False
    assert notice.status == NoticeStatus.ACKNOWLEDGED
