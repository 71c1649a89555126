"""Recording and reading consent events over the API: response shapes, idempotency, bulk,
point-in-time reads, history pagination and request ids."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import ledger, services
from consent.models import ConsentEvent, Purpose, Source
from core.models import Organization
from tests.conftest import event_body
from tests.consent.api_contract import assert_problem, iso, pointers, row_counts

EVENTS = "/api/v1/consent-events"
BULK = "/api/v1/consent-events/bulk"
HEX64 = re.compile(r"^[0-9a-f]{64}$")
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@pytest.fixture
def client(client_rw: APIClient, source: Source, purpose: Purpose) -> APIClient:
    return client_rw


def ago(**delta: float) -> str:
    return iso(timezone.now() - timedelta(**delta))


# ---------------------------------------------------------------------------------------------
# One event
# ---------------------------------------------------------------------------------------------


def test_first_grant_returns_201_with_a_genesis_linked_event_and_the_new_state(client: APIClient) -> None:
    response = client.post(EVENTS, event_body(gpc=True, evidence={"ip_address": "203.0.113.9"}), format="json")

    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert "Idempotent-Replayed" not in response
    body = response.json()
    assert ULID.match(body["event_id"])
    assert body["chain_index"] == 1
    assert body["prev_hash"] == ledger.GENESIS_HASH
    assert HEX64.match(body["hash"])
    assert body["subject_id"] == "cust-1"
    assert body["action"] == "grant"
    assert body["gpc"] is True
    assert body["evidence_sealed"]
    assert "203.0.113.9" not in body["evidence_sealed"]
    assert body["consent"]["purpose"] == "marketing-email"
    assert body["consent"]["status"] == "given"
    assert body["consent"]["opt_in"] is True
    assert body["consent"]["event_id"] == body["event_id"]


def test_second_event_links_to_the_first_and_moves_the_state(client: APIClient) -> None:
    first = client.post(EVENTS, event_body(occurred_at=ago(minutes=5)), format="json").json()

    second = client.post(EVENTS, event_body(action="withdraw"), format="json").json()

    assert second["chain_index"] == 2
    assert second["prev_hash"] == first["hash"]
    assert second["consent"]["status"] == "withdrawn"
    assert second["consent"]["opt_in"] is False


def test_invalidating_a_grant_names_it_and_the_state_reads_invalidated(client: APIClient) -> None:
    grant = client.post(EVENTS, event_body(occurred_at=ago(minutes=5)), format="json").json()

    response = client.post(EVENTS, event_body(action="invalidate", supersedes=grant["event_id"]), format="json")

    assert response.status_code == 201
    assert response.json()["supersedes"] == grant["event_id"]
    assert response.json()["consent"]["status"] == "invalidated"


def test_event_detail_shows_the_evidence_in_clear(client: APIClient) -> None:
    created = client.post(
        EVENTS, event_body(evidence={"ip_address": "203.0.113.9", "user_agent": "Firefox"}), format="json"
    ).json()

    response = client.get(f"{EVENTS}/{created['event_id']}")

    assert response.status_code == 200
    detail = response.json()
    assert detail["evidence"] == {"ip_address": "203.0.113.9", "user_agent": "Firefox"}
    assert detail["ledger_log"] is None  # its place in the transparency log, once sequenced (issue #12)
    assert {k: v for k, v in detail.items() if k not in ("evidence", "ledger_log")} == {
        k: v for k, v in created.items() if k not in ("evidence", "consent")
    }


def test_unknown_event_id_is_a_404(client: APIClient) -> None:
    assert_problem(client.get(f"{EVENTS}/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404, "not-found")


# ---------------------------------------------------------------------------------------------
# Idempotency
# ---------------------------------------------------------------------------------------------


def test_retry_with_the_same_idempotency_key_and_body_replays_the_first_response(client: APIClient) -> None:
    body = event_body()
    first = client.post(EVENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="signup-42")
    before = row_counts()

    retry = client.post(EVENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="signup-42")

    assert first.status_code == 201
    assert retry.status_code == first.status_code
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert row_counts() == before


def test_same_idempotency_key_with_another_body_is_a_409_and_writes_nothing(client: APIClient) -> None:
    client.post(EVENTS, event_body(), format="json", HTTP_IDEMPOTENCY_KEY="signup-42")
    before = row_counts()

    response = client.post(EVENTS, event_body(action="refuse"), format="json", HTTP_IDEMPOTENCY_KEY="signup-42")

    body = assert_problem(response, 409, "idempotency-key-reused")
    assert body["idempotency_key"] == "signup-42"
    assert row_counts() == before


def test_without_an_idempotency_key_a_repeated_body_records_twice(client: APIClient) -> None:
    body = event_body()

    first = client.post(EVENTS, body, format="json").json()
    second = client.post(EVENTS, body, format="json").json()

    assert first["event_id"] != second["event_id"]
    assert second["chain_index"] == 2


def test_idempotency_keys_are_scoped_to_the_organization(
    client: APIClient, other_organization: Organization, api_client_for: Any
) -> None:
    services.source_create(organization=other_organization, actor="t", key="web-signup", name="S", kind="web_form")
    services.purpose_create(organization=other_organization, actor="t", key="marketing-email", name="M")
    other = api_client_for(other_organization, "consent:write")
    body = event_body()

    mine = client.post(EVENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    theirs = other.post(EVENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["event_id"] != theirs.json()["event_id"]


def test_idempotency_key_in_a_single_event_body_is_refused(client: APIClient) -> None:
    before = row_counts()

    response = client.post(EVENTS, event_body(idempotency_key="k-1"), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/idempotency_key"}
    assert row_counts() == before


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_idempotency_key_header_outside_1_to_255_characters_is_a_422(client: APIClient, key: str) -> None:
    before = row_counts()

    response = client.post(EVENTS, event_body(), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert_problem(response, 422, "validation-error")
    assert row_counts() == before


# ---------------------------------------------------------------------------------------------
# Bulk
# ---------------------------------------------------------------------------------------------


def test_bulk_of_1000_events_is_accepted_in_one_call(client: APIClient) -> None:
    events = [event_body(subject_id=f"cust-{i % 250}", occurred_at=ago(seconds=1000 - i)) for i in range(1000)]

    response = client.post(BULK, {"events": events}, format="json")

    assert response.status_code == 201, response.content[:500]
    body = response.json()
    assert body["created"] == 1000
    assert body["replayed"] == 0
    assert [item["index"] for item in body["events"]] == list(range(1000))
    assert ConsentEvent.objects.count() == 1000
    assert client.get("/api/v1/ledger/verify").json()["valid"] is True


def test_bulk_of_1001_events_is_a_422_and_writes_nothing(client: APIClient) -> None:
    before = row_counts()

    response = client.post(BULK, {"events": [event_body()] * 1001}, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/events"}
    assert row_counts() == before


@pytest.mark.parametrize("payload", [{"events": []}, {}, {"events": {}}, {"events": "x"}, {"events": None}])
def test_bulk_without_a_list_of_events_is_a_422(client: APIClient, payload: dict[str, Any]) -> None:
    response = client.post(BULK, payload, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/events"}


@pytest.mark.parametrize(
    ("bad_item", "pointer"),
    [
        ({"jurisdiction": "XX"}, "/events/1/jurisdiction"),
        ({"gpc": "yes"}, "/events/1/gpc"),
        ({"purpose": "telemarketing"}, "/events/1/purpose"),
        ({"policy_version": "1999-01"}, "/events/1/policy_version"),
        ({"source": "paper-form"}, "/events/1/source"),
        ({"occurred_at": iso(timezone.now() + timedelta(days=1))}, "/events/1/occurred_at"),
        ({"action": "invalidate", "supersedes": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "/events/1/supersedes"),
        ({"extra": 1}, "/events/1/extra"),
    ],
)
def test_one_bad_item_rejects_the_whole_batch_and_points_at_it(
    client: APIClient, bad_item: dict[str, Any], pointer: str
) -> None:
    events = [event_body(subject_id="a"), event_body(subject_id="b", **bad_item), event_body(subject_id="c")]
    before = row_counts()

    response = client.post(BULK, {"events": events}, format="json")

    body = assert_problem(response, 422)
    assert pointers(body) == {pointer}
    assert row_counts() == before


def test_bulk_item_that_is_not_an_object_is_pointed_at(client: APIClient) -> None:
    response = client.post(BULK, {"events": [event_body(), "grant"]}, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/events/1"}


def test_bulk_items_with_idempotency_keys_replay_on_retry(client: APIClient) -> None:
    events = [
        event_body(subject_id="a", idempotency_key="a-1"),
        event_body(subject_id="b", idempotency_key="b-1"),
    ]
    first = client.post(BULK, {"events": events}, format="json").json()
    before = row_counts()

    retry = client.post(BULK, {"events": events}, format="json")

    assert retry.status_code == 201
    assert retry.json()["created"] == 0
    assert retry.json()["replayed"] == 2
    assert [e["event_id"] for e in retry.json()["events"]] == [e["event_id"] for e in first["events"]]
    assert all(e["replayed"] for e in retry.json()["events"])
    assert row_counts() == before


def test_bulk_mixing_replayed_and_new_items_records_only_the_new(client: APIClient) -> None:
    seen = event_body(subject_id="a", idempotency_key="a-1")
    first = client.post(BULK, {"events": [seen]}, format="json").json()

    response = client.post(
        BULK, {"events": [event_body(subject_id="b", idempotency_key="b-1"), seen]}, format="json"
    ).json()

    assert (response["created"], response["replayed"]) == (1, 1)
    assert response["events"][1]["event_id"] == first["events"][0]["event_id"]
    assert [e["replayed"] for e in response["events"]] == [False, True]
    assert ConsentEvent.objects.count() == 2


def test_bulk_item_reusing_a_key_with_another_body_is_a_409_and_writes_nothing(client: APIClient) -> None:
    client.post(BULK, {"events": [event_body(idempotency_key="a-1")]}, format="json")
    before = row_counts()

    response = client.post(
        BULK,
        {"events": [event_body(subject_id="z"), event_body(action="refuse", idempotency_key="a-1")]},
        format="json",
    )

    body = assert_problem(response, 409, "idempotency-key-reused")
    assert body["pointer"] == "/events/1"
    assert row_counts() == before


def test_same_idempotency_key_twice_in_one_batch_is_a_422(client: APIClient) -> None:
    events = [
        event_body(subject_id="a", idempotency_key="k"),
        event_body(subject_id="b", idempotency_key="k"),
    ]
    before = row_counts()

    response = client.post(BULK, {"events": events}, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/events/1/idempotency_key"}
    assert row_counts() == before


def test_single_event_key_and_bulk_item_key_share_one_namespace(client: APIClient) -> None:
    body = event_body()
    single = client.post(EVENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="shared").json()

    bulk = client.post(BULK, {"events": [dict(body, idempotency_key="shared")]}, format="json")

    assert bulk.status_code in (201, 409)
    if bulk.status_code == 201:
        assert bulk.json()["events"][0]["event_id"] == single["event_id"]
    assert ConsentEvent.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Methods the ledger does not allow
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
@pytest.mark.parametrize("path", [EVENTS, BULK, f"{EVENTS}/{{event_id}}"])
def test_ledger_events_cannot_be_changed_or_deleted(client: APIClient, method: str, path: str) -> None:
    event_id = client.post(EVENTS, event_body(), format="json").json()["event_id"]
    before = row_counts()

    response = getattr(client, method)(path.format(event_id=event_id), event_body(), format="json")

    assert_problem(response, 405, "method-not-allowed")
    assert method.upper() not in response["Allow"]
    assert row_counts() == before


# ---------------------------------------------------------------------------------------------
# Reading state
# ---------------------------------------------------------------------------------------------


def test_consent_at_a_past_instant_replays_the_ledger(client: APIClient) -> None:
    client.post(EVENTS, event_body(occurred_at=ago(hours=2)), format="json")
    client.post(EVENTS, event_body(action="withdraw", occurred_at=ago(hours=1)), format="json")

    def status(query: str) -> str:
        response = client.get(f"/api/v1/subjects/cust-1/consent?{query}")
        assert response.status_code == 200, response.content
        return response.json()["purposes"][0]["status"]

    assert status("") == "withdrawn"
    assert status(f"at={ago(minutes=90)}") == "given"
    assert status(f"at={ago(hours=3)}") == "unknown"
    assert status(f"at={ago(minutes=30)}") == "withdrawn"


def test_consent_at_echoes_the_instant_asked_for(client: APIClient) -> None:
    client.post(EVENTS, event_body(occurred_at=ago(hours=2)), format="json")
    at = "2020-01-01T00:00:00+02:00"

    body = client.get("/api/v1/subjects/cust-1/consent", {"at": at}).json()

    assert datetime.fromisoformat(body["at"]) == datetime.fromisoformat(at)
    assert body["purposes"][0]["status"] == "unknown"


def test_consent_filtered_by_purpose_lists_only_that_purpose(client: APIClient, organization: Organization) -> None:
    services.purpose_create(organization=organization, actor="t", key="analytics", name="Analytics")
    client.post(EVENTS, event_body(), format="json")

    every = client.get("/api/v1/subjects/cust-1/consent").json()
    one = client.get("/api/v1/subjects/cust-1/consent?purpose=marketing-email").json()

    assert {p["purpose"]: p["status"] for p in every["purposes"]} == {
        "analytics": "unknown",
        "marketing-email": "given",
    }
    assert [p["purpose"] for p in one["purposes"]] == ["marketing-email"]
    assert one["purposes"][0]["source"] == "web-signup"
    assert one["purposes"][0]["jurisdiction"] == "DE"


def test_consent_of_an_unknown_subject_is_a_404(client: APIClient) -> None:
    assert_problem(client.get("/api/v1/subjects/nobody/consent"), 404, "not-found")


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


def _record_history(client: APIClient, count: int) -> list[str]:
    actions = ["grant", "withdraw"]
    return [
        client.post(
            EVENTS, event_body(action=actions[i % 2], occurred_at=ago(minutes=count - i)), format="json"
        ).json()["event_id"]
        for i in range(count)
    ]


@pytest.mark.parametrize("limit", [1, 3, 7, 50])
def test_history_cursor_pagination_walks_every_event_exactly_once(client: APIClient, limit: int) -> None:
    recorded = _record_history(client, 7)
    seen: list[str] = []
    url: str | None = f"/api/v1/subjects/cust-1/consent-events?limit={limit}"
    pages = 0

    while url:
        response = client.get(url)
        assert response.status_code == 200
        page = response.json()
        assert len(page["results"]) <= limit
        seen.extend(event["event_id"] for event in page["results"])
        url = page["next"]
        if url:
            parts = urlsplit(url)
            url = f"{parts.path}?{parts.query}"
        pages += 1
        assert pages <= 8

    assert seen == recorded
    assert pages == -(-7 // limit)


def test_history_page_describes_the_chain_head(client: APIClient) -> None:
    _record_history(client, 3)

    page = client.get("/api/v1/subjects/cust-1/consent-events").json()

    assert page["ledger_length"] == 3
    assert page["ledger_head_hash"] == page["results"][-1]["hash"]
    assert [e["chain_index"] for e in page["results"]] == [1, 2, 3]
    assert page["next"] is None


def test_a_client_can_recompute_every_hash_from_the_history(client: APIClient) -> None:
    _record_history(client, 3)
    client.post(EVENTS, event_body(evidence={"ip_address": "203.0.113.9"}), format="json")

    page = client.get("/api/v1/subjects/cust-1/consent-events").json()

    prev = ledger.GENESIS_HASH
    for event in page["results"]:
        fields = {
            "v": ledger.HASH_VERSION,
            "event_id": event["event_id"],
            "subject": event["subject_uuid"],
            "chain_index": event["chain_index"],
            "purpose": event["purpose"],
            "action": event["action"],
            "occurred_at": event["occurred_at"],
            "recorded_at": event["recorded_at"],
            "valid_until": event["valid_until"],
            "source": event["source"],
            "collection_method": event["collection_method"],
            "policy_version": event["policy_version"],
            "jurisdiction": event["jurisdiction"],
            "gpc": event["gpc"],
            "explicit_confirmation": event["explicit_confirmation"],
            "lifts_gpc_opt_out": event["lifts_gpc_opt_out"],
            "evidence_sealed": event["evidence_sealed"],
            "supersedes": event["supersedes"],
        }
        assert event["prev_hash"] == prev
        assert ledger.event_hash(fields, prev) == event["hash"]
        prev = event["hash"]


# ---------------------------------------------------------------------------------------------
# Request ids
# ---------------------------------------------------------------------------------------------


def test_request_id_sent_by_the_client_is_echoed(client: APIClient) -> None:
    response = client.post(EVENTS, event_body(), format="json", HTTP_X_REQUEST_ID="checkout-7f3a.1")

    assert response.status_code == 201
    assert response["X-Request-Id"] == "checkout-7f3a.1"


@pytest.mark.parametrize("incoming", [None, "", "has spaces", "x" * 129, "semi;colon"])
def test_request_id_is_generated_when_missing_or_unusable(client: APIClient, incoming: str | None) -> None:
    extra = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}

    response = client.get("/api/v1/sources", **extra)

    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-Id"])


def test_request_ids_differ_between_requests(client: APIClient) -> None:
    ids = {client.get("/api/v1/sources")["X-Request-Id"] for _ in range(3)}

    assert len(ids) == 3


@pytest.mark.parametrize("incoming", [None, "trace-abc"])
def test_error_responses_carry_the_request_id_in_header_and_body(client: APIClient, incoming: str | None) -> None:
    extra = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    unauthenticated = APIClient().get("/api/v1/sources", **extra)
    invalid = client.post(EVENTS, event_body(gpc="yes"), format="json", **extra)
    too_large = client.generic("POST", EVENTS, "x" * (5 * 1024 * 1024), content_type="application/json", **extra)
    missing = client.get("/api/v1/no-such-thing", **extra)

    for response, status in [(unauthenticated, 401), (invalid, 422), (too_large, 413), (missing, 404)]:
        body = assert_problem(response, status)
        if incoming is None:
            assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
        else:
            assert body["request_id"] == incoming


def test_a_plain_body_and_one_the_serializer_reads_record_the_same_event(client: APIClient) -> None:
    """Issue #16: a plainly valid body skips DRF's validation; a body naming an idempotency key (here null) goes to
    the serializer. Both store and answer the same event, apart from what is new per event."""
    occurred_at = ago(minutes=2)
    extra = {"occurred_at": occurred_at, "gpc": True, "evidence": {"ip_address": "203.0.113.9", "user_agent": "UA"}}
    plain = client.post(EVENTS, event_body(subject_id="plain-1", **extra), format="json")
    read = client.post(EVENTS, event_body(subject_id="read-1", idempotency_key=None, **extra), format="json")

    assert (plain.status_code, read.status_code) == (201, 201)
    per_event = {"event_id", "subject_id", "subject_uuid", "hash", "evidence_sealed", "recorded_at", "ledger_log"}
    answers = [{k: v for k, v in r.json().items() if k not in per_event} for r in (plain, read)]
    answers[0]["consent"].pop("event_id")
    answers[1]["consent"].pop("event_id")
    assert answers[0] == answers[1]
    stored = [ConsentEvent.objects.get(event_id=r.json()["event_id"]) for r in (plain, read)]
    fields = ("action", "occurred_at", "collection_method", "jurisdiction", "gpc", "source_id", "purpose_id")
    first, second = (tuple(getattr(event, name) for name in fields) for event in stored)
    assert first == second
