"""The SSRF guard end to end, with PROVENANT_OUTBOUND_ALLOW_PRIVATE off as in production: the API, the admin
and the connector registry refuse local and private destinations, and a name that resolves to 127.0.0.1 is
refused when sending (deliveries, consent-change webhooks, DSAR connectors) while a real HTTP server on that
address receives nothing. With the setting on, the same server gets the POST: the guard leaves that path alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source
from core.models import AuditLogEntry, Organization
from core.problems import InvalidInput
from dsar import connector_calls
from dsar import services as dsar_services
from dsar.models import Connector, ConnectorCallStatus
from dsar.services import dsar_create
from provenance.enums import AlertKind, DeliveryStatus, NoticeStatus, RecipientRole
from provenance.models import ConsentNotice, Delivery, ProvenanceAlert, Recipient
from provenance.services import deliveries, notices, webhook_secrets
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem, pointers
from tests.integration.http_receiver import HttpReceiver

pytestmark = pytest.mark.django_db

REFUSED = "is not a public address"


@pytest.fixture
def private_refused(settings: Any) -> None:
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = False
    settings.PROVENANT_DSAR_CONNECTOR_RETRY_SECONDS = 0.01


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


def by_name(receiver: HttpReceiver) -> str:
    """The receiver's URL through a name that resolves to 127.0.0.1 (registered while private was allowed)."""
    return receiver.url.replace("//127.0.0.1:", "//localhost:")


def counts() -> tuple[int, int]:
    return Recipient.objects.count(), AuditLogEntry.objects.filter(action__startswith="recipient.").count()


def recipient_body(**overrides: Any) -> dict[str, Any]:
    return {"key": "crm", "name": "CRM", "role": "processor", "purposes": ["marketing-email"], **overrides}


# --- registration -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://169.254.169.254/", "http://[::1]/x"])
@pytest.mark.parametrize("field", ["endpoint_url", "webhook_url"])
def test_the_api_refuses_a_recipient_at_a_private_address_and_creates_nothing(
    private_refused: None, purpose: Purpose, provenance_client: APIClient, url: str, field: str
) -> None:
    before = counts()

    response = provenance_client.post("/api/v1/recipients", recipient_body(**{field: url}), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {f"/{field}"}
    assert REFUSED in body["errors"][0]["detail"]
    assert counts() == before


def test_the_api_refuses_localhost_and_names_both_fields(
    private_refused: None, purpose: Purpose, provenance_client: APIClient
) -> None:
    response = provenance_client.post(
        "/api/v1/recipients",
        recipient_body(endpoint_url="http://localhost:8000/in", webhook_url="https://10.1.2.3/hook"),
        format="json",
    )

    body = assert_problem(response, 422, "validation-error")
    assert {e["pointer"]: e["detail"] for e in body["errors"]} == {
        "/endpoint_url": "localhost is a local host name; destinations must be public",
        "/webhook_url": "10.1.2.3 is not a public address",
    }
    assert not Recipient.objects.exists()


def test_a_change_to_a_private_address_is_refused_and_changes_nothing(
    private_refused: None, purpose: Purpose, provenance_client: APIClient
) -> None:
    created = provenance_client.post(
        "/api/v1/recipients", recipient_body(endpoint_url="https://crm.example.com/in"), format="json"
    )
    assert created.status_code == 201, created.content
    before = AuditLogEntry.objects.count()

    response = provenance_client.patch(
        "/api/v1/recipients/crm", {"endpoint_url": "http://169.254.169.254/latest/"}, format="json"
    )

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/endpoint_url"}
    assert Recipient.objects.get(key="crm").endpoint_url == "https://crm.example.com/in"
    assert AuditLogEntry.objects.count() == before


def test_public_urls_are_registered_as_before(
    private_refused: None, purpose: Purpose, provenance_client: APIClient
) -> None:
    response = provenance_client.post(
        "/api/v1/recipients",
        recipient_body(endpoint_url="https://crm.example.com/in", webhook_url="https://93.184.215.14/hook"),
        format="json",
    )

    assert response.status_code == 201, response.content


def test_the_admin_shows_the_refusal_on_the_field(
    private_refused: None, admin_client: Client, organization: Organization, purpose: Purpose
) -> None:
    form = {
        "organization": str(organization.pk),
        "key": "crm",
        "name": "CRM",
        "role": RecipientRole.PROCESSOR,
        "purposes": [str(purpose.pk)],
        "data_categories": "[]",
        "endpoint_url": "http://10.0.0.5/in",
        "webhook_url": "",
        "is_active": "on",
    }

    response = admin_client.post("/admin/provenance/recipient/add/", form)

    assert response.status_code == 200
    assert "10.0.0.5 is not a public address" in response.content.decode()
    assert not Recipient.objects.exists()


def test_a_connector_at_a_private_address_is_refused(private_refused: None, organization: Organization) -> None:
    with pytest.raises(InvalidInput) as refused:
        dsar_services.connector_create(
            organization=organization, key="crm", name="CRM", url="http://10.0.0.5/dsar", actor="test"
        )

    assert refused.value.extra["errors"] == [{"pointer": "/url", "detail": "10.0.0.5 is not a public address"}]
    assert not Connector.objects.exists()


def test_a_connector_url_must_be_http_even_when_private_is_allowed(organization: Organization) -> None:
    with pytest.raises(InvalidInput):
        dsar_services.connector_create(organization=organization, key="crm", name="CRM", url="file:///etc", actor="t")

    assert not Connector.objects.exists()


# --- sending ------------------------------------------------------------------------------------------------------


@pytest.fixture
def delivery_for(
    organization: Organization, source: Source, purpose: Purpose, receiver: HttpReceiver
) -> Callable[[], Delivery]:
    """A recipient at ``localhost`` (registered while private destinations are allowed, as in the test
    settings) and a delivery to it for a subject who granted consent. Nothing is enqueued: the test sends."""
    consent_services.consent_record(organization=organization, item=event_input(subject_id="cust-1"))
    recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role=RecipientRole.PROCESSOR,
        purposes=[purpose.key],
        endpoint_url=by_name(receiver),
    )

    def make() -> Delivery:
        request = StampRequest(recipient="crm", purposes=(purpose.key,), subject_id="cust-1", data={"plan": "pro"})
        return deliveries.delivery_create(organization=organization, request=request, actor="test")

    return make


def test_a_name_resolving_to_loopback_is_refused_at_send_time_and_dead_lettered_at_once(
    delivery_for: Callable[[], Delivery], receiver: HttpReceiver, settings: Any, organization: Organization
) -> None:
    delivery = delivery_for()
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = False

    result = deliveries.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert result["status"] == delivery.status == DeliveryStatus.DEAD, "refused: not retried for 24 h"
    assert [(a.outcome, a.http_status) for a in delivery.log.all()] == [("refused", None)]
    detail = "destination refused: localhost resolves to 127.0.0.1, which is not a public address"
    assert delivery.last_error == detail
    alert = ProvenanceAlert.objects.get(organization=organization, kind=AlertKind.DELIVERY_DEAD)
    assert alert.failures == [{"field": "delivery", "problem": "refused", "detail": detail}]
    assert receiver.arrived == 0, "no connection was made"


def test_with_private_allowed_the_same_delivery_reaches_the_server_by_its_name(
    delivery_for: Callable[[], Delivery], receiver: HttpReceiver
) -> None:
    delivery = delivery_for()

    result = deliveries.delivery_attempt(delivery_id=delivery.pk)

    assert result["status"] == DeliveryStatus.DELIVERED
    [request] = receiver.wait_for(1, timeout=5)
    assert request.headers["host"] == by_name(receiver).split("/")[2], "the Host header keeps the name"
    assert request.headers["idempotency-key"] == delivery.public_id


def test_a_consent_webhook_to_a_refused_destination_is_dead_lettered_without_a_call(
    organization: Organization, source: Source, purpose: Purpose, receiver: HttpReceiver, settings: Any
) -> None:
    recipient = recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role=RecipientRole.PROCESSOR,
        purposes=[purpose.key],
        webhook_url=by_name(receiver),
    )
    webhook_secrets.recipient_webhook_secret_rotate(recipient=recipient, actor="test")
    consent_services.consent_record(organization=organization, item=event_input(subject_id="cust-1"))
    assert notices.consent_notices_scan()["created"] == 1
    notice = ConsentNotice.objects.get()
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = False

    notices.consent_notice_send(notice_id=notice.pk)

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DEAD
    assert [a.outcome for a in notice.log.all()] == ["refused"]
    assert REFUSED in notice.last_error
    assert receiver.arrived == 0


@pytest.fixture
def connector_request(organization: Organization, receiver: HttpReceiver) -> Any:
    dsar_services.connector_create(organization=organization, key="crm", name="CRM", url=by_name(receiver), actor="t")
    return dsar_create(organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE")


def test_a_dsar_connector_at_a_refused_destination_fails_once_without_retries(
    connector_request: Any, receiver: HttpReceiver, private_refused: None
) -> None:
    [outcome] = connector_calls.call_connectors(request=connector_request, step="collect", email=None)

    assert (outcome.status, outcome.attempts, outcome.http_status) == (ConnectorCallStatus.FAILED, 1, None)
    assert outcome.detail == "destination refused: localhost resolves to 127.0.0.1, which is not a public address"
    assert receiver.arrived == 0


def test_with_private_allowed_the_dsar_connector_is_called(connector_request: Any, receiver: HttpReceiver) -> None:
    [outcome] = connector_calls.call_connectors(request=connector_request, step="collect", email=None)

    assert (outcome.status, outcome.attempts, outcome.answer) == (ConnectorCallStatus.ANSWERED, 1, {"ok": True})
    assert len(receiver.requests) == 1
