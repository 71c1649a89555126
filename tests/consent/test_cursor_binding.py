"""List and feed cursors are bound to the organization that read them and to the filters they were read with: under
another organization's key, or with other filters, a valid cursor is the 422 of a forged one (pointer `?after`) and
changes nothing; with the same key and filters it reads on. For the lists, the change feed, its export and the
`export_consents` command."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core import signing
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source
from consent.selectors import FEED_CURSOR_KIND
from core.cursors import cursor_binding, decode_cursor, encode_cursor
from core.models import Organization
from core.problems import InvalidInput
from dsar import services as dsar_services
from tests.conftest import event_input
from tests.consent.api_contract import DSAR_READ, READ, assert_problem, pointers, row_counts

SCOPES = (READ, DSAR_READ)


def record(organization: Organization, subject_id: str, **overrides: Any) -> None:
    consent_services.consent_record(organization=organization, item=event_input(subject_id=subject_id, **overrides))


def assert_refused_cursor(response: Any) -> None:
    body = assert_problem(response, 422)
    assert pointers(body) == {"?after"}
    assert "same filters" in body["detail"]


@pytest.fixture
def acme(organization: Organization, source: Source, purpose: Purpose) -> Organization:
    """Acme with consent events for four subjects (two in DE, two in FR) and three access requests."""
    consent_services.purpose_create(organization=organization, actor="test", key="analytics", name="Analytics")
    for n in range(4):
        record(organization, f"cust-{n}", jurisdiction="DE" if n % 2 == 0 else "FR")
        record(organization, f"cust-{n}", purpose="analytics")
    for _ in range(3):
        dsar_services.dsar_create(
            organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE"
        )
    return organization


@pytest.fixture
def globex(other_organization: Organization) -> Organization:
    """Another tenant that has purposes of the same keys, so a filter by key is valid for it too."""
    for key in ("marketing-email", "analytics"):
        consent_services.purpose_create(organization=other_organization, actor="test", key=key, name=key)
    return other_organization


# (list, the filters the first page is read with, other filters, and what page two holds under the first ones)
LISTS = [
    ("subjects", "jurisdiction=DE", "jurisdiction=FR", lambda body: [item["subject_id"] for item in body]),
    (
        "consent-states",
        "purpose=marketing-email&status=given",
        "purpose=analytics&status=given",
        lambda body: [(item["subject_id"], item["purpose"]) for item in body],
    ),
    ("dsar", "type=access&status=received", "type=access", lambda body: [item["id"] for item in body]),
]


@pytest.mark.parametrize(("path", "filters", "other_filters", "keys"), LISTS, ids=[row[0] for row in LISTS])
def test_a_list_cursor_reads_on_only_with_its_organization_and_its_filters(
    acme: Organization,
    globex: Organization,
    api_client_for: Callable[..., APIClient],
    path: str,
    filters: str,
    other_filters: str,
    keys: Callable[[list[dict[str, Any]]], list[Any]],
) -> None:
    reader, stranger = api_client_for(acme, *SCOPES), api_client_for(globex, *SCOPES)
    whole = reader.get(f"/api/v1/{path}?{filters}&limit=500").json()["results"]
    first = reader.get(f"/api/v1/{path}?{filters}&limit=1").json()
    cursor = first["cursor"]
    before = row_counts()

    foreign = stranger.get(f"/api/v1/{path}?{filters}&limit=1&after={cursor}")
    changed = reader.get(f"/api/v1/{path}?{other_filters}&limit=1&after={cursor}")
    dropped = reader.get(f"/api/v1/{path}?limit=1&after={cursor}")
    after_refusals = row_counts()
    # The same filters in another order, and another page size, read on.
    reordered = "&".join(reversed(filters.split("&")))
    continued = reader.get(f"/api/v1/{path}?limit=500&{reordered}&after={cursor}")

    assert len(whole) >= 2
    assert keys(first["results"]) == keys(whole[:1])
    assert_refused_cursor(foreign)
    assert_refused_cursor(changed)
    assert_refused_cursor(dropped)
    assert after_refusals == before
    assert continued.status_code == 200, continued.content[:300]
    assert keys(continued.json()["results"]) == keys(whole[1:])
    assert first["next"] is not None
    assert reader.get(first["next"]).status_code == 200  # `next` repeats the filters: it always reads on


def test_a_cursor_of_the_old_unbound_format_is_refused_like_a_forged_one(
    acme: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    reader = api_client_for(acme, READ)
    first_id = reader.get("/api/v1/subjects?limit=1").json()["results"]
    unbound = encode_cursor("subjects", [1])

    assert first_id
    assert_refused_cursor(reader.get(f"/api/v1/subjects?after={unbound}"))
    assert_refused_cursor(reader.get("/api/v1/subjects?after=not-a-cursor"))


# The feed reads what has committed: these tests commit.
@pytest.mark.django_db(transaction=True)
def test_a_feed_cursor_reads_on_only_with_its_organization_and_its_purpose(
    acme: Organization, globex: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    reader, stranger = api_client_for(acme, READ), api_client_for(globex, READ)
    first = reader.get("/api/v1/consent-events?purpose=marketing-email&limit=1").json()
    cursor = first["cursor"]
    before = row_counts()

    foreign = stranger.get(f"/api/v1/consent-events?purpose=marketing-email&after={cursor}")
    other_purpose = reader.get(f"/api/v1/consent-events?purpose=analytics&after={cursor}")
    every_purpose = reader.get(f"/api/v1/consent-events?after={cursor}")
    after_refusals = row_counts()
    # `limit` and `wait` do not shape the feed: a cursor reads on with other values of them.
    continued = reader.get(f"/api/v1/consent-events?limit=500&wait=0&purpose=marketing-email&after={cursor}")

    assert [event["subject_id"] for event in first["results"]] == ["cust-0"]
    assert_refused_cursor(foreign)
    assert_refused_cursor(other_purpose)
    assert_refused_cursor(every_purpose)
    assert after_refusals == before
    assert continued.status_code == 200
    events = continued.json()["results"]
    assert [event["subject_id"] for event in events] == ["cust-1", "cust-2", "cust-3"]
    assert {event["purpose"] for event in events} == {"marketing-email"}


def export_lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    return [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]


@pytest.mark.django_db(transaction=True)
def test_an_export_cursor_reads_on_only_with_its_organization_and_its_purpose(
    acme: Organization, globex: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    reader, stranger = api_client_for(acme, READ), api_client_for(globex, READ)
    feed_cursor = reader.get("/api/v1/consent-events?limit=3").json()["cursor"]
    before = row_counts()

    foreign = stranger.get(f"/api/v1/consent-events/export?after={feed_cursor}")
    filtered = reader.get(f"/api/v1/consent-events/export?purpose=analytics&after={feed_cursor}")
    after_refusals = row_counts()
    header, *events = export_lines(reader.get(f"/api/v1/consent-events/export?after={feed_cursor}"))
    # The export's own cursor reads on in the feed under the same filters, and nowhere else.
    caught_up = reader.get(f"/api/v1/consent-events?after={header['cursor']}")
    elsewhere = stranger.get(f"/api/v1/consent-events?after={header['cursor']}")

    assert_refused_cursor(foreign)
    assert_refused_cursor(filtered)
    assert after_refusals == before
    assert len(events) == 8 - 3
    assert caught_up.status_code == 200
    assert caught_up.json()["results"] == []
    assert_refused_cursor(elsewhere)


@pytest.mark.django_db(transaction=True)
def test_the_export_command_takes_a_cursor_only_of_its_organization_and_its_purpose(
    acme: Organization, globex: Organization, api_client_for: Callable[..., APIClient], tmp_path: Any
) -> None:
    reader = api_client_for(acme, READ)
    cursor = reader.get("/api/v1/consent-events?purpose=analytics&limit=2").json()["cursor"]

    def export(*args: str) -> list[dict[str, Any]]:
        out = io.StringIO()
        call_command("export_consents", *args, stdout=out)
        return [json.loads(line) for line in out.getvalue().splitlines()]

    with pytest.raises(CommandError, match="same filters"):
        export("--organization", globex.slug, "--purpose", "analytics", "--since", cursor)
    with pytest.raises(CommandError, match="same filters"):
        export("--organization", acme.slug, "--since", cursor)
    with pytest.raises(CommandError, match="same filters"):
        export("--organization", acme.slug, "--purpose", "marketing-email", "--since", cursor)
    header, *events = export("--organization", acme.slug, "--purpose", "analytics", "--since", cursor)
    # The command's cursor reads on in the API's feed under the same organization and purpose.
    in_feed = reader.get(f"/api/v1/consent-events?purpose=analytics&after={header['cursor']}")
    without_purpose = reader.get(f"/api/v1/consent-events?after={header['cursor']}")

    assert [(event["subject"], event["purpose"]) for event in events] == [
        (event["subject"], "analytics") for event in events
    ]
    assert len(events) == 2
    assert in_feed.status_code == 200
    assert in_feed.json()["results"] == []
    assert_refused_cursor(without_purpose)


def test_a_binding_names_the_organization_and_every_filter_value(db: Any) -> None:
    base = cursor_binding(1, [("purpose", "a"), ("status", "granted")])

    assert cursor_binding(1, [("status", "granted"), ("purpose", "a")]) == base  # across names, order is free
    assert cursor_binding(2, [("purpose", "a"), ("status", "granted")]) != base
    assert cursor_binding(1, [("purpose", "a")]) != base
    assert cursor_binding(1, [("purpose", "a"), ("status", "granted"), ("status", "granted")]) != base
    assert cursor_binding(1, [("k", "a"), ("k", "b")]) != cursor_binding(1, [("k", "b"), ("k", "a")])
    cursor = encode_cursor(FEED_CURSOR_KIND, {"s": None}, binding=base)
    assert decode_cursor(cursor, FEED_CURSOR_KIND, binding=base) == {"s": None}
    for binding in (None, cursor_binding(2, [])):
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, FEED_CURSOR_KIND, binding=binding)


def test_a_cursor_carries_its_list_its_position_and_a_digest_only(
    acme: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    """The organization's id and the filter values are not in the cursor, only a keyed digest of them."""
    cursor = api_client_for(acme, READ).get("/api/v1/subjects?jurisdiction=DE&limit=1").json()["cursor"]

    payload = signing.loads(cursor, salt="provenant.api.cursor")

    assert set(payload) == {"k", "p", "b"}
    assert payload["k"] == "subjects"
    assert payload["b"] == cursor_binding(acme.pk, [("jurisdiction", "DE")])
    assert len(payload["b"]) == 22  # 128 bits, base64
    assert "DE" not in json.dumps(payload)
