"""The typed API client against a live Provenant: idempotent replays, cursor paging, typed problems that
changed nothing."""

from __future__ import annotations

import pytest
from provenant_client import (
    AuthenticationError,
    NotFound,
    PermissionDenied,
    ProvenantClient,
    StampRequest,
    ValidationError,
)
from provenant_client.errors import PROBLEM_BASE

from core.models import Organization
from core.services import api_key_create
from tests.client.conftest import FAST_RETRY, LiveProvenant
from tests.conftest import event_body

pytestmark = pytest.mark.integration


def test_replays_record_once_and_history_pages_follow_the_cursor(provenant: LiveProvenant) -> None:
    body = event_body()
    with provenant.client() as client:
        first = client.request("POST", "/api/v1/consent-events", json=body, idempotency_key="k-1")
        replay = client.request("POST", "/api/v1/consent-events", json=body, idempotency_key="k-1")
        for action in ["withdraw", "grant"]:
            client.create_consent_event(event_body(action=action))
        bulk = client.bulk_consent_events([event_body(subject_id="cust-5"), event_body(subject_id="cust-6")])
        events = list(client.paginate("/api/v1/subjects/cust-1/consent-events", {"limit": 2}))
        history = list(client.subject_history("cust-1"))
        sources = list(client.sources())
        recipients = list(client.recipients())
        state = client.subject_consent("cust-1", purpose="marketing-email")

    assert first.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["event_id"] == first.json()["event_id"]
    assert bulk["created"] == 2
    assert [event["action"] for event in events] == ["grant", "withdraw", "grant"]  # recorded once, in 2 pages
    assert [event["event_id"] for event in history] == [event["event_id"] for event in events]
    assert "web-signup" in {source["key"] for source in sources}  # beside the built-in sources
    assert [recipient["key"] for recipient in recipients] == ["crm"]
    assert state["purposes"][0]["status"] == "renewed"  # granted again after the withdrawal


def test_problems_raise_typed_exceptions_and_change_nothing(provenant: LiveProvenant) -> None:
    organization = Organization.objects.get(slug="acme")
    _, read_only = api_key_create(organization=organization, name="reader", scopes=["consent:read"], actor="test")
    with provenant.client() as client:
        with pytest.raises(ValidationError) as invalid:
            client.create_consent_event(event_body(source="no-such-source"))
        with pytest.raises(NotFound) as missing:
            client.get_dsar("01J0000000000000000000000Z")
    with ProvenantClient(provenant.url, read_only, retry=FAST_RETRY) as reader:
        with pytest.raises(PermissionDenied) as denied:
            reader.create_consent_event(event_body())
        with pytest.raises(NotFound):  # neither refused write created the subject
            list(reader.subject_history("cust-1"))
    with (
        ProvenantClient(provenant.url, "not-a-key", retry=FAST_RETRY) as stranger,
        pytest.raises(AuthenticationError) as unauthenticated,
    ):
        stranger.stamp(StampRequest(recipient="crm", subject_id="cust-1", purpose="marketing-email", data={}))

    problem = invalid.value
    assert problem.status == 422
    assert problem.type == PROBLEM_BASE + "unknown-source"
    assert problem.title
    assert problem.detail
    assert any(error.get("pointer") == "/source" for error in problem.errors), problem.errors
    assert missing.value.slug == "not-found"
    assert denied.value.slug == "insufficient-scope"
    assert unauthenticated.value.status == 401
