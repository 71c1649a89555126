"""Dates near year 1 or 9999 are refused with a clear 4xx (security audit item 9): before, they overflowed the
deadline engine's arithmetic into a 500. Every accepted date lies between 1970-01-01 and 2200-12-31."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.models import Organization
from core.problems import InvalidInput
from dsar import services
from dsar.deadlines import ClockEvent, DeadlineError, ExtensionNotice, compute_deadlines
from dsar.models import DataSubjectRequest
from tests.consent.api_contract import assert_problem, deadline_compute_body, pointers, row_counts

COMPUTE = "/api/v1/deadlines/compute"
FAR_DATES = ("0001-01-01", "9999-12-31")


@pytest.fixture
def reader(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    client = api_client_for(organization, "dsar:read", "dsar:write")
    client.raise_request_exception = False  # a 500 is an answer here, not a test crash
    return client


@pytest.mark.parametrize("day", FAR_DATES)
@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        (lambda day: {"received_at": f"{day}T00:00:00Z"}, "/received_at"),
        (lambda day: {"as_of": day}, "/as_of"),
        (lambda day: {"events": [{"type": "id_requested", "date": day}]}, "/events/0/date"),
        (lambda day: {"extension": {"notice_sent_on": day, "reason_code": "complexity"}}, "/extension/notice_sent_on"),
    ],
    ids=["received_at", "as_of", "event", "extension"],
)
def test_deadline_compute_refuses_dates_near_year_1_or_9999(
    reader: APIClient, day: str, overrides: Callable[[str], dict[str, Any]], pointer: str
) -> None:
    before = row_counts()

    response = reader.post(COMPUTE, deadline_compute_body(**overrides(day)), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointer in pointers(body)
    assert "between 1970-01-01 and 2200-12-31" in str(body["errors"])
    assert row_counts() == before


def test_deadline_compute_still_answers_at_the_edges_of_the_accepted_range(reader: APIClient) -> None:
    late = reader.post(COMPUTE, deadline_compute_body(received_at="2200-12-31T10:00:00Z"), format="json")
    early = reader.post(
        COMPUTE, deadline_compute_body(received_at="1970-01-01T10:00:00Z", as_of="2200-12-31"), format="json"
    )

    assert late.status_code == 200, late.content
    assert late.json()["initial_due_unrolled"] == "2201-01-31"
    assert early.status_code == 200, early.content


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z"])
def test_dsar_intake_refuses_a_received_at_outside_the_accepted_range(reader: APIClient, instant: str) -> None:
    before = row_counts()

    response = reader.post(
        "/api/v1/dsar",
        {"type": "access", "jurisdiction": "DE", "channel": "email", "received_at": instant},
        format="json",
    )

    body = assert_problem(response, 422, "validation-error")
    assert "/received_at" in pointers(body)
    assert row_counts() == before
    assert not DataSubjectRequest.objects.exists()


def test_dsar_intake_service_refuses_far_dates_whoever_calls_it(organization: Organization) -> None:
    """The admin's intake form and any other caller reach the same service check."""
    with pytest.raises(InvalidInput) as refused:
        services.dsar_create(
            organization=organization,
            request_type="access",
            channel="mail",
            actor="test",
            jurisdiction="DE",
            received_at=datetime(1, 1, 1, tzinfo=UTC),
        )

    assert refused.value.extra["errors"][0]["pointer"] == "/received_at"
    assert not DataSubjectRequest.objects.exists()


@pytest.mark.parametrize("day", FAR_DATES)
def test_extension_notice_date_near_year_1_or_9999_is_refused(
    organization: Organization, reader: APIClient, day: str
) -> None:
    request = services.dsar_create(
        organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE"
    )

    response = reader.post(
        f"/api/v1/dsar/{request.public_id}/extend",
        {"reason_code": "complexity", "notice_sent_on": day},
        format="json",
    )

    assert_problem(response, 422, "validation-error")
    request.refresh_from_db()
    assert not request.is_extended


@pytest.mark.parametrize(
    "inputs",
    [
        {"received_at": datetime(1, 1, 1, tzinfo=UTC)},
        {"events": [ClockEvent("id_requested", date(9999, 12, 31))]},
        {"extension": ExtensionNotice(date(9999, 12, 31), "complexity")},
        {"as_of": date(9999, 12, 31)},
    ],
    ids=["received_at", "event", "extension", "as_of"],
)
def test_the_engine_itself_refuses_dates_it_cannot_compute_with(inputs: dict[str, Any]) -> None:
    """No ORM: the pure engine raises its own DeadlineError (a 422 wherever it is called), never OverflowError."""
    arguments: dict[str, Any] = {
        "regime": "gdpr",
        "request_type": "access",
        "received_at": datetime(2026, 1, 15, 10, tzinfo=UTC),
        "tz": "Europe/Berlin",
        "calendar": "EU-DE",
        **inputs,
    }

    with pytest.raises(DeadlineError, match="between 1970-01-01 and 2200-12-31"):
        compute_deadlines(**arguments)
