"""Issue #17: subjects and consent states listed in the one envelope, the change feed of consent events (commit
order, each once, a late-committing transaction read when it commits) and its NDJSON export."""

from __future__ import annotations

import io
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from consent import ledger
from consent import services as consent_services
from consent.api.views.lists import LongPollSlots
from consent.models import ConsentEvent, Purpose, Source
from core.models import Organization
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem, pointers

READ = "consent:read"


def record(organization: Organization, subject_id: str, **overrides: Any) -> ConsentEvent:
    return consent_services.consent_record(
        organization=organization, item=event_input(subject_id=subject_id, **overrides)
    ).event


def read_all(client: APIClient, url: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, page by page through `next`; and how many pages it took."""
    items: list[dict[str, Any]] = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        assert set(body) >= {"results", "next", "cursor"}
        if body["next"]:
            assert response["Link"] == f'<{body["next"]}>; rel="next"'
        else:
            assert "Link" not in response
        items += body["results"]
        pages += 1
        url = body["next"]
    return items, pages


@pytest.fixture
def reader(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, READ)


def test_subjects_are_listed_in_pages_of_limit_each_once(
    organization: Organization, source: Source, purpose: Purpose, reader: APIClient
) -> None:
    for n in range(5):
        record(organization, f"cust-{n}", jurisdiction="US-CA" if n % 2 else "DE")

    items, pages = read_all(reader, "http://testserver/api/v1/subjects?limit=2")
    german, _ = read_all(reader, "/api/v1/subjects?jurisdiction=DE")

    assert [item["subject_id"] for item in items] == [f"cust-{n}" for n in range(5)]
    assert pages == 3
    assert [item["subject_id"] for item in german] == ["cust-0", "cust-2", "cust-4"]
    assert items[0]["ledger_length"] == 1


def test_consent_states_filter_by_status_and_read_in_bounded_queries(
    organization: Organization, source: Source, purpose: Purpose, reader: APIClient
) -> None:
    for n in range(6):
        record(organization, f"cust-{n}")
    record(organization, "cust-0", action="withdraw")

    with CaptureQueriesContext(connection) as few:
        reader.get("/api/v1/consent-states?limit=1")
    with CaptureQueriesContext(connection) as many:
        whole = reader.get("/api/v1/consent-states?limit=50").json()
    withdrawn = reader.get("/api/v1/consent-states?status=withdrawn").json()

    assert len(many.captured_queries) == len(few.captured_queries)  # no query per row
    assert len(whole["results"]) == 6
    assert whole["next"] is None
    assert whole["cursor"] is None
    assert [(s["subject_id"], s["status"], s["chain_index"]) for s in withdrawn["results"]] == [
        ("cust-0", "withdrawn", 2)
    ]


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("limit=501", "?limit"),
        ("limit=0", "?limit"),
        ("limit=ten", "?limit"),
        ("after=bm90LWEtY3Vyc29y", "?after"),
        ("status=maybe", "?status"),
        ("purpose=nope", "?purpose"),
        ("changed_since=yesterday", "?changed_since"),
    ],
)
def test_bad_list_parameters_answer_422_with_a_pointer(
    organization: Organization, purpose: Purpose, reader: APIClient, query: str, pointer: str
) -> None:
    body = assert_problem(reader.get(f"/api/v1/consent-states?{query}"), 422, "validation-error")

    assert pointers(body) == {pointer}


def test_an_edited_or_foreign_cursor_is_refused(
    organization: Organization, source: Source, purpose: Purpose, reader: APIClient
) -> None:
    for n in range(3):
        record(organization, f"cust-{n}")
    cursor = reader.get("/api/v1/subjects?limit=1").json()["cursor"]

    edited = reader.get(f"/api/v1/subjects?after={cursor[:-2]}xx")
    foreign = reader.get(f"/api/v1/consent-states?after={cursor}")

    assert pointers(assert_problem(edited, 422)) == {"?after"}
    assert pointers(assert_problem(foreign, 422)) == {"?after"}


@pytest.mark.parametrize("path", ["subjects", "consent-states"])
def test_another_organization_lists_none_of_this_organizations_rows(
    organization: Organization,
    other_organization: Organization,
    source: Source,
    purpose: Purpose,
    api_client_for: Callable[..., APIClient],
    path: str,
) -> None:
    record(organization, "cust-1")

    body = api_client_for(other_organization, READ).get(f"/api/v1/{path}").json()
    own = api_client_for(organization, READ).get(f"/api/v1/{path}").json()

    assert body["results"] == []
    assert len(own["results"]) == 1


# The feed reads what has committed: its tests commit (a test inside one transaction would read nothing new).
@pytest.mark.django_db(transaction=True)
def test_the_feed_reads_every_event_once_in_pages_and_the_export_re_chains(
    organization: Organization,
    other_organization: Organization,
    source: Source,
    purpose: Purpose,
    reader: APIClient,
    api_client_for: Callable[..., APIClient],
    tmp_path: Any,
) -> None:
    for n in range(5):
        record(organization, f"cust-{n}")

    first, pages = read_all(reader, "/api/v1/consent-events?limit=2")
    whole = reader.get("/api/v1/consent-events?limit=500").json()
    caught_up = reader.get(f"/api/v1/consent-events?after={whole['cursor']}").json()
    replayed = reader.get(f"/api/v1/consent-events?after={first_cursor(reader)}").json()
    foreign = api_client_for(other_organization, READ).get("/api/v1/consent-events").json()
    record(organization, "cust-0", action="withdraw")
    check_the_export_re_chains_and_the_command_writes_the_same_lines(reader, tmp_path)

    assert [e["subject_id"] for e in first] == [f"cust-{n}" for n in range(5)]
    assert pages == 3
    assert whole["next"] is None
    assert len(whole["results"]) == 5
    assert caught_up["results"] == []
    assert caught_up["next"] is None
    assert set(first[0]) >= {"subject_id", "purpose", "action", "occurred_at", "recorded_at", "chain_index", "source"}
    assert [e["subject_id"] for e in replayed["results"]] == ["cust-2", "cust-3", "cust-4"]  # a cursor is a position
    assert foreign["results"] == []


def first_cursor(client: APIClient) -> str:
    return str(client.get("/api/v1/consent-events?limit=2").json()["cursor"])


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_started_first_and_commits_last_is_read_once_after_its_commit(
    organization: Organization, source: Source, purpose: Purpose, api_client_for: Callable[..., APIClient]
) -> None:
    reader = api_client_for(organization, READ)
    start = reader.get("/api/v1/consent-events").json()["cursor"]
    recorded, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                record(organization, "started-first")
                recorded.set()
                release.wait(timeout=30)
        except BaseException as exc:
            failures.append(exc)
        finally:
            recorded.set()
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert recorded.wait(timeout=30)
    record(organization, "committed-first")
    while_open = reader.get(f"/api/v1/consent-events?after={start}").json()
    release.set()
    writer.join(timeout=30)
    after_commit = reader.get(f"/api/v1/consent-events?after={while_open['cursor']}").json()
    again = reader.get(f"/api/v1/consent-events?after={after_commit['cursor']}").json()
    # A long poll answers as soon as an event commits during its wait.
    late = threading.Timer(0.2, lambda: (record(organization, "while-waiting"), connection.close()))
    late.start()
    woken = reader.get(f"/api/v1/consent-events?after={again['cursor']}&wait=10").json()
    late.join(timeout=30)

    assert not failures, failures
    assert [e["subject_id"] for e in while_open["results"]] == ["committed-first"]
    assert [e["subject_id"] for e in after_commit["results"]] == ["started-first"]
    assert again["results"] == []
    assert [e["subject_id"] for e in woken["results"]] == ["while-waiting"]


def test_a_long_poll_answers_empty_after_its_wait_when_nothing_is_new(
    organization: Organization, source: Source, purpose: Purpose, reader: APIClient
) -> None:
    cursor = reader.get("/api/v1/consent-events").json()["cursor"]

    body = reader.get(f"/api/v1/consent-events?after={cursor}&wait=0.3").json()

    assert body["results"] == []
    assert body["cursor"]
    assert_problem(reader.get("/api/v1/consent-events?wait=31"), 422)


def _recomputed_chains(lines: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each subject's chain re-linked from the export alone: every hash recomputed from its fields."""
    chains: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        fields = {k: v for k, v in line.items() if k not in {"prev_hash", "hash"}}
        chain = chains[line["subject"]]
        previous = chain[-1] if chain else ledger.GENESIS_HASH
        assert line["prev_hash"] == previous
        assert ledger.event_hash(fields, previous) == line["hash"]
        chain.append(line["hash"])
    return chains


def check_the_export_re_chains_and_the_command_writes_the_same_lines(reader: APIClient, tmp_path: Any) -> None:
    """The world of the feed test (five subjects, one event each, then a withdrawal by cust-0)."""

    response = reader.get("/api/v1/consent-events/export")
    streamed = b"".join(response.streaming_content).decode()
    output = tmp_path / "export.ndjson"
    call_command("export_consents", organization="acme", output=str(output), stdout=io.StringIO())
    written = output.read_text()
    header, *events = [json.loads(line) for line in streamed.splitlines()]
    since = reader.get(f"/api/v1/consent-events/export?after={header['cursor']}")

    assert response["Content-Type"] == "application/x-ndjson"
    assert header["format"] == "provenant-consent-export/1"
    assert written.splitlines()[1:] == streamed.splitlines()[1:]
    assert {k: v for k, v in json.loads(written.splitlines()[0]).items() if k != "cursor"} == {
        k: v for k, v in header.items() if k != "cursor"
    }
    assert [len(chain) for chain in _recomputed_chains(events).values()] == [2, 1, 1, 1, 1]
    assert b"".join(since.streaming_content).decode().count("\n") == 1  # the header alone


def test_long_polls_take_at_most_their_slots_and_the_rest_answer_at_once(settings: Any) -> None:
    settings.PROVENANT_FEED_LONG_POLLS_PER_PROCESS = 1
    slots = LongPollSlots()

    with slots.slot() as first:
        with slots.slot() as second:  # another thread's long poll while the only slot is taken
            assert (first, second) == (True, False)
        assert slots.waiting == 1
    with slots.slot() as again:
        assert again
    assert slots.waiting == 0
