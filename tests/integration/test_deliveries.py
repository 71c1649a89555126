"""Deliveries end to end: the API accepts a payload, a real Celery worker (subprocess, Redis) re-decides
consent and POSTs the stamped body to a real HTTP receiver on 127.0.0.1, retrying with backoff,
dead-lettering permanent failures, recovering lost messages and crashed workers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source
from core.models import AuditLogEntry, Organization
from core.outbound import backoff_seconds
from provenance import selectors
from provenance.enums import AlertKind, RecipientRole
from provenance.models import Delivery, DeliveryAttempt, ProvenanceAlert, Recipient, StampRecord
from provenance.services import deliveries
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest
from provenance.tasks import deliver, sweep_due
from provenance.verify import canonical_json, content_digest, verify_stamp
from tests.conftest import event_input
from tests.integration.conftest import CeleryWorker, wait_until
from tests.integration.http_receiver import HttpReceiver

DATA = {"email": "ada@example.com", "plan": "pro", "score": 0.5}
TERMINAL = ("delivered", "blocked", "dead")


@pytest.fixture
def recipient_for(organization: Organization, purpose: Purpose) -> Callable[..., Recipient]:
    def make(endpoint_url: str = "", key: str = "crm") -> Recipient:
        return recipient_create(
            organization=organization,
            actor="test",
            key=key,
            name="CRM",
            role=RecipientRole.PROCESSOR,
            purposes=[purpose.key],
            endpoint_url=endpoint_url,
        )

    return make


@pytest.fixture
def granted(organization: Organization, source: Source, purpose: Purpose) -> None:
    consent_services.consent_record(organization=organization, item=event_input(subject_id="cust-1", action="grant"))


@pytest.fixture
def deliver_client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "deliver")


def delivery_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": "crm",
        "purposes": ["marketing-email"],
        "subject_id": "cust-1",
        "data": DATA,
        "provenance": {"source": "web-signup", "collection_method": "web_form"},
    }
    body.update(overrides)
    return body


def create_delivery(client: APIClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/deliveries", delivery_body(**overrides), format="json")
    assert response.status_code == 202, response.content
    return response.json()


def finished(public_id: str, *, timeout: float = 30.0) -> Delivery:
    return wait_until(
        lambda: Delivery.objects.filter(public_id=public_id, status__in=TERMINAL).first(), timeout=timeout
    )


def assert_stamp_verifies(body_bytes: bytes, headers: dict[str, str]) -> dict[str, Any]:
    body = json.loads(body_bytes)
    assert body_bytes == canonical_json(body), "the body is sent as RFC 8785 JCS"
    assert headers["content-digest"] == content_digest(body_bytes), "Content-Digest is over the exact bytes"
    result = verify_stamp(
        body, headers["privacy-stamp"], selectors.jwks(), content_digest_header=headers["content-digest"]
    )
    assert result.valid, result.reason
    return body


# --------------------------------------------------------------------------------------------------
# With a worker


@pytest.mark.django_db(transaction=True)
def test_delivery_reaches_the_receiver_with_a_stamp_that_verifies(
    celery_worker: CeleryWorker,
    recipient_for: Callable[..., Recipient],
    granted: None,
    deliver_client: APIClient,
) -> None:
    with HttpReceiver() as receiver:
        recipient_for(receiver.url)

        accepted = create_delivery(deliver_client)
        [request] = receiver.wait_for(1)
        delivery = finished(accepted["id"])

    assert accepted["status"] == "queued"
    assert delivery.status == "delivered"
    body = assert_stamp_verifies(request.body, request.headers)
    assert body["data"] == DATA
    assert body["privacy"]["stamp_id"] == delivery.stamp_id
    assert body["privacy"]["provenance"]["source"] == "web-signup"
    assert request.headers["idempotency-key"] == delivery.public_id
    assert request.headers["content-type"] == "application/json"
    assert StampRecord.objects.get(stamp_id=delivery.stamp_id).decision == "allow"
    assert delivery.payload_sealed == "", "the payload is purged once delivered"
    assert delivery.finished_at is not None

    shown = deliver_client.get(f"/api/v1/deliveries/{delivery.public_id}").json()
    assert shown["status"] == "delivered"
    assert shown["next_attempt_at"] is None
    assert [(a["outcome"], a["http_status"]) for a in shown["log"]] == [("delivered", 200)]
    assert "ada@example.com" not in json.dumps(shown)


@pytest.mark.django_db(transaction=True)
def test_consent_withdrawn_while_queued_blocks_the_delivery_and_the_recipient_gets_no_call(
    celery_worker_factory: Callable[[], CeleryWorker],
    organization: Organization,
    recipient_for: Callable[..., Recipient],
    granted: None,
    deliver_client: APIClient,
) -> None:
    worker = celery_worker_factory()  # the task waits in Redis until the worker starts
    with HttpReceiver() as receiver:
        recipient_for(receiver.url)
        accepted = create_delivery(deliver_client)
        consent_services.consent_record(
            organization=organization,
            item=event_input(subject_id="cust-1", action="withdraw", occurred_at=timezone.now()),
        )

        worker.start()
        delivery = finished(accepted["id"])
        time.sleep(0.5)  # nothing may arrive late either

        assert receiver.requests == []
    assert delivery.status == "blocked"
    assert delivery.payload_sealed == ""
    record = StampRecord.objects.get(stamp_id=delivery.stamp_id)
    assert record.decision == "block"
    assert [(a.outcome, a.http_status) for a in delivery.log.all()] == [("blocked", None)]
    assert "marketing-email" in delivery.last_error
    assert not ProvenanceAlert.objects.exists()


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ({"fail_status": 503}, ("retryable_error", 503)),
        ({"fail_status": 429}, ("retryable_error", 429)),
        ({"hang_seconds": 3.0}, ("network_error", None)),  # past the worker's 2 s timeout
    ],
    ids=["503", "429", "timeout"],
)
@pytest.mark.django_db(transaction=True)
def test_receiver_failing_twice_gets_the_delivery_on_the_third_attempt(
    failure: dict[str, Any],
    expected: tuple[str, int | None],
    celery_worker: CeleryWorker,
    recipient_for: Callable[..., Recipient],
    granted: None,
    deliver_client: APIClient,
) -> None:
    with HttpReceiver(fail_times=2, **failure) as receiver:
        recipient_for(receiver.url)
        accepted = create_delivery(deliver_client)
        delivery = finished(accepted["id"], timeout=60)
        requests = receiver.wait_for(3)

    assert delivery.status == "delivered"
    assert delivery.attempts == 3
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("attempted_at", "id"))
    assert [(a.outcome, a.http_status) for a in attempts] == [expected, expected, ("delivered", 200)]
    assert all(a.duration_ms is not None for a in attempts)
    assert all("ada@example.com" not in a.detail for a in attempts)
    assert attempts[0].attempted_at < attempts[1].attempted_at < attempts[2].attempted_at
    # Each attempt re-decided consent: three stamps, all valid, one delivery id for deduplication.
    stamps = {assert_stamp_verifies(r.body, r.headers)["privacy"]["stamp_id"] for r in requests}
    assert len(stamps) == 3
    assert {r.headers["idempotency-key"] for r in requests} == {delivery.public_id}
    assert delivery.stamp_id in stamps


@pytest.mark.django_db(transaction=True)
def test_a_4xx_answer_dead_letters_the_delivery_at_once_with_an_alert(
    celery_worker: CeleryWorker,
    organization: Organization,
    recipient_for: Callable[..., Recipient],
    granted: None,
    deliver_client: APIClient,
) -> None:
    with HttpReceiver(status=422) as receiver:
        recipient_for(receiver.url)
        accepted = create_delivery(deliver_client)
        delivery = finished(accepted["id"])
        time.sleep(0.5)
        assert len(receiver.requests) == 1

    assert delivery.status == "dead"
    assert delivery.payload_sealed, "a dead letter keeps its sealed payload so legal can replay it"
    assert [(a.outcome, a.http_status) for a in delivery.log.all()] == [("rejected", 422)]
    alert = ProvenanceAlert.objects.get(organization=organization)
    assert alert.kind == AlertKind.DELIVERY_DEAD
    assert delivery.public_id in alert.note
    assert alert.failures[0]["problem"] == "http_422"
    assert alert.subject_external_id == "cust-1"


@pytest.mark.django_db(transaction=True)
def test_transient_failures_until_give_up_at_end_dead_with_an_alert(
    celery_worker_factory: Callable[[], CeleryWorker],
    organization: Organization,
    recipient_for: Callable[..., Recipient],
    granted: None,
    deliver_client: APIClient,
) -> None:
    worker = celery_worker_factory()
    with HttpReceiver(fail_times=1000, fail_status=500) as receiver:
        recipient_for(receiver.url)
        worker.start()
        accepted = create_delivery(deliver_client)
        # Once it has failed (and is retrying), shorten its life (24 h in production) to end the test quickly.
        # Started first: a worker slow to start must not find the delivery past its end before any attempt.
        rows = Delivery.objects.filter(public_id=accepted["id"])
        wait_until(lambda: rows.filter(attempts__gte=1).exists())
        rows.update(give_up_at=timezone.now() + timedelta(seconds=1))
        delivery = finished(accepted["id"], timeout=30)

    assert delivery.status == "dead"
    assert delivery.attempts >= 1
    assert delivery.log.count() == delivery.attempts == len(receiver.requests)
    assert delivery.last_error.startswith("gave up after")
    alert = ProvenanceAlert.objects.get(organization=organization, kind=AlertKind.DELIVERY_DEAD)
    assert alert.failures[0]["problem"] == "gave_up"


@pytest.mark.django_db(transaction=True)
def test_the_task_run_twice_delivers_once(
    celery_worker_factory: Callable[[], CeleryWorker],
    recipient_for: Callable[..., Recipient],
    granted: None,
    deliver_client: APIClient,
) -> None:
    worker = celery_worker_factory()
    with HttpReceiver() as receiver:
        recipient_for(receiver.url)
        accepted = create_delivery(deliver_client)  # one message, sent after commit
        delivery_id = Delivery.objects.get(public_id=accepted["id"]).pk
        deliver.apply_async(args=(delivery_id,), queue=worker.queue)  # and a duplicate
        worker.start()

        delivery = finished(accepted["id"])
        results = wait_until(lambda: ran_twice(worker))
        again = deliver(delivery_id)  # a third run, in this process
        time.sleep(0.3)
        assert len(receiver.requests) == 1

    assert delivery.status == "delivered"
    assert delivery.attempts == 1
    assert delivery.log.count() == 1
    assert sum("'skipped': True" in line for line in results) == 1
    assert again == {"delivery": delivery_id, "skipped": True, "status": "delivered"}


def ran_twice(worker: CeleryWorker) -> list[str] | None:
    results = worker.results("provenance.tasks.deliver")
    return results if len(results) == 2 else None


@pytest.mark.django_db(transaction=True)
def test_sweep_re_enqueues_a_delivery_whose_message_was_lost(
    celery_worker_factory: Callable[[], CeleryWorker],
    organization: Organization,
    recipient_for: Callable[..., Recipient],
    granted: None,
    settings: Any,
) -> None:
    worker = celery_worker_factory()
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    with HttpReceiver() as receiver:
        recipient_for(receiver.url)
        settings.CELERY_TASK_DEFAULT_QUEUE = f"{queue}-nobody-listens"  # the message is lost
        delivery = deliveries.delivery_create(
            organization=organization,
            request=StampRequest(recipient="crm", purposes=("marketing-email",), subject_id="cust-1", data=DATA),
            actor="test",
        )
        settings.CELERY_TASK_DEFAULT_QUEUE = queue
        worker.start()
        assert sweep_due() == {"deliveries": 0, "notices": 0}, "not yet: its message may still be on its way"

        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
        assert sweep_due() == {"deliveries": 1, "notices": 0}
        delivered = finished(delivery.public_id)
        receiver.wait_for(1)

    assert delivered.status == "delivered"
    assert sweep_due() == {"deliveries": 0, "notices": 0}


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_sending_is_recovered_by_the_sweep(
    celery_worker_factory: Callable[[], CeleryWorker],
    recipient_for: Callable[..., Recipient],
    granted: None,
    deliver_client: APIClient,
) -> None:
    crashing = celery_worker_factory().start()
    with HttpReceiver(fail_times=1, fail_status=200, hang_seconds=1.5) as receiver:
        recipient_for(receiver.url)
        accepted = create_delivery(deliver_client)
        receiver.wait_arrived(1)  # the POST is in flight, its answer hangs
        crashing.kill()  # the claim stays for five minutes

        stuck = Delivery.objects.get(public_id=accepted["id"])
        assert stuck.status == "sending"
        assert stuck.claimed_until is not None
        assert stuck.claimed_until > timezone.now()
        Delivery.objects.filter(pk=stuck.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))

        celery_worker_factory().start()
        assert sweep_due()["deliveries"] == 1
        delivery = finished(accepted["id"])
        requests = receiver.wait_for(2)

    assert delivery.status == "delivered"
    assert delivery.attempts == 2
    assert [(a.outcome, a.http_status) for a in delivery.log.all()] == [("interrupted", None), ("delivered", 200)]
    assert {r.headers["idempotency-key"] for r in requests} == {delivery.public_id}, "receivers can drop repeats"


# --------------------------------------------------------------------------------------------------
# The API alone


@pytest.mark.django_db
def test_a_recipient_without_endpoint_url_is_refused_with_422(
    recipient_for: Callable[..., Recipient], granted: None, deliver_client: APIClient
) -> None:
    recipient_for("")
    response = deliver_client.post("/api/v1/deliveries", delivery_body(), format="json")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [{"pointer": "/recipient", "detail": "recipient 'crm' has no endpoint_url"}]
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_unknown_recipient_or_purpose_is_refused_with_422(
    recipient_for: Callable[..., Recipient], deliver_client: APIClient
) -> None:
    recipient_for("http://127.0.0.1:9/hook")
    unknown_recipient = deliver_client.post("/api/v1/deliveries", delivery_body(recipient="nope"), format="json")
    unknown_purpose = deliver_client.post("/api/v1/deliveries", delivery_body(purposes=["nope"]), format="json")

    assert unknown_recipient.status_code == 422
    assert unknown_purpose.status_code == 422
    assert unknown_purpose.json()["errors"] == [{"pointer": "/purposes", "detail": "unknown purpose 'nope'"}]
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_delivery_api_permissions(
    organization: Organization,
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
    recipient_for: Callable[..., Recipient],
    task_queue: str,
) -> None:
    recipient_for("http://127.0.0.1:9/hook")
    audit_before = AuditLogEntry.objects.count()

    assert APIClient().post("/api/v1/deliveries", delivery_body(), format="json").status_code == 401
    wrong_scope = api_client_for(organization, "stamp", "provenance:write")
    assert wrong_scope.post("/api/v1/deliveries", delivery_body(), format="json").status_code == 403
    other = api_client_for(other_organization, "deliver")
    assert other.post("/api/v1/deliveries", delivery_body(), format="json").status_code == 422
    assert not Delivery.objects.exists(), "denied calls change nothing"
    assert AuditLogEntry.objects.filter(action="delivery.created").count() == 0
    assert AuditLogEntry.objects.count() - audit_before == 2  # the two API keys made above

    right = api_client_for(organization, "deliver")
    accepted = right.post("/api/v1/deliveries", delivery_body(), format="json")
    assert accepted.status_code == 202
    public_id = accepted.json()["id"]
    assert accepted["Location"] == f"/api/v1/deliveries/{public_id}"
    delivery = Delivery.objects.get(public_id=public_id)
    assert delivery.give_up_at - delivery.created_at == timedelta(hours=24)
    assert "ada@example.com" not in delivery.payload_sealed, "the payload is sealed"
    assert deliveries.unseal_payload(public_id, delivery.payload_sealed)["data"] == DATA

    assert APIClient().get(f"/api/v1/deliveries/{public_id}").status_code == 401
    assert wrong_scope.get(f"/api/v1/deliveries/{public_id}").status_code == 403
    assert other.get(f"/api/v1/deliveries/{public_id}").status_code == 404
    shown = right.get(f"/api/v1/deliveries/{public_id}")
    assert shown.status_code == 200
    assert shown.json()["status"] == "queued"
    assert shown.json()["log"] == []


# --------------------------------------------------------------------------------------------------
# Backoff


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (60, 3600)])
def test_backoff_is_full_jitter_under_an_exponential_ceiling_capped_at_an_hour(attempt: int, ceiling: float) -> None:
    assert backoff_seconds(attempt, base=30, cap=3600, rng=lambda: 0.0) == 0
    assert backoff_seconds(attempt, base=30, cap=3600, rng=lambda: 0.5) == ceiling / 2
    assert ceiling * 0.99 < backoff_seconds(attempt, base=30, cap=3600, rng=lambda: 0.999) < ceiling


def test_a_retry_after_answer_is_honoured_up_to_the_cap(settings: Any) -> None:
    settings.PROVENANT_RETRY_BASE_SECONDS = 30
    assert deliveries.next_attempt_delay(1, retry_after=600) >= 600
    assert deliveries.next_attempt_delay(1, retry_after=10**6) <= 3600
