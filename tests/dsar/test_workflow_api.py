"""The DSAR workflow API: integrations verify, start, extend, approve and reject requests through the same services
as legal's admin actions; the key is the recorded actor, and every refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from core.models import ApiKey, AuditLogEntry, Organization
from core.services import api_key_create
from dsar import services
from dsar.models import DataSubjectRequest, FulfilmentStep, RequestTransition
from dsar.request_deadlines import request_today
from tests.consent.api_contract import assert_problem, pointers

EMAIL = "ada@example.com"
WORKFLOW_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("verify", {"note": "passport checked by phone"}),
    ("fulfil", {}),
    ("extend", {"reason_code": "volume", "notice_sent_on": "2000-01-01"}),
    ("transitions", {"to_status": "rejected", "reason": "Manifestly unfounded."}),
]


@pytest.fixture
def inline_tasks() -> Iterator[None]:
    """Celery runs the real tasks inline (eager), so what a worker would do happens in this test."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def key(organization: Organization) -> tuple[ApiKey, str]:
    return api_key_create(organization=organization, name="ticketing", scopes=["dsar:read", "dsar:write"], actor="test")


@pytest.fixture
def client(key: tuple[ApiKey, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key[1]}")
    return client


@pytest.fixture
def actor(key: tuple[ApiKey, str]) -> str:
    return f"api_key:{key[0].prefix}"


@pytest.fixture
def make_request(organization: Organization) -> Callable[..., DataSubjectRequest]:
    def make(
        request_type: str = "access",
        jurisdiction: str = "DE",
        status: str = "received",
        received_days_ago: int = 0,
    ) -> DataSubjectRequest:
        request = services.dsar_create(
            organization=organization,
            request_type=request_type,
            channel="email",
            actor="test",
            jurisdiction=jurisdiction,
            subject_external_id="cust-1",
            received_at=timezone.now() - timedelta(days=received_days_ago) if received_days_ago else None,
            requester=services.Requester(email=EMAIL, name="Ada Lovelace"),
        )
        # Inside the test's transaction the after-commit auto-wiring never runs: the request waits as created.
        if status in ("verified", "in_progress", "awaiting_review"):
            services.dsar_identity_verify(request=request, actor="legal", note="passport checked")
        if status in ("in_progress", "awaiting_review"):
            services.dsar_fulfil_start(request=request, actor="legal")
        if status == "awaiting_review":
            services.dsar_transition(request=request, to_status="awaiting_review", actor="task", reason="review")
        if status == "rejected":
            services.dsar_transition(request=request, to_status="rejected", actor="legal", reason="unfounded")
        assert request.status == status
        return request

    return make


def url(request: DataSubjectRequest, action: str) -> str:
    return f"/api/v1/dsar/{request.public_id}/{action}"


def snapshot(request: DataSubjectRequest) -> tuple[Any, ...]:
    request.refresh_from_db()
    return (
        request.status,
        request.is_extended,
        request.due_on,
        request.rejection_reason,
        RequestTransition.objects.count(),
        AuditLogEntry.objects.count(),
        FulfilmentStep.objects.count(),
    )


def last_step(request: DataSubjectRequest) -> RequestTransition:
    return RequestTransition.objects.filter(request=request).order_by("-at", "-id").first()  # type: ignore[return-value]


def audit_actions(request: DataSubjectRequest, actor: str) -> list[str]:
    return list(
        AuditLogEntry.objects.filter(object_type="dsar", object_id=request.public_id, actor=actor)
        .order_by("id")
        .values_list("action", flat=True)
    )


# --- verify ----------------------------------------------------------------------------------------------------


def test_verify_by_hand_moves_the_request_to_verified_with_the_key_as_actor(
    client: APIClient, actor: str, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request()

    response = client.post(url(request, "verify"), {"note": "passport checked by phone"}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == request.public_id
    assert body["status"] == "verified"
    step = body["history"][-1]
    assert (step["actor"], step["from_status"], step["to_status"], step["reason"]) == (
        actor,
        "received",
        "verified",
        "passport checked by phone",
    )
    assert (last_step(request).actor, last_step(request).to_status) == (actor, "verified")
    assert audit_actions(request, actor) == ["dsar.transitioned", "dsar.verified"]
    assert AuditLogEntry.objects.get(action="dsar.verified", object_id=request.public_id).data == {"method": "manual"}


def test_verify_of_a_request_verified_already_answers_it_and_writes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request(status="verified")
    before = snapshot(request)

    response = client.post(url(request, "verify"), {"note": "checked again", "method": "manual"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "verified"
    assert snapshot(request) == before


def test_verify_of_a_rejected_request_is_409_request_closed_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request(status="rejected")
    before = snapshot(request)

    response = client.post(url(request, "verify"), {"note": "passport checked"}, format="json")

    assert_problem(response, 409, "request-closed")
    assert snapshot(request) == before


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [({}, "/note"), ({"note": ""}, "/note"), ({"note": "ok", "method": "link"}, "/method"), ({"note": 1}, "/note")],
)
def test_verify_needs_a_note_and_only_the_manual_method(
    client: APIClient, make_request: Callable[..., DataSubjectRequest], payload: dict[str, Any], pointer: str
) -> None:
    request = make_request()
    before = snapshot(request)

    response = client.post(url(request, "verify"), payload, format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {pointer}
    assert snapshot(request) == before


# --- fulfil ----------------------------------------------------------------------------------------------------


def test_fulfil_of_a_verified_access_request_enqueues_the_run_only_after_commit(
    client: APIClient,
    actor: str,
    make_request: Callable[..., DataSubjectRequest],
    django_capture_on_commit_callbacks: Any,
    inline_tasks: None,
) -> None:
    request = make_request(status="verified")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url(request, "fulfil"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "in_progress"
    assert (body["history"][-1]["actor"], body["history"][-1]["to_status"]) == (actor, "in_progress")
    assert audit_actions(request, actor) == ["dsar.transitioned", "dsar.fulfilment_started"]
    # Before the commit nothing ran: the steps wait.
    steps = FulfilmentStep.objects.filter(request=request).order_by("position")
    assert list(steps.values_list("step", "status")) == [("export", "pending"), ("review", "pending")]
    assert len(callbacks) == 1

    callbacks[0]()  # the commit: the task is sent (Celery runs it inline here)

    assert list(steps.values_list("step", "status")) == [("export", "done"), ("review", "done")]
    request.refresh_from_db()
    assert request.status == "awaiting_review"


def test_fulfil_of_an_unverified_access_request_is_409_not_ready_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = make_request()
    before = snapshot(request)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url(request, "fulfil"), {}, format="json")

    body = assert_problem(response, 409, "fulfilment-not-ready")
    assert body["status_now"] == "received"
    assert callbacks == []
    assert snapshot(request) == before


def test_fulfil_of_an_opt_out_starts_without_verification(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request("opt_out_of_sale", jurisdiction="US-CA")

    response = client.post(url(request, "fulfil"))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "in_progress"


# --- extend ----------------------------------------------------------------------------------------------------


def test_extend_moves_the_due_date_and_records_the_extension(
    client: APIClient, actor: str, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request()
    today = request_today(request).isoformat()

    response = client.post(
        url(request, "extend"), {"reason_code": "complexity", "notice_sent_on": today}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "received"
    assert body["extension"] == {"reason_code": "complexity", "notice_sent_on": today}
    assert body["due_on"] == body["deadlines"]["extended_due"] > request.due_on.isoformat()
    step = body["history"][-1]
    assert (step["actor"], step["from_status"], step["to_status"]) == (actor, "received", "received")
    assert audit_actions(request, actor) == ["dsar.extended"]


def test_extension_notice_sent_too_late_is_409_with_the_due_date_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request(received_days_ago=40)
    before = snapshot(request)

    response = client.post(
        url(request, "extend"),
        {"reason_code": "volume", "notice_sent_on": request_today(request).isoformat()},
        format="json",
    )

    body = assert_problem(response, 409, "extension-notice-late")
    assert body["code"] == "EXTENSION_NOTICE_LATE"
    assert body["due"] == request.deadlines["extension_notice_due"]
    assert snapshot(request) == before


def test_second_extension_is_409_already_extended_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request()
    today = request_today(request).isoformat()
    first = client.post(url(request, "extend"), {"reason_code": "complexity", "notice_sent_on": today}, format="json")
    assert first.status_code == 200, first.content
    before = snapshot(request)

    response = client.post(url(request, "extend"), {"reason_code": "volume", "notice_sent_on": today}, format="json")

    assert_problem(response, 409, "already-extended")
    assert snapshot(request) == before


def test_extension_of_an_opt_out_is_422_not_available_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request("opt_out_of_sale", jurisdiction="US-CA")
    before = snapshot(request)

    response = client.post(
        url(request, "extend"),
        {"reason_code": "volume", "notice_sent_on": request_today(request).isoformat()},
        format="json",
    )

    assert_problem(response, 422, "extension-not-available")
    assert snapshot(request) == before


# --- transitions -----------------------------------------------------------------------------------------------


def test_approve_after_review_completes_the_request(
    client: APIClient, actor: str, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request(status="awaiting_review")

    response = client.post(
        url(request, "transitions"),
        {"to_status": "completed", "reason": "export sent", "expected_status": "awaiting_review"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed"
    step = body["history"][-1]
    assert (step["actor"], step["from_status"], step["to_status"], step["reason"]) == (
        actor,
        "awaiting_review",
        "completed",
        "export sent",
    )
    assert audit_actions(request, actor) == ["dsar.transitioned"]


def test_reject_with_a_reason_records_it_and_tells_the_requester_after_commit(
    client: APIClient,
    actor: str,
    make_request: Callable[..., DataSubjectRequest],
    django_capture_on_commit_callbacks: Any,
) -> None:
    request = make_request(status="verified")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(request, "transitions"), {"to_status": "rejected", "reason": "Manifestly unfounded."}, format="json"
        )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "rejected"
    assert body["rejection_reason"].startswith("Manifestly unfounded.")
    assert body["history"][-1]["actor"] == actor
    assert audit_actions(request, actor) == ["dsar.transitioned"]
    assert [message.to for message in mail.outbox] == [[EMAIL]]


def test_back_to_in_progress_from_awaiting_review(
    client: APIClient, actor: str, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request(status="awaiting_review")

    response = client.post(
        url(request, "transitions"), {"to_status": "in_progress", "reason": "redact page 3"}, format="json"
    )

    assert response.status_code == 200, response.content
    step = response.json()["history"][-1]
    assert (step["actor"], step["from_status"], step["to_status"]) == (actor, "awaiting_review", "in_progress")


@pytest.mark.parametrize(("status", "to_status"), [("received", "completed"), ("rejected", "completed")])
def test_illegal_transition_is_409_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest], status: str, to_status: str
) -> None:
    request = make_request(status=status)
    before = snapshot(request)

    response = client.post(url(request, "transitions"), {"to_status": to_status}, format="json")

    body = assert_problem(response, 409, "illegal-transition")
    assert (body["from_status"], body["to_status"]) == (status, to_status)
    assert snapshot(request) == before


def test_in_progress_by_hand_from_verified_is_refused_in_favour_of_fulfil(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request(status="verified")
    before = snapshot(request)

    response = client.post(url(request, "transitions"), {"to_status": "in_progress"}, format="json")

    body = assert_problem(response, 409, "illegal-transition")
    assert "/fulfil" in body["detail"]
    assert snapshot(request) == before


def test_expected_status_mismatch_is_409_status_changed_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request(status="awaiting_review")
    before = snapshot(request)

    response = client.post(
        url(request, "transitions"),
        {"to_status": "rejected", "reason": "Manifestly unfounded.", "expected_status": "in_progress"},
        format="json",
    )

    body = assert_problem(response, 409, "status-changed")
    assert (body["expected_status"], body["status_now"]) == ("in_progress", "awaiting_review")
    assert snapshot(request) == before


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "   "}])
def test_reject_without_a_reason_is_422_and_changes_nothing(
    client: APIClient, make_request: Callable[..., DataSubjectRequest], payload: dict[str, Any]
) -> None:
    request = make_request()
    before = snapshot(request)

    response = client.post(url(request, "transitions"), {"to_status": "rejected", **payload}, format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/reason"}
    assert snapshot(request) == before


@pytest.mark.parametrize("to_status", ["received", "identity_pending", "verified", "awaiting_review", "closed"])
def test_statuses_only_the_system_sets_are_refused_with_422(
    client: APIClient, make_request: Callable[..., DataSubjectRequest], to_status: str
) -> None:
    request = make_request()
    before = snapshot(request)

    response = client.post(url(request, "transitions"), {"to_status": to_status}, format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/to_status"}
    assert snapshot(request) == before


# --- permissions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "payload"), WORKFLOW_CALLS, ids=[action for action, _ in WORKFLOW_CALLS])
def test_denied_calls_change_nothing(
    make_request: Callable[..., DataSubjectRequest],
    organization: Organization,
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
    action: str,
    payload: dict[str, Any],
) -> None:
    request = make_request(status="verified")
    reader = api_client_for(organization, "dsar:read")
    other = api_client_for(other_organization, "dsar:read", "dsar:write")
    before = snapshot(request)

    no_key = APIClient().post(url(request, action), payload, format="json")
    read_only = reader.post(url(request, action), payload, format="json")
    stranger = other.post(url(request, action), payload, format="json")

    assert_problem(no_key, 401, "unauthenticated")
    assert assert_problem(read_only, 403, "insufficient-scope")["required_scope"] == "dsar:write"
    assert_problem(stranger, 404, "not-found")
    assert request.public_id not in stranger.content.decode()
    assert snapshot(request) == before
