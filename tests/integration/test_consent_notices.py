"""Consent propagation: ledger events become consent notices, which a real Celery worker sends to real
webhook receivers on 127.0.0.1, signed per the Standard Webhooks specification, with legal deadlines
for opt-outs of sale and sharing and an alert, once, when a deadline passes unacknowledged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from django.conf import settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.ledger import format_instant
from consent.models import ConsentEvent, Purpose, Source
from core.crypto import master_keyring
from core.models import AuditLogEntry, Organization
from provenance.enums import AlertKind, RecipientRole
from provenance.models import ConsentNotice, DeliveryAttempt, ProvenanceAlert, Recipient
from provenance.notice_rules import add_business_days
from provenance.services import notices, webhook_secrets
from provenance.services.recipients import recipient_create
from provenance.tasks import alert_overdue_notices, scan_consent_changes, send_consent_notice, sweep_due
from tests.conftest import event_input
from tests.integration.conftest import CeleryWorker, wait_until
from tests.integration.http_receiver import HttpReceiver

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
TOLERANCE_SECONDS = 5 * 60  # Standard Webhooks: reject timestamps further off than this


# --------------------------------------------------------------------------------------------------
# A receiver's side of the Standard Webhooks specification


def standard_webhooks_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute v1 over ``id.timestamp.body`` with the base64-decoded secret,
    compare in constant time against each signature offered, and refuse stale timestamps."""
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    offered = [part.split(",", 1) for part in headers.get("webhook-signature", "").split()]
    return any(version == "v1" and hmac.compare_digest(sig.encode(), expected) for version, sig in offered)


class SecretHolder:
    """The receiver starts before the secret exists (the recipient needs its URL first)."""

    secret = ""

    def check(self, headers: dict[str, str], body: bytes) -> bool:
        return standard_webhooks_verify(self.secret, headers, body)


# --------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def sale_purpose(organization: Organization) -> Purpose:
    return consent_services.purpose_create(
        organization=organization, actor="test", key="ad-sale", name="Sale to ad partners", is_sale_or_sharing=True
    )


@pytest.fixture
def newsletter(organization: Organization) -> Purpose:
    return consent_services.purpose_create(organization=organization, actor="test", key="newsletter", name="News")


@pytest.fixture
def recipient_for(organization: Organization, sale_purpose: Purpose, newsletter: Purpose) -> Callable[..., Recipient]:
    def make(webhook_url: str, key: str = "adtech", purposes: tuple[str, ...] = ("ad-sale", "newsletter")) -> Recipient:
        return recipient_create(
            organization=organization,
            actor="test",
            key=key,
            name="Ad partner",
            role=RecipientRole.THIRD_PARTY,
            purposes=list(purposes),
            webhook_url=webhook_url,
        )

    return make


@pytest.fixture
def writer(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "provenance:write")


def rotate_secret(client: APIClient, key: str = "adtech") -> str:
    response = client.post(f"/api/v1/recipients/{key}/webhook-secret")
    assert response.status_code == 200, response.content
    return response.json()["webhook_secret"]


def record(organization: Organization, **overrides: Any) -> Any:
    values: dict[str, Any] = {"subject_id": "cust-1", "purpose": "ad-sale", "jurisdiction": "US-CA"}
    values.update(overrides)
    return consent_services.consent_record(organization=organization, item=event_input(**values)).event


def ca_business_days_after(received: date, count: int) -> date:
    """Independent count for the assertions: weekdays that are not US federal holidays."""
    federal = holidays.country_holidays("US")
    day, counted = received, 0
    while counted < count:
        day += timedelta(days=1)
        counted += day.weekday() < 5 and day not in federal
    return day


def notice_results(worker: CeleryWorker, task: str, count: int) -> list[str]:
    return wait_until(lambda: (lines := worker.results(task)) and len(lines) >= count and lines)


# --------------------------------------------------------------------------------------------------
# With a worker


@pytest.mark.django_db(transaction=True)
def test_withdrawal_reaches_a_webhook_receiver_that_fails_twice_signed_per_standard_webhooks(
    celery_worker: CeleryWorker,
    organization: Organization,
    source: Source,
    recipient_for: Callable[..., Recipient],
    writer: APIClient,
    task_queue: str,
) -> None:
    record(organization, action="grant", occurred_at="2025-11-01T17:00:00Z")  # before the recipient: not told
    holder = SecretHolder()
    with HttpReceiver(fail_times=2, fail_status=503, check=holder.check) as receiver:
        recipient_for(receiver.url)
        holder.secret = rotate_secret(writer)
        # Thursday 20 Nov 2025, noon in Los Angeles; Thanksgiving (27 Nov) is not a business day.
        withdrawal = record(organization, action="withdraw", occurred_at="2025-11-20T20:00:00Z")

        scan_consent_changes.apply_async(queue=task_queue)
        requests = receiver.wait_for(3, timeout=60)
        notice = wait_until(lambda: ConsentNotice.objects.filter(status="acknowledged").first())

    assert [r.status for r in requests] == [503, 503, 200]
    assert all(r.checked for r in requests), "every attempt carries a valid signature"
    assert {r.headers["webhook-id"] for r in requests} == {notice.public_id}
    body = json.loads(requests[-1].body)
    assert body == {
        "type": "consent.withdrawn",
        "subject_id": "cust-1",
        "purpose": "ad-sale",
        "event_id": withdrawal.event_id,
        "occurred_at": "2025-11-20T20:00:00.000000Z",
        "recorded_at": format_instant(withdrawal.recorded_at),
        "jurisdiction": "US-CA",
        "chain_index": 2,
        "sequence": 2,
        "state": {"purpose": "ad-sale", "status": "withdrawn"},
        "current_state_url": f"{settings.PROVENANT_PUBLIC_BASE_URL}/api/v1/subjects/cust-1/consent?purpose=ad-sale",
        "legal_deadline": "2025-12-12",
        "legal_rule": notice.legal_rule,
    }
    assert "15 business days" in notice.legal_rule
    assert notice.legal_deadline == date(2025, 12, 12)
    assert notice.acknowledged_at is not None
    assert notice.attempts == 3
    attempts = DeliveryAttempt.objects.filter(notice=notice).order_by("attempted_at", "id")
    assert [(a.outcome, a.http_status) for a in attempts] == [
        ("retryable_error", 503),
        ("retryable_error", 503),
        ("acknowledged", 200),
    ]
    assert ConsentNotice.objects.count() == 1, "the grant came before the recipient existed"


@pytest.mark.django_db(transaction=True)
def test_a_notice_waits_for_a_webhook_secret_then_is_sent(
    celery_worker: CeleryWorker,
    organization: Organization,
    source: Source,
    recipient_for: Callable[..., Recipient],
    writer: APIClient,
    task_queue: str,
) -> None:
    holder = SecretHolder()
    with HttpReceiver(check=holder.check) as receiver:
        recipient_for(receiver.url)
        record(organization, action="refuse", purpose="newsletter", occurred_at=timezone.now())
        scan_consent_changes.apply_async(queue=task_queue)
        wait_until(lambda: DeliveryAttempt.objects.filter(outcome="no_secret").exists())
        assert receiver.requests == [], "nothing unsigned goes out"

        holder.secret = rotate_secret(writer)
        notice = wait_until(lambda: ConsentNotice.objects.filter(status="acknowledged").first(), timeout=60)
        [request] = receiver.wait_for(1)

    assert request.checked
    body = json.loads(request.body)
    assert body["type"] == "consent.refused"
    assert body["legal_deadline"] is None, "no statutory period for a newsletter"
    assert body["legal_rule"] is None
    assert notice.log.filter(outcome="no_secret").exists()


@pytest.mark.django_db(transaction=True)
def test_a_4xx_webhook_answer_dead_letters_the_notice_with_an_alert(
    celery_worker: CeleryWorker,
    organization: Organization,
    source: Source,
    recipient_for: Callable[..., Recipient],
    writer: APIClient,
    task_queue: str,
) -> None:
    with HttpReceiver(status=410) as receiver:
        recipient_for(receiver.url)
        rotate_secret(writer)
        record(organization, action="grant", occurred_at=timezone.now())
        scan_consent_changes.apply_async(queue=task_queue)
        notice = wait_until(lambda: ConsentNotice.objects.filter(status="dead").first())

    assert notice.attempts == 1
    alert = ProvenanceAlert.objects.get(organization=organization)
    assert alert.kind == AlertKind.NOTICE_DEAD
    assert notice.public_id in alert.note
    assert "HTTP 410" in alert.failures[0]["detail"]


@pytest.mark.django_db(transaction=True)
def test_the_overdue_alert_fires_once(
    celery_worker: CeleryWorker,
    organization: Organization,
    source: Source,
    recipient_for: Callable[..., Recipient],
    writer: APIClient,
    task_queue: str,
) -> None:
    with HttpReceiver(fail_times=1000, fail_status=500) as receiver:
        recipient_for(receiver.url)
        rotate_secret(writer)
        forty_days_ago = timezone.now() - timedelta(days=40)
        record(organization, action="grant", occurred_at=forty_days_ago - timedelta(days=1))
        record(organization, action="withdraw", occurred_at=forty_days_ago)
        record(organization, subject_id="cust-2", action="refuse", purpose="newsletter", occurred_at=forty_days_ago)
        assert notices.consent_notices_scan()["created"] == 3
        receiver.wait_for(3)  # tried, never acknowledged

        alert_overdue_notices.apply_async(queue=task_queue)
        alert_overdue_notices.apply_async(queue=task_queue)
        notice_results(celery_worker, "provenance.tasks.alert_overdue_notices", 2)
        again = alert_overdue_notices()

    overdue = ConsentNotice.objects.get(change="withdrawn")
    alert = ProvenanceAlert.objects.get(kind=AlertKind.NOTICE_OVERDUE)
    assert again == {"alerted": 0}
    assert overdue.overdue_alerted_at is not None
    assert overdue.legal_deadline == ca_business_days_after(forty_days_ago.astimezone(LOS_ANGELES).date(), 15)
    assert overdue.public_id in alert.note
    assert alert.subject_external_id == "cust-1"
    assert ConsentNotice.objects.filter(overdue_alerted_at__isnull=False).count() == 1, "no deadline: no alert"


@pytest.mark.django_db(transaction=True)
def test_sweep_re_enqueues_a_notice_whose_message_was_lost(
    celery_worker_factory: Callable[[], CeleryWorker],
    organization: Organization,
    source: Source,
    recipient_for: Callable[..., Recipient],
    writer: APIClient,
    settings: Any,
) -> None:
    worker = celery_worker_factory()
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with HttpReceiver() as receiver:
        recipient_for(receiver.url)
        rotate_secret(writer)
        record(organization, action="grant", occurred_at=timezone.now())
        settings.CELERY_TASK_DEFAULT_QUEUE = f"{queue}-nobody-listens"  # the message is lost
        assert notices.consent_notices_scan()["created"] == 1
        settings.CELERY_TASK_DEFAULT_QUEUE = queue
        worker.start()
        assert sweep_due() == {"deliveries": 0, "notices": 0}, "not yet: its message may still be on its way"

        ConsentNotice.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
        assert sweep_due() == {"deliveries": 0, "notices": 1}
        notice = wait_until(lambda: ConsentNotice.objects.filter(status="acknowledged").first())
        receiver.wait_for(1)

    assert notice.attempts == 1


# --------------------------------------------------------------------------------------------------
# The scan, in this process


@pytest.mark.django_db
def test_each_ledger_change_maps_to_its_notice_type(
    organization: Organization,
    source: Source,
    recipient_for: Callable[..., Recipient],
    task_queue: str,
) -> None:
    recipient_for("http://127.0.0.1:9/hook")
    recipient_for("", key="no-webhook")  # not told: it has no webhook
    recipient_for("http://127.0.0.1:9/other", key="news-only", purposes=("newsletter",))
    now = timezone.now()
    record(organization, subject_id="a", action="grant", purpose="newsletter", occurred_at=now)
    record(organization, subject_id="b", action="refuse", purpose="newsletter", occurred_at=now)
    record(organization, subject_id="c", action="grant", occurred_at=now - timedelta(minutes=2))
    record(organization, subject_id="c", action="withdraw", occurred_at=now - timedelta(minutes=1))
    consent_services.gpc_signal_record(
        organization=organization, subject_id="d", channel="header", jurisdiction="US-CA"
    )

    assert notices.consent_notices_scan()["created"] == 7

    told = sorted(ConsentNotice.objects.values_list("recipient__key", "subject_external_id", "purpose__key", "change"))
    assert told == [
        ("adtech", "a", "newsletter", "granted"),
        ("adtech", "b", "newsletter", "refused"),
        ("adtech", "c", "ad-sale", "granted"),
        ("adtech", "c", "ad-sale", "withdrawn"),
        ("adtech", "d", "ad-sale", "gpc_opt_out"),
        ("news-only", "a", "newsletter", "granted"),
        ("news-only", "b", "newsletter", "refused"),
    ]
    gpc = ConsentNotice.objects.get(change="gpc_opt_out")
    received = ConsentEvent.objects.get(event_id=gpc.event_id).occurred_at.astimezone(LOS_ANGELES).date()
    assert gpc.legal_deadline == ca_business_days_after(received, 15)
    assert ConsentNotice.objects.filter(legal_deadline__isnull=False).count() == 2  # withdrawal and GPC, of a sale
    assert all(n.give_up_at - n.created_at == timedelta(hours=24) for n in ConsentNotice.objects.all())


@pytest.mark.django_db
def test_an_expiry_is_told(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], task_queue: str
) -> None:
    expiring = consent_services.purpose_create(
        organization=organization, actor="test", key="trial", name="Trial", validity="P1D"
    )
    recipient_for("http://127.0.0.1:9/hook", key="trial-partner", purposes=(expiring.key,))
    record(organization, action="grant", purpose="trial", occurred_at=timezone.now() - timedelta(days=2))
    consent_services.consent_expire_lapsed()

    notices.consent_notices_scan()

    assert sorted(ConsentNotice.objects.values_list("change", flat=True)) == ["expired", "granted"]


@pytest.mark.django_db
def test_scanning_again_or_from_a_lost_watermark_creates_nothing_twice(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], task_queue: str
) -> None:
    recipient_for("http://127.0.0.1:9/hook")
    record(organization, action="grant", occurred_at=timezone.now())
    assert notices.consent_notices_scan()["created"] == 1
    assert notices.consent_notices_scan()["created"] == 0

    ConsentNotice.objects.update(created_at=timezone.now() - timedelta(days=30))  # the watermark goes back

    assert notices.consent_notices_scan()["created"] == 0
    assert ConsentNotice.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_long_after_it_was_recorded_is_told_once(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], task_queue: str
) -> None:
    """A writer's transaction stays open across scans (a slow bulk, a lock wait): its event, recorded ten
    minutes before it commits, is told after the commit; and no scan reads an event twice."""
    from django.db import connection, transaction

    recipient = recipient_for("http://127.0.0.1:9/hook")
    Recipient.objects.filter(pk=recipient.pk).update(created_at=timezone.now() - timedelta(hours=1))
    recorded, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                consent_services.consent_record_many(
                    organization=organization,
                    items=[
                        event_input(
                            subject_id="late",
                            purpose="ad-sale",
                            action="grant",
                            jurisdiction="US-CA",
                            occurred_at=ten_minutes_ago - timedelta(seconds=1),
                        )
                    ],
                    now=ten_minutes_ago,
                )
                recorded.set()
                release.wait(timeout=30)
        except BaseException as exc:
            failures.append(exc)
        finally:
            recorded.set()
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert recorded.wait(timeout=30)
    assert not failures, failures
    record(organization, subject_id="early", action="grant", occurred_at=timezone.now())

    first = notices.consent_notices_scan()
    while_open = notices.consent_notices_scan(now=timezone.now() + timedelta(minutes=10))
    release.set()
    writer.join(timeout=30)
    after_commit = notices.consent_notices_scan(now=timezone.now() + timedelta(minutes=11))
    again = notices.consent_notices_scan(now=timezone.now() + timedelta(minutes=12))

    assert first["created"] == 1
    assert while_open == {"created": 0, "events_read": 0}
    assert after_commit == {"created": 1, "events_read": 1}
    assert again == {"created": 0, "events_read": 0}
    assert sorted(ConsentNotice.objects.values_list("subject_external_id", flat=True)) == ["early", "late"]


@pytest.mark.django_db
def test_notices_carry_a_per_subject_sequence_and_the_state_after_their_event_whatever_order_they_arrive_in(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient]
) -> None:
    """A receiver that applies a notice only when its sequence is above the last it applied for the subject ends
    where the ledger ends, in whichever order the notices arrive (issue #17)."""
    record(organization, subject_id="early", action="grant")  # before the recipient: never told
    recipient_for("http://127.0.0.1:9/hook")
    record(organization, subject_id="cust-1", action="grant", purpose="newsletter")
    record(organization, subject_id="cust-1", action="withdraw", purpose="newsletter")
    record(organization, subject_id="cust-1", action="grant", purpose="newsletter")
    notices.consent_notices_scan()
    events = {e.event_id: e for e in ConsentEvent.objects.all()}
    bodies = [
        notices.notice_body(n, events[n.event_id])
        for n in ConsentNotice.objects.select_related("purpose").order_by("id")
    ]

    def mirrored(arrivals: list[dict[str, Any]]) -> str:
        applied, status = 0, "unknown"
        for body in arrivals:
            if body["sequence"] > applied:
                applied, status = body["sequence"], body["state"]["status"]
        return status

    assert [(b["subject_id"], b["sequence"], b["state"]["status"]) for b in bodies] == [
        ("cust-1", 1, "given"),
        ("cust-1", 2, "withdrawn"),
        ("cust-1", 3, "renewed"),
    ]
    assert {b["current_state_url"] for b in bodies} == {
        f"{settings.PROVENANT_PUBLIC_BASE_URL}/api/v1/subjects/cust-1/consent?purpose=newsletter"
    }
    assert mirrored(bodies) == mirrored(bodies[::-1]) == mirrored([bodies[1], bodies[2], bodies[0]]) == "renewed"


@pytest.mark.django_db
def test_send_consent_notice_twice_changes_nothing_the_second_time(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], writer: APIClient
) -> None:
    with HttpReceiver() as receiver:
        recipient_for(receiver.url)
        rotate_secret(writer)
        record(organization, action="grant", occurred_at=timezone.now())
        notices.consent_notices_scan()
        notice = ConsentNotice.objects.get()

        first = send_consent_notice(notice.pk)
        second = send_consent_notice(notice.pk)

        assert len(receiver.requests) == 1
    assert first["status"] == "acknowledged"
    assert second == {"notice": notice.pk, "skipped": True, "status": "acknowledged"}
    assert notice.log.count() == 1


@pytest.mark.django_db
def test_a_notice_acknowledged_after_its_deadline_is_overdue_and_one_acknowledged_in_time_is_not(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], task_queue: str
) -> None:
    recipient_for("http://127.0.0.1:9/hook")
    # Monday 2 Nov 2026 in Los Angeles: the deadline is Tuesday 24 Nov (Veterans Day, 11 Nov, skipped).
    for subject in ("in-time", "late", "never"):
        record(organization, subject_id=subject, action="withdraw", occurred_at="2026-11-02T18:00:00Z")
    notices.consent_notices_scan()
    assert set(ConsentNotice.objects.values_list("legal_deadline", flat=True)) == {date(2026, 11, 24)}
    end_of_deadline = datetime(2026, 11, 25, 0, 0, tzinfo=LOS_ANGELES)  # 08:00 UTC on the 25th
    ConsentNotice.objects.filter(subject_external_id="in-time").update(
        status="acknowledged", acknowledged_at=end_of_deadline - timedelta(minutes=1)
    )
    ConsentNotice.objects.filter(subject_external_id="late").update(
        status="acknowledged", acknowledged_at=end_of_deadline + timedelta(minutes=1)
    )

    on_the_day = notices.consent_notices_alert_overdue(now=end_of_deadline - timedelta(minutes=1))
    after = notices.consent_notices_alert_overdue(now=end_of_deadline + timedelta(minutes=2))
    again = notices.consent_notices_alert_overdue(now=end_of_deadline + timedelta(days=1))

    assert on_the_day == {"alerted": 0}, "not overdue before the deadline day ends in California"
    assert after == {"alerted": 2}
    assert again == {"alerted": 0}
    alerted = ConsentNotice.objects.filter(overdue_alerted_at__isnull=False)
    assert sorted(alerted.values_list("subject_external_id", flat=True)) == ["late", "never"]
    assert ProvenanceAlert.objects.filter(kind=AlertKind.NOTICE_OVERDUE).count() == 2


# --------------------------------------------------------------------------------------------------
# Webhook secrets


@pytest.mark.django_db
def test_webhook_secret_rotation_shows_the_secret_once_and_seals_it(
    organization: Organization,
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
    recipient_for: Callable[..., Recipient],
    writer: APIClient,
) -> None:
    recipient = recipient_for("http://127.0.0.1:9/hook")

    assert APIClient().post("/api/v1/recipients/adtech/webhook-secret").status_code == 401
    reader = api_client_for(organization, "provenance:read", "deliver")
    assert reader.post("/api/v1/recipients/adtech/webhook-secret").status_code == 403
    other = api_client_for(other_organization, "provenance:write")
    assert other.post("/api/v1/recipients/adtech/webhook-secret").status_code == 404
    recipient.refresh_from_db()
    assert recipient.webhook_secret_sealed == "", "denied calls change nothing"
    assert not AuditLogEntry.objects.filter(action="recipient.webhook_secret_rotated").exists()

    response = writer.post("/api/v1/recipients/adtech/webhook-secret")
    first = response.json()["webhook_secret"]
    second = rotate_secret(writer)

    assert response["Cache-Control"] == "no-store"
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert first != second
    recipient.refresh_from_db()
    assert second.removeprefix("whsec_") not in recipient.webhook_secret_sealed
    raw = master_keyring().unwrap(  # bound to its recipient (#11 item 10)
        base64.b64decode(recipient.webhook_secret_sealed), owner=webhook_secrets.webhook_secret_owner(recipient.pk)
    )
    assert "whsec_" + base64.b64encode(raw).decode() == second
    assert webhook_secrets.recipient_webhook_secret(recipient) == second
    assert AuditLogEntry.objects.filter(action="recipient.webhook_secret_rotated").count() == 2
    shown = api_client_for(organization, "provenance:read").get("/api/v1/recipients/adtech")
    assert shown.status_code == 200
    assert second.removeprefix("whsec_") not in shown.content.decode()


def rotate(client: APIClient, key: str = "adtech") -> dict[str, Any]:
    response = client.post(f"/api/v1/recipients/{key}/webhook-secret")
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def send_one_notice(organization: Organization) -> tuple[dict[str, Any], ConsentNotice]:
    """Record a change, scan the ledger and send its one notice in this process (real HTTP)."""
    record(organization, action="grant", occurred_at=timezone.now())
    notices.consent_notices_scan()
    notice = ConsentNotice.objects.get()
    outcome = send_consent_notice(notice.pk)
    notice.refresh_from_db()
    return outcome, notice


def offered_signatures(headers: dict[str, str]) -> list[str]:
    return headers["webhook-signature"].split(" ")


@pytest.mark.django_db
def test_right_after_a_rotation_receivers_with_the_old_or_the_new_secret_both_verify_the_same_notice(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], writer: APIClient
) -> None:
    old_receiver, new_receiver = SecretHolder(), SecretHolder()
    with HttpReceiver(check=old_receiver.check) as receiver:  # not yet told of the rotation
        recipient_for(receiver.url)
        old_receiver.secret = rotate_secret(writer)
        new_receiver.secret = rotate_secret(writer)

        outcome, notice = send_one_notice(organization)
        [request] = receiver.requests

    assert outcome["status"] == "acknowledged", "the receiver still holding the old secret accepted it"
    assert request.checked
    assert new_receiver.check(request.headers, request.body), "one holding the new secret verifies the same bytes"
    msg_id, timestamp = request.headers["webhook-id"], int(request.headers["webhook-timestamp"])
    assert msg_id == notice.public_id
    assert offered_signatures(request.headers) == [
        webhook_secrets.sign_webhook(new_receiver.secret, msg_id, timestamp, request.body),
        webhook_secrets.sign_webhook(old_receiver.secret, msg_id, timestamp, request.body),
    ], "the new secret's signature comes first"


@pytest.mark.django_db
def test_after_the_overlap_only_the_new_secret_verifies(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], writer: APIClient
) -> None:
    old_receiver, new_receiver = SecretHolder(), SecretHolder()
    with HttpReceiver(check=old_receiver.check) as receiver:
        recipient = recipient_for(receiver.url)
        old_receiver.secret = rotate_secret(writer)
        new_receiver.secret = rotate_secret(writer)
        Recipient.objects.filter(pk=recipient.pk).update(
            webhook_secret_rotated_at=timezone.now() - timedelta(hours=24, seconds=1)
        )

        outcome, _ = send_one_notice(organization)
        [request] = receiver.requests

    assert not request.checked, "the old secret no longer verifies"
    assert request.status == 401
    assert outcome["status"] == "dead"
    assert new_receiver.check(request.headers, request.body)
    assert len(offered_signatures(request.headers)) == 1


@pytest.mark.django_db
def test_a_secret_from_two_rotations_ago_never_verifies(
    organization: Organization, source: Source, recipient_for: Callable[..., Recipient], writer: APIClient
) -> None:
    oldest, previous, current = SecretHolder(), SecretHolder(), SecretHolder()
    with HttpReceiver(check=oldest.check) as receiver:
        recipient_for(receiver.url)
        oldest.secret = rotate_secret(writer)
        previous.secret = rotate_secret(writer)
        current.secret = rotate_secret(writer)  # within the overlap of the previous rotation

        outcome, _ = send_one_notice(organization)
        [request] = receiver.requests

    assert not request.checked
    assert outcome["status"] == "dead"
    assert current.check(request.headers, request.body)
    assert previous.check(request.headers, request.body)
    assert len(offered_signatures(request.headers)) == 2


@pytest.mark.django_db
def test_the_rotation_answers_until_when_the_previous_secret_still_signs(
    organization: Organization,
    recipient_for: Callable[..., Recipient],
    writer: APIClient,
    settings: Any,
) -> None:
    recipient = recipient_for("http://127.0.0.1:9/hook")

    first = rotate(writer)
    second = rotate(writer)
    settings.PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS = 2
    third = rotate(writer)

    assert first["previous_secret_valid_until"] is None, "no secret was replaced"
    rotated_at = datetime.fromisoformat(second["rotated_at"])
    assert datetime.fromisoformat(second["previous_secret_valid_until"]) - rotated_at == timedelta(hours=24)
    third_rotated_at = datetime.fromisoformat(third["rotated_at"])
    assert datetime.fromisoformat(third["previous_secret_valid_until"]) - third_rotated_at == timedelta(hours=2)
    recipient.refresh_from_db()
    assert recipient.webhook_secret_rotated_at == third_rotated_at
    assert webhook_secrets.recipient_webhook_signing_secrets(recipient, now=third_rotated_at) == [
        third["webhook_secret"],
        second["webhook_secret"],
    ]
    until = third_rotated_at + timedelta(hours=2)
    assert len(webhook_secrets.recipient_webhook_signing_secrets(recipient, now=until - timedelta(seconds=1))) == 2
    assert webhook_secrets.recipient_webhook_signing_secrets(recipient, now=until) == [third["webhook_secret"]]
    audits = AuditLogEntry.objects.filter(action="recipient.webhook_secret_rotated").order_by("id")
    assert [a.data["previous_secret_valid_until"] for a in audits] == [
        None,
        second["previous_secret_valid_until"].replace("Z", "+00:00"),
        third["previous_secret_valid_until"].replace("Z", "+00:00"),
    ]
    assert second["webhook_secret"].removeprefix("whsec_") not in recipient.previous_webhook_secret_sealed


# --------------------------------------------------------------------------------------------------
# Pure rules


def test_signatures_match_the_standard_webhooks_test_vector() -> None:
    signature = webhook_secrets.sign_webhook(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        (date(2025, 11, 20), date(2025, 12, 12)),  # Thanksgiving skipped
        (date(2026, 6, 12), date(2026, 7, 7)),  # Juneteenth and Independence Day (observed Fri 3 Jul) skipped
        (date(2026, 11, 21), date(2026, 12, 14)),  # received on a Saturday: counting starts Monday
    ],
)
def test_ca_optout_deadline_is_15_business_days_not_counting_receipt(received: date, expected: date) -> None:
    noon = datetime(received.year, received.month, received.day, 12, tzinfo=LOS_ANGELES)

    deadline, rule = notices.optout_deadline(
        jurisdiction="US-CA", received_at=noon, change="gpc_opt_out", is_sale_or_sharing=True
    )

    assert deadline == expected
    assert "CCPA" in rule
    assert "15 business days" in rule


def test_receipt_day_is_the_day_in_california() -> None:
    # 07:30 UTC on Tuesday 24 Nov 2026 is still Monday 23 Nov in Los Angeles.
    deadline, _ = notices.optout_deadline(
        jurisdiction="US-CA",
        received_at=datetime(2026, 11, 24, 7, 30, tzinfo=UTC),
        change="withdrawn",
        is_sale_or_sharing=True,
    )
    assert deadline == ca_business_days_after(date(2026, 11, 23), 15)


def test_oregon_counts_calendar_days() -> None:
    deadline, rule = notices.optout_deadline(
        jurisdiction="US-OR",
        received_at=datetime(2026, 11, 20, 12, tzinfo=LOS_ANGELES),
        change="withdrawn",
        is_sale_or_sharing=True,
    )
    assert deadline == date(2026, 12, 5)
    assert "15 days" in rule


@pytest.mark.parametrize(
    ("jurisdiction", "change", "sale"),
    [("US-CA", "granted", True), ("US-CA", "expired", True), ("US-CA", "withdrawn", False), ("DE", "withdrawn", True)],
)
def test_no_deadline_outside_sale_or_sharing_opt_outs_under_a_statutory_period(
    jurisdiction: str, change: str, sale: bool
) -> None:
    assert notices.optout_deadline(
        jurisdiction=jurisdiction, received_at=timezone.now(), change=change, is_sale_or_sharing=sale
    ) == (None, "")


@given(received=st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31)), count=st.integers(1, 40))
def test_business_day_deadline_counts_exactly_count_business_days(received: date, count: int) -> None:
    federal = holidays.country_holidays("US")
    deadline = add_business_days(received, count, federal)

    span = [received + timedelta(days=n) for n in range(1, (deadline - received).days + 1)]
    assert sum(1 for d in span if d.weekday() < 5 and d not in federal) == count
    assert deadline.weekday() < 5
    assert deadline not in federal


@pytest.mark.parametrize(
    ("action", "method", "change"),
    [
        ("grant", "web_form", "granted"),
        ("withdraw", "web_form", "withdrawn"),
        ("refuse", "web_form", "refused"),
        ("withdraw", "gpc_signal", "gpc_opt_out"),
        ("refuse", "gpc_signal", "gpc_opt_out"),
        ("expire", "system", "expired"),
        ("invalidate", "admin", None),
    ],
)
def test_change_for_event(action: str, method: str, change: str | None) -> None:
    assert notices.change_for_event(action=action, collection_method=method) == change
