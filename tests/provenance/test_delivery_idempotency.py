"""Idempotency-Key on POST /api/v1/deliveries: a client retrying after a timeout gets the first delivery
back and the recipient is sent the data once; the key is scoped to the organization and bound to the body."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connections
from rest_framework.response import Response
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose
from core.models import AuditLogEntry, Organization
from provenance.enums import DeliveryStatus, RecipientRole
from provenance.models import Delivery, Recipient
from provenance.services.recipients import recipient_create

DELIVERIES = "/api/v1/deliveries"
REUSED = "https://provenant.dev/problems/idempotency-key-reused"
THREADS = 8


def delivery_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": "crm",
        "purposes": ["marketing-email"],
        "subject_id": "cust-1",
        "data": {"email": "ada@example.com", "plan": "pro"},
        "provenance": {"source": "web-signup", "collection_method": "web_form"},
    }
    body.update(overrides)
    return body


def make_crm(organization: Organization) -> Recipient:
    return recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role=RecipientRole.PROCESSOR,
        purposes=["marketing-email"],
        endpoint_url="http://127.0.0.1:9/never-called",
    )


@pytest.fixture
def crm(organization: Organization, purpose: Purpose) -> Recipient:
    return make_crm(organization)


@pytest.fixture
def client(organization: Organization, crm: Recipient, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "deliver")


def post(client: APIClient, body: dict[str, Any], key: str | None = None) -> Response:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(DELIVERIES, body, format="json", **headers)  # type: ignore[no-any-return]


def created_audits() -> int:
    return AuditLogEntry.objects.filter(action="delivery.created").count()


# --------------------------------------------------------------------------------------------------
# One request at a time


@pytest.mark.django_db
def test_a_retry_with_the_same_key_and_body_answers_the_first_delivery_and_sends_nothing_again(
    client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as first_sends:
        first = post(client, delivery_body(), key="order-42")
    with django_capture_on_commit_callbacks() as retry_sends:
        retry = post(client, delivery_body(), key="order-42")

    assert first.status_code == retry.status_code == 202
    assert "Idempotent-Replayed" not in first
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert retry["Location"] == first["Location"] == f"{DELIVERIES}/{first.json()['id']}"
    assert Delivery.objects.count() == 1
    assert created_audits() == 1
    assert len(first_sends) == 1, "the first call enqueues the send"
    assert retry_sends == [], "the retry enqueues nothing"
    delivery = Delivery.objects.get()
    assert delivery.idempotency_key == "order-42"
    assert len(delivery.request_digest) == 64


@pytest.mark.django_db
def test_a_retry_with_the_keys_of_the_body_in_another_order_is_the_same_request(client: APIClient) -> None:
    body = delivery_body()
    first = post(client, body, key="order-42")

    retry = post(client, dict(reversed(list(body.items()))), key="order-42")

    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]


@pytest.mark.django_db
def test_a_replay_after_the_delivery_ended_answers_it_as_it_stands_and_sends_nothing(
    client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    first = post(client, delivery_body(), key="order-42").json()
    Delivery.objects.filter(public_id=first["id"]).update(status=DeliveryStatus.DELIVERED)

    with django_capture_on_commit_callbacks() as sends:
        retry = post(client, delivery_body(), key="order-42")

    assert retry.status_code == 202
    assert retry.json()["id"] == first["id"]
    assert retry.json()["status"] == "delivered"
    assert sends == []
    assert Delivery.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_409_and_changes_nothing(
    client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    post(client, delivery_body(), key="order-42")
    audits = AuditLogEntry.objects.count()

    with django_capture_on_commit_callbacks() as sends:
        response = post(client, delivery_body(subject_id="cust-2"), key="order-42")

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == REUSED
    assert problem["idempotency_key"] == "order-42"
    assert Delivery.objects.count() == 1
    assert AuditLogEntry.objects.count() == audits
    assert sends == []


@pytest.mark.django_db
def test_without_a_key_the_same_body_makes_two_deliveries(
    client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as sends:
        first = post(client, delivery_body())
        second = post(client, delivery_body())

    assert first.status_code == second.status_code == 202
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second
    assert Delivery.objects.count() == 2
    assert set(Delivery.objects.values_list("idempotency_key", flat=True)) == {""}
    assert len(sends) == 2


@pytest.mark.django_db
def test_another_organization_using_the_same_key_gets_its_own_delivery(
    client: APIClient, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    consent_services.purpose_create(organization=other_organization, actor="t", key="marketing-email", name="M")
    make_crm(other_organization)
    theirs_client = api_client_for(other_organization, "deliver")

    mine = post(client, delivery_body(), key="order-42")
    theirs = post(theirs_client, delivery_body(), key="order-42")
    theirs_other_body = post(theirs_client, delivery_body(subject_id="cust-2"), key="order-42")

    assert mine.status_code == theirs.status_code == 202
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["id"] != theirs.json()["id"]
    assert Delivery.objects.filter(organization=other_organization).get().public_id == theirs.json()["id"]
    assert theirs_other_body.status_code == 409, "within their organization the key is bound to their body"
    assert Delivery.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_idempotency_key_outside_1_to_255_characters_is_a_422(client: APIClient, key: str) -> None:
    response = post(client, delivery_body(), key=key)

    assert response.status_code == 422
    assert response.json()["type"] == "https://provenant.dev/problems/validation-error"
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_a_255_character_key_is_accepted(client: APIClient) -> None:
    key = "k" * 255
    first = post(client, delivery_body(), key=key)
    retry = post(client, delivery_body(), key=key)

    assert first.status_code == retry.status_code == 202
    assert retry["Idempotent-Replayed"] == "true"


# --------------------------------------------------------------------------------------------------
# Concurrent retries


@pytest.fixture
def own_queue(settings: Any) -> Iterator[tuple[str, redis.Redis]]:
    """Provenance tasks sent by this test go to a queue of its own on the real broker; removed afterwards."""
    queue = f"provenant-test-{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    yield queue, broker
    keys = list(broker.scan_iter(match=f"*{queue}*"))
    if keys:
        broker.delete(*keys)


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_delivery_and_enqueue_one_send(
    organization: Organization,
    purpose: Purpose,
    api_client_for: Callable[..., APIClient],
    own_queue: tuple[str, redis.Redis],
) -> None:
    make_crm(organization)
    clients = [api_client_for(organization, "deliver") for _ in range(THREADS)]
    start = threading.Barrier(THREADS, timeout=30)
    answers: list[Response | None] = [None] * THREADS
    errors: list[BaseException] = []

    def retry(n: int) -> None:
        try:
            start.wait()
            answers[n] = post(clients[n], delivery_body(), key="order-42")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=retry, args=(n,), name=f"retry-{n}") for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    responses = [answer for answer in answers if answer is not None]
    assert [r.status_code for r in responses] == [202] * THREADS
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r for r in responses) == 1, "exactly one call created it"
    assert Delivery.objects.count() == 1
    assert created_audits() == 1
    queue, broker = own_queue
    assert broker.llen(queue) == 1, "one send was enqueued"
