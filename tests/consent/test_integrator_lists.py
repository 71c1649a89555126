"""Issue #17: every collection in the one envelope: each list shows its own organization's rows and none of
another's, walks page by page through `next` reading each row once, reads a page in a fixed number of queries
(no query per row), and refuses a bad filter with a 422 that points at it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.models import Organization
from provenance.enums import AlertKind
from provenance.services.alerts import provenance_alert_open
from tests.consent.api_contract import (
    DSAR_READ,
    PROVENANCE_READ,
    READ,
    STAMP,
    World,
    assert_problem,
    pointers,
    seed_world,
    stamp_body,
)

LISTS = [
    ("subjects", READ),
    ("consent-states", READ),
    ("sources", READ),
    ("recipients", PROVENANCE_READ),
    ("stamps", PROVENANCE_READ),
    ("deliveries", "deliver"),
    ("provenance/alerts", PROVENANCE_READ),
    ("dsar", DSAR_READ),
    ("audit-log", "audit:read"),
]


@pytest.fixture
def world(organization: Organization, source: Any, purpose: Any, api_client_for: Callable[..., APIClient]) -> World:
    world = seed_world(organization, source, purpose)
    stamper = api_client_for(organization, STAMP, "deliver")
    for subject_id in ("cust-1", "cust-2"):
        assert stamper.post("/api/v1/stamps", stamp_body(subject_id=subject_id), format="json").status_code == 200
    assert stamper.post("/api/v1/deliveries", stamp_body(subject_id="cust-2"), format="json").status_code == 202
    for n in range(2):
        provenance_alert_open(
            organization_id=organization.pk,
            kind=AlertKind.VALIDATION,
            subject_external_id=f"cust-{n}",
            failures=[{"field": "source", "problem": "missing", "detail": "no source"}],
        )
    return world


@pytest.mark.parametrize(("path", "scope"), LISTS, ids=[path for path, _ in LISTS])
def test_each_list_pages_through_its_own_rows_once_in_bounded_queries_and_shows_another_organization_none(
    world: World,
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
    path: str,
    scope: str,
) -> None:
    client = api_client_for(world.organization, scope)
    whole = client.get(f"/api/v1/{path}?limit=500").json()
    seen: list[Any] = []
    url: str | None = f"/api/v1/{path}?limit=1"
    with CaptureQueriesContext(connection) as one_page:
        first = client.get(url)
    while url:
        body = client.get(url).json()
        seen += body["results"]
        url = body["next"]
    with CaptureQueriesContext(connection) as all_in_one:
        client.get(f"/api/v1/{path}?limit=500")
    foreign = api_client_for(other_organization, scope).get(f"/api/v1/{path}").json()

    assert first.status_code == 200
    assert whole["results"]
    assert seen == whole["results"]
    assert len(all_in_one.captured_queries) <= len(one_page.captured_queries) + 1  # a prefetch at most, not a row's
    assert not [item for item in foreign["results"] if item in whole["results"]]


@pytest.mark.parametrize(
    ("url", "pointer"),
    [
        ("/api/v1/dsar?status=lost", "?status"),
        ("/api/v1/dsar?type=everything", "?type"),
        ("/api/v1/dsar?regime=nowhere", "?regime"),
        ("/api/v1/dsar?due_before=2026-02-30", "?due_before"),
        ("/api/v1/dsar?overdue=yes", "?overdue"),
        ("/api/v1/stamps?decision=maybe", "?decision"),
        ("/api/v1/stamps?reason=BECAUSE", "?reason"),
        ("/api/v1/stamps?recipient=nobody", "?recipient"),
        ("/api/v1/stamps?since=soon", "?since"),
        ("/api/v1/deliveries?status=lost", "?status"),
        ("/api/v1/provenance/alerts?kind=other", "?kind"),
        ("/api/v1/audit-log?action=nothing.done", "?action"),
        ("/api/v1/subjects?jurisdiction=Germany", "?jurisdiction"),
        ("/api/v1/subjects?updated_since=2026-01-01", "?updated_since"),
        ("/api/v1/recipients?limit=1000", "?limit"),
        # A misspelt filter never widens a list silently.
        ("/api/v1/subjects?updated_sinse=2026-01-01T00:00:00Z", "?updated_sinse"),
        ("/api/v1/consent-states?state=granted", "?state"),
        ("/api/v1/consent-events?cursor=x", "?cursor"),
        ("/api/v1/consent-events/export?purposes=analytics", "?purposes"),
        ("/api/v1/dsar?assigned_to=alice", "?assigned_to"),
        ("/api/v1/subjects/cust-1/consent-events?page=2", "?page"),
    ],
)
def test_a_bad_filter_answers_422_pointing_at_it(
    organization: Organization, api_client_for: Callable[..., APIClient], url: str, pointer: str
) -> None:
    client = api_client_for(organization, READ, PROVENANCE_READ, DSAR_READ, "deliver", "audit:read")

    assert pointers(assert_problem(client.get(url), 422, "validation-error")) == {pointer}


def test_filters_narrow_the_lists(world: World, api_client_for: Callable[..., APIClient]) -> None:
    client = api_client_for(world.organization, PROVENANCE_READ, DSAR_READ, "audit:read", "deliver")

    received = client.get("/api/v1/dsar?status=received&type=access&regime=gdpr").json()["results"]
    overdue = client.get("/api/v1/dsar?overdue=true").json()["results"]
    allowed = client.get(f"/api/v1/stamps?recipient={world.recipient_key}&decision=allow").json()["results"]
    blocked = client.get("/api/v1/stamps?reason=CONSENT_WITHDRAWN").json()["results"]
    created = client.get("/api/v1/audit-log?action=dsar.received").json()["results"]

    assert [r["id"] for r in received] == [world.dsar_id]
    assert overdue == []
    assert {s["subject_id"] for s in allowed} == {"cust-1"}
    assert blocked == []
    assert len(created) == 2
