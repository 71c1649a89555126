"""DSAR intake and detail API: validation, regime derivation, deadlines, history, masking, tenancy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.signals import before_task_publish
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.jurisdiction_rules import NO_DSAR_REGIME, jurisdiction_rules
from core.models import AuditLogEntry, Organization
from dsar import services
from dsar.deadlines import SettingLayer, compute_deadlines
from dsar.enums import DsarRegime
from dsar.models import DataSubjectRequest, RequestMessage, RequestTransition
from dsar.request_deadlines import request_today
from dsar.services.messaging import message_facts, message_queue
from dsar.services.workflow import dsar_intake
from tests.consent.api_contract import assert_problem, dsar_body, pointers

DEADLINE_KEYS = set(
    compute_deadlines(regime="ccpa", request_type="access", received_at=datetime(2026, 1, 5, tzinfo=UTC)).to_dict()
)


@pytest.fixture
def client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "dsar:read", "dsar:write")


def counts() -> tuple[int, int, int]:
    return DataSubjectRequest.objects.count(), RequestTransition.objects.count(), AuditLogEntry.objects.count()


def test_regime_choices_are_the_dsar_regimes_of_the_rule_table() -> None:
    table = {rule.dsar.regime for rule in jurisdiction_rules()} - {NO_DSAR_REGIME}

    assert set(DsarRegime.values) == table


def test_intake_records_the_request_with_its_deadlines_and_one_history_step(client: APIClient) -> None:
    response = client.post("/api/v1/dsar", dsar_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/dsar/{body['id']}"
    assert (body["status"], body["type"], body["regime"], body["channel"]) == ("received", "access", "gdpr", "web_form")
    assert body["subject_id"] == "cust-1"
    assert set(body["deadlines"]) == DEADLINE_KEYS
    assert body["deadlines"]["calendar"] == "EU-DE"
    assert body["deadlines"]["time_zone"] == "Europe/Berlin"
    assert body["due_on"] == body["deadlines"]["enforced_due"] == body["deadlines"]["initial_due"]
    assert body["deadlines"]["rules"]["initial_due"].startswith("GDPR Art. 12(3)")
    assert body["extension"] is None
    assert [(step["from_status"], step["to_status"]) for step in body["history"]] == [("", "received")]
    stored = DataSubjectRequest.objects.get(public_id=body["id"])
    assert stored.due_on.isoformat() == body["due_on"]


@pytest.mark.django_db(transaction=True)
def test_the_answer_shows_the_request_as_committed_after_the_step_that_follows_intake(client: APIClient) -> None:
    """As a server runs it (each commit real, its hooks run at once): with a requester email the request asks for
    identity right after intake; the answer, built from the request intake holds (not read again), equals what
    is stored."""
    response = client.post("/api/v1/dsar", dsar_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    stored = DataSubjectRequest.objects.get(public_id=body["id"])
    assert body["status"] == stored.status == "identity_pending"
    assert body["due_on"] == stored.due_on.isoformat()
    assert body["deadlines"] == stored.deadlines
    history = list(RequestTransition.objects.filter(request=stored).order_by("at", "id"))
    assert [(step["from_status"], step["to_status"]) for step in body["history"]] == [
        (step.from_status, step.to_status) for step in history
    ]
    assert [(step.from_status, step.to_status) for step in history] == [
        ("", "received"),
        ("received", "identity_pending"),
    ]
    assert [message["kind"] for message in body["messages"]] == list(
        RequestMessage.objects.filter(request=stored).order_by("id").values_list("kind", flat=True)
    )
    assert "receipt" in [message["kind"] for message in body["messages"]]


def _writing_transactions(request: DataSubjectRequest) -> set[int]:
    """The ids of the transactions that wrote the request's rows: its own, history, messages and audit entries."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xmin::text FROM dsar_datasubjectrequest WHERE id = %s"
            " UNION SELECT xmin::text FROM dsar_requesttransition WHERE request_id = %s"
            " UNION SELECT xmin::text FROM dsar_requestmessage WHERE request_id = %s"
            " UNION SELECT xmin::text FROM core_auditlogentry WHERE object_type = 'dsar' AND object_id = %s",
            [request.pk, request.pk, request.pk, request.public_id],
        )
        return {int(row[0]) for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_intake_and_the_identity_step_commit_as_one_transaction_and_the_answer_equals_a_read(
    client: APIClient, settings: Any
) -> None:
    """Issue #16: outside a caller's transaction, the identity step after intake is written with it (one
    transaction: every row carries the same xmin), its link task is sent after that commit, and the answer built
    from what intake wrote (messages left to a worker) is what a read of the request answers."""
    settings.PROVENANT_DSAR_MESSAGES_IN_WORKER = True
    sent: list[tuple[str, Any]] = []

    def record(sender: str, body: Any, **_: Any) -> None:
        sent.append((sender, list(body[0])))

    before_task_publish.connect(record)
    try:
        response = client.post("/api/v1/dsar", dsar_body(), format="json")
    finally:
        before_task_publish.disconnect(record)

    assert response.status_code == 201, response.content
    stored = DataSubjectRequest.objects.get(public_id=response.json()["id"])
    assert len(_writing_transactions(stored)) == 1
    assert stored.status == "identity_pending"
    steps = list(RequestTransition.objects.filter(request=stored).order_by("at", "id"))
    assert [(step.from_status, step.to_status, step.actor, step.reason) for step in steps] == [
        ("", "received", "api_key:" + stored.organization.api_keys.get().prefix, ""),
        ("received", "identity_pending", "task:dsar.workflow", "identity verification requested"),
    ]
    audit = AuditLogEntry.objects.filter(object_type="dsar", object_id=stored.public_id).order_by("id")
    assert [(entry.action, entry.data.get("to")) for entry in audit] == [
        ("dsar.received", None),
        ("dsar.transitioned", "identity_pending"),
    ]
    # The deadlines are those the step after intake computes (the GDPR pause opened on the day of receipt).
    assert stored.deadlines["pause_applied"] is True
    assert stored.deadlines["identity_cutoff"] is not None
    # One task: the link's, which sends the receipt intake stored (never tried yet) before the link.
    assert sent == [("dsar.tasks.send_verification_link", [stored.pk])]
    receipt = RequestMessage.objects.get(request=stored)
    assert (receipt.kind, receipt.status, receipt.attempts) == ("receipt", "pending", 0)
    assert response.json() == client.get(f"/api/v1/dsar/{stored.public_id}").json()

    mail.outbox.clear()
    settings.PROVENANT_DSAR_MESSAGES_IN_WORKER = False  # the link's message goes out in this process too
    assert services.dsar_identity_link_send(request_id=stored.pk) == {"sent": True}
    assert services.dsar_identity_link_send(request_id=stored.pk) == {"sent": False, "reason": "sent already"}
    messages = list(RequestMessage.objects.filter(request=stored).order_by("id"))
    assert [(message.kind, message.status) for message in messages] == [("receipt", "sent"), ("identity.link", "sent")]
    assert len(mail.outbox) == 2
    assert [mail_message.extra_headers["Message-ID"].split("@")[0] for mail_message in mail.outbox] == [
        f"<{message.public_id.lower()}" for message in messages
    ]


@pytest.mark.django_db(transaction=True)
def test_a_receipt_left_to_a_lost_link_task_is_sent_by_the_messages_sweep(client: APIClient, settings: Any) -> None:
    settings.PROVENANT_DSAR_MESSAGES_IN_WORKER = True
    published: list[str] = []

    def record(sender: str, **_: Any) -> None:
        published.append(sender)

    before_task_publish.connect(record)
    try:
        response = client.post("/api/v1/dsar", dsar_body(), format="json")  # its link task is never run
    finally:
        before_task_publish.disconnect(record)
    assert response.status_code == 201, response.content
    assert published == ["dsar.tasks.send_verification_link"]  # the receipt has no task of its own
    mail.outbox.clear()

    assert services.dsar_messages_sweep() == {"due": 1, "sent": 1}

    receipt = RequestMessage.objects.get(request__public_id=response.json()["id"])
    assert (receipt.kind, receipt.status) == ("receipt", "sent")
    assert [message.to for message in mail.outbox] == [[dsar_body()["requester"]["email"]]]


class ReceiptRefusingBackend(locmem.EmailBackend):
    """A mail service whose client raises its own error (not an OSError) for the receipt, and takes the rest."""

    def send_messages(self, messages: Any) -> int:
        if any("confirm" not in message.subject for message in messages):
            raise RuntimeError("the mail service refused the message")
        return super().send_messages(messages)


@pytest.mark.django_db(transaction=True)
def test_a_receipt_the_mail_service_refuses_never_holds_the_identity_link_back(
    client: APIClient, settings: Any
) -> None:
    settings.PROVENANT_DSAR_MESSAGES_IN_WORKER = True
    response = client.post("/api/v1/dsar", dsar_body(), format="json")
    assert response.status_code == 201, response.content
    stored = DataSubjectRequest.objects.get(public_id=response.json()["id"])
    settings.EMAIL_BACKEND = f"{__name__}.ReceiptRefusingBackend"
    settings.PROVENANT_DSAR_MESSAGES_IN_WORKER = False  # the link's message goes out in this process
    mail.outbox = []

    assert services.dsar_identity_link_send(request_id=stored.pk) == {"sent": True}

    rows = {message.kind: message for message in RequestMessage.objects.filter(request=stored)}
    assert (rows["identity.link"].status, len(mail.outbox)) == ("sent", 1)
    assert "confirm" in mail.outbox[0].subject
    # The receipt stays claimed until its lease runs out; then the messages sweep sends it.
    assert (rows["receipt"].status, rows["receipt"].attempts) == ("sending", 1)


def test_intake_asks_identity_only_of_a_requester_with_an_email_for_a_request_verified_first(
    organization: Organization,
) -> None:
    intake = {"organization": organization, "channel": "api", "actor": "test", "jurisdiction": "US-CA"}
    with pytest.raises(ValueError, match="requester with an email"):
        dsar_intake(**intake, request_type="access", identity_requested_by="task:x")
    with pytest.raises(ValueError, match="requester with an email"):
        dsar_intake(
            **intake,
            request_type="opt_out_of_sale",
            requester=services.Requester(email="ada@example.com"),
            identity_requested_by="task:x",
        )
    assert not DataSubjectRequest.objects.exists()


def test_a_message_is_queued_once_per_key_whoever_queues_it_again(organization: Organization) -> None:
    request = services.dsar_create(
        organization=organization,
        request_type="access",
        channel="email",
        actor="test",
        jurisdiction="DE",
        requester=services.Requester(email="ada@example.com", name="Ada Lovelace"),
    )
    facts = message_facts(request)
    again = message_queue(request=request, kind="receipt", key="receipt", facts=facts)

    assert again is None
    assert RequestMessage.objects.filter(request=request, key="receipt").count() == 1
    first = message_queue(request=request, kind="receipt", key="receipt-2", facts=facts)
    assert first is not None
    assert first.pk == RequestMessage.objects.get(request=request, key="receipt-2").pk
    assert first.request_id == request.pk


def test_requester_contact_is_masked_in_answers_and_never_stored_in_plaintext(client: APIClient) -> None:
    response = client.post("/api/v1/dsar", dsar_body(), format="json")

    body = response.json()
    assert body["requester"] == {"email": "a***@example.com", "name": "A*** L***"}
    assert "ada@example.com" not in response.content.decode()
    assert "Lovelace" not in response.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM dsar_datasubjectrequest WHERE public_id = %s", [body["id"]])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "ada@example.com" not in row
    assert "Lovelace" not in row
    assert not AuditLogEntry.objects.filter(data__icontains="ada@").exists()


@pytest.mark.parametrize(
    ("jurisdiction", "regime"),
    [("DE", "gdpr"), ("de-by", "gdpr"), ("US-CA", "ccpa"), ("GB", "uk_gdpr"), ("US-VA", "vcdpa")],
)
def test_regime_is_derived_from_the_requesters_jurisdiction(client: APIClient, jurisdiction: str, regime: str) -> None:
    response = client.post("/api/v1/dsar", dsar_body(jurisdiction=jurisdiction), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["regime"] == regime


def test_an_explicit_regime_overrides_the_jurisdiction(client: APIClient) -> None:
    response = client.post("/api/v1/dsar", dsar_body(jurisdiction="US-CA", regime="cpa"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["regime"] == "cpa"


def test_ccpa_deadlines_match_the_engine(client: APIClient) -> None:
    received = "2026-03-02T20:00:00Z"

    response = client.post(
        "/api/v1/dsar",
        dsar_body(jurisdiction="US-CA", type="deletion", channel="email", received_at=received),
        format="json",
    )

    assert response.status_code == 201, response.content
    expected = compute_deadlines(
        regime="ccpa",
        request_type="deletion",
        received_at=datetime(2026, 3, 2, 20, tzinfo=UTC),
        settings=[SettingLayer("jurisdiction", time_zone="America/Los_Angeles", calendar="US-FED")],
    )
    assert response.json()["deadlines"] == expected.to_dict()
    assert response.json()["due_on"] == expected.enforced_due.isoformat()


def test_a_request_received_by_mail_keeps_its_receipt_time(client: APIClient) -> None:
    received = (timezone.now() - timedelta(days=3)).replace(microsecond=0)

    response = client.post("/api/v1/dsar", dsar_body(channel="mail", received_at=received.isoformat()), format="json")

    assert response.status_code == 201, response.content
    assert datetime.fromisoformat(response.json()["received_at"].replace("Z", "+00:00")) == received


def test_subject_may_be_unknown_at_intake(client: APIClient) -> None:
    body = dsar_body()
    del body["subject_id"]

    response = client.post("/api/v1/dsar", body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["subject_id"] == ""


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"channel": "email", "received_at": "2999-01-01T00:00:00Z"}, "/received_at"),
        ({"channel": "web_form", "received_at": "2026-01-01T00:00:00Z"}, "/received_at"),
        ({"channel": "email", "received_at": "2026-01-01T00:00:00"}, "/received_at"),
        ({"type": "erase_everything"}, "/type"),
        ({"type": 3}, "/type"),
        ({"channel": "fax"}, "/channel"),
        ({"jurisdiction": "XX"}, "/jurisdiction"),
        ({"jurisdiction": "US"}, "/regime"),
        ({"jurisdiction": ""}, "/jurisdiction"),
        ({"regime": "none"}, "/regime"),
        ({"subject_id": "has space"}, "/subject_id"),
        ({"requester": {"email": "not-an-email"}}, "/requester/email"),
        ({"requester": {"phone": "123"}}, "/requester/phone"),
        ({"priority": "high"}, "/priority"),
    ],
)
def test_invalid_intake_is_422_and_changes_nothing(client: APIClient, overrides: dict[str, Any], pointer: str) -> None:
    before = counts()

    response = client.post("/api/v1/dsar", dsar_body(**overrides), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointer in pointers(body), body
    assert counts() == before


def test_a_future_received_at_is_refused(client: APIClient) -> None:
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()

    response = client.post("/api/v1/dsar", dsar_body(channel="email", received_at=tomorrow), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/received_at"}
    assert "future" in body["detail"]


def test_detail_shows_status_every_deadline_with_its_rule_and_the_history(
    client: APIClient, organization: Organization
) -> None:
    request = services.dsar_create(
        organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE"
    )
    services.dsar_transition(request=request, to_status="verified", actor="agent:1")
    services.dsar_transition(request=request, to_status="in_progress", actor="agent:1")
    services.dsar_extend(
        request=request, reason_code="complexity", notice_sent_on=request_today(request), actor="agent:1"
    )

    response = client.get(f"/api/v1/dsar/{request.public_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["extension"] == {"reason_code": "complexity", "notice_sent_on": request_today(request).isoformat()}
    deadlines = body["deadlines"]
    assert deadlines["enforced_key"] == "extended_due"
    assert body["due_on"] == deadlines["extended_due"] == deadlines["enforced_due"]
    for key in ("receipt_date", "initial_due", "extension_notice_due", "extended_due"):
        assert deadlines[key] is not None
        assert deadlines["rules"][key]
    assert "(reason: complexity)" in deadlines["rules"]["extended_due"]
    history = [(step["from_status"], step["to_status"], step["actor"]) for step in body["history"]]
    assert history == [
        ("", "received", "test"),
        ("received", "verified", "agent:1"),
        ("verified", "in_progress", "agent:1"),
        ("in_progress", "in_progress", "agent:1"),
    ]
    assert body["history"][-1]["reason"].startswith("extended (complexity)")


def test_another_organizations_request_is_not_found(
    organization: Organization, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    request = services.dsar_create(
        organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE"
    )
    other = api_client_for(other_organization, "dsar:read", "dsar:write")

    response = other.get(f"/api/v1/dsar/{request.public_id}")

    assert_problem(response, 404, "not-found")


def test_an_unknown_request_id_is_not_found(client: APIClient) -> None:
    assert_problem(client.get("/api/v1/dsar/01HZZZZZZZZZZZZZZZZZZZZZZZ"), 404, "not-found")


def test_intake_needs_the_write_scope(organization: Organization, api_client_for: Callable[..., APIClient]) -> None:
    reader = api_client_for(organization, "dsar:read")
    before = counts()

    body = assert_problem(reader.post("/api/v1/dsar", dsar_body(), format="json"), 403, "insufficient-scope")

    assert body["required_scope"] == "dsar:write"
    assert counts() == before


# --- Idempotency-Key (issue #17: a client retrying after a timeout never files a second request) -------------


def message_count() -> int:
    return RequestMessage.objects.count()


def test_a_retry_with_the_same_idempotency_key_answers_the_first_request_and_records_nothing_more(
    client: APIClient,
) -> None:
    body = dsar_body(requester={"email": "ada@example.org", "name": "Ada"})
    first = client.post("/api/v1/dsar", body, format="json", HTTP_IDEMPOTENCY_KEY="crm-ticket-881")
    assert first.status_code == 201, first.content
    before = (*counts(), message_count())

    retry = client.post("/api/v1/dsar", body, format="json", HTTP_IDEMPOTENCY_KEY="crm-ticket-881")

    assert retry.status_code == 200, retry.content
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert retry["Location"] == first["Location"]
    assert (*counts(), message_count()) == before  # no second request, history step, audit row or email


def test_the_same_idempotency_key_with_another_body_is_409_and_changes_nothing(client: APIClient) -> None:
    assert client.post("/api/v1/dsar", dsar_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    before = (*counts(), message_count())

    other = client.post("/api/v1/dsar", dsar_body(type="deletion"), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert_problem(other, 409, "idempotency-key-reused")
    assert (*counts(), message_count()) == before


def test_idempotency_keys_are_per_organization_and_bounded(
    client: APIClient, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    other = api_client_for(other_organization, "dsar:write")
    mine = client.post("/api/v1/dsar", dsar_body(), format="json", HTTP_IDEMPOTENCY_KEY="shared")
    theirs = other.post("/api/v1/dsar", dsar_body(), format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    before = counts()
    too_long = client.post("/api/v1/dsar", dsar_body(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert_problem(too_long, 422, "validation-error")
    assert counts() == before
