"""POST /api/v1/deadlines/compute: the what-if calculator answers exactly what the engine computes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.models import Organization
from dsar.deadlines import ClockEvent, ExtensionNotice, compute_deadlines
from tests.consent.api_contract import assert_problem, deadline_compute_body, pointers, row_counts

URL = "/api/v1/deadlines/compute"


@pytest.fixture
def client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "dsar:read")


def test_gdpr_case_with_an_identity_pause_and_an_extension_matches_the_engine(client: APIClient) -> None:
    body = deadline_compute_body(
        events=[{"type": "id_requested", "date": "2026-01-16"}, {"type": "id_received", "date": "2026-01-20"}],
        extension={"notice_sent_on": "2026-02-10", "reason_code": "complexity"},
        as_of="2026-03-01",
    )
    before = row_counts()

    response = client.post(URL, body, format="json")

    assert response.status_code == 200, response.content
    expected = compute_deadlines(
        regime="gdpr",
        request_type="access",
        received_at=datetime(2026, 1, 15, 10, tzinfo=UTC),
        tz="Europe/Berlin",
        calendar="EU-DE",
        events=[ClockEvent("id_requested", date(2026, 1, 16)), ClockEvent("id_received", date(2026, 1, 20))],
        extension=ExtensionNotice(date(2026, 2, 10), "complexity"),
        as_of=date(2026, 3, 1),
    )
    assert response.json() == expected.to_dict()
    assert response.json()["paused_days"] == 4
    assert response.json()["enforced_key"] == "extended_due"
    assert row_counts() == before


def test_ccpa_case_defaults_to_the_rule_tables_zone_and_calendar_and_matches_the_engine(client: APIClient) -> None:
    body = {
        "regime": "ccpa",
        "request_type": "deletion",
        "received_at": "2026-03-03T05:30:00Z",  # still 2 March in Los Angeles
        "extension": {"notice_sent_on": "2026-04-01", "reason_code": "volume"},
        "as_of": "2026-04-20",
    }

    response = client.post(URL, body, format="json")

    assert response.status_code == 200, response.content
    expected = compute_deadlines(
        regime="ccpa",
        request_type="deletion",
        received_at=datetime(2026, 3, 3, 5, 30, tzinfo=UTC),
        extension=ExtensionNotice(date(2026, 4, 1), "volume"),
        as_of=date(2026, 4, 20),
    )
    answer = response.json()
    assert answer == expected.to_dict()
    assert (answer["time_zone"], answer["calendar"], answer["receipt_date"]) == (
        "America/Los_Angeles",
        "US-FED",
        "2026-03-02",
    )
    assert answer["enforced_due"] == answer["extended_due"] == answer["max_extended_due"]
    assert answer["status"] == "open"


def test_a_late_extension_notice_is_409_with_the_due_date(client: APIClient) -> None:
    body = deadline_compute_body(extension={"notice_sent_on": "2026-03-01", "reason_code": "complexity"})

    response = client.post(URL, body, format="json")

    problem = assert_problem(response, 409, "extension-notice-late")
    expected = compute_deadlines(
        regime="gdpr",
        request_type="access",
        received_at=datetime(2026, 1, 15, 10, tzinfo=UTC),
        tz="Europe/Berlin",
        calendar="EU-DE",
    )
    assert expected.extension_notice_due is not None
    assert problem["code"] == "EXTENSION_NOTICE_LATE"
    assert problem["due"] == expected.extension_notice_due.isoformat()


@pytest.mark.parametrize(
    ("overrides", "slug", "pointer"),
    [
        ({"regime": "martian"}, "validation-error", "/regime"),
        ({"regime": "none"}, "validation-error", "/regime"),
        ({"request_type": "erase"}, "validation-error", "/request_type"),
        ({"received_at": "2026-01-15T10:00:00"}, "validation-error", "/received_at"),
        ({"received_at": 1700000000}, "validation-error", "/received_at"),
        ({"as_of": 20260101}, "validation-error", "/as_of"),
        ({"events": {"type": "id_requested"}}, "validation-error", "/events"),
        ({"events": [{"type": "lunch", "date": "2026-01-16"}]}, "validation-error", "/events/0/type"),
        ({"events": [{"type": "id_requested", "date": "16.01.2026"}]}, "validation-error", "/events/0/date"),
        ({"extension": {"notice_sent_on": "2026-01-20", "reason_code": "busy"}}, "validation-error", None),
        ({"deadline": "soon"}, "validation-error", "/deadline"),
        ({"tz": "Mars/Olympus_Mons"}, "deadline-input-invalid", None),
        ({"tz": "/etc/passwd"}, "deadline-input-invalid", None),
        ({"calendar": "XX-NOWHERE"}, "deadline-input-invalid", None),
        ({"tz": None, "calendar": None}, "deadline-input-invalid", None),  # GDPR needs the controller's (A1)
        ({"events": [{"type": "id_requested", "date": "2026-01-01"}]}, "deadline-input-invalid", None),
        ({"extension": {"notice_sent_on": "2026-01-01", "reason_code": "volume"}}, "deadline-input-invalid", None),
        (
            {
                "regime": "ccpa",
                "request_type": "opt_out_of_sale",
                "tz": None,
                "calendar": None,
                "extension": {"notice_sent_on": "2026-01-20", "reason_code": "volume"},
            },
            "extension-not-available",
            None,
        ),
    ],
)
def test_bad_input_is_422_never_500(
    client: APIClient, overrides: dict[str, Any], slug: str, pointer: str | None
) -> None:
    response = client.post(URL, deadline_compute_body(**overrides), format="json")

    problem = assert_problem(response, 422, slug)
    if pointer is not None:
        assert pointer in pointers(problem), problem


def test_a_body_that_is_not_an_object_is_422(client: APIClient) -> None:
    assert_problem(client.post(URL, [1, 2], format="json"), 422, "validation-error")


def test_the_calculator_needs_the_read_scope(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    writer = api_client_for(organization, "dsar:write")

    problem = assert_problem(writer.post(URL, deadline_compute_body(), format="json"), 403, "insufficient-scope")

    assert problem["required_scope"] == "dsar:read"
