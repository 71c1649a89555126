"""Request validation of the consent API: every bad request is a clear 4xx problem+json document
with a stable type URI, pointers to the offending fields, and nothing written."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from consent.models import Purpose, Source
from consent.services import system_source
from core.models import Organization
from tests.conftest import event_body
from tests.consent.api_contract import (
    World,
    assert_problem,
    iso,
    pointers,
    purpose_body,
    row_counts,
    seed_world,
    source_body,
)

EVENTS = "/api/v1/consent-events"
BULK = "/api/v1/consent-events/bulk"


@pytest.fixture
def world(organization: Organization, source: Source, purpose: Purpose) -> World:
    return seed_world(organization, source, purpose)


@pytest.fixture
def client(client_rw: APIClient) -> APIClient:
    client_rw.raise_request_exception = False  # a server error must surface as a status, not abort the test
    return client_rw


@pytest.fixture
def unchanged(world: World, client: APIClient) -> Any:
    """Asserts, after the test body, that no row was written."""
    before = row_counts()
    yield
    assert row_counts() == before


def post_raw(client: APIClient, path: str, payload: str | bytes) -> Any:
    return client.generic("POST", path, payload, content_type="application/json")


# ---------------------------------------------------------------------------------------------
# Body shape
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [EVENTS, BULK, "/api/v1/sources", "/api/v1/purposes"])
@pytest.mark.parametrize("payload", ['{"subject_id": ', "{bad json}", "\ufeff{", "nul", '{"a": NaN}'])
def test_malformed_json_is_a_400_malformed_request(client: APIClient, unchanged: Any, path: str, payload: str) -> None:
    response = post_raw(client, path, payload)

    assert_problem(response, 400, "malformed-request")


def test_body_that_is_not_utf8_is_a_400_malformed_request(client: APIClient, unchanged: Any) -> None:
    assert_problem(post_raw(client, EVENTS, b"\xff\xfe{}"), 400, "malformed-request")


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_json_is_a_400_not_a_server_error(client: APIClient, unchanged: Any, depth: int) -> None:
    response = post_raw(client, EVENTS, "[" * depth + "]" * depth)

    assert_problem(response, 400, "malformed-request")


@pytest.mark.parametrize("path", [EVENTS, BULK, "/api/v1/sources", "/api/v1/purposes"])
@pytest.mark.parametrize("payload", ["[]", "[{}]", '"text"', "42", "true", "null"])
def test_json_that_is_not_an_object_is_a_422(client: APIClient, unchanged: Any, path: str, payload: str) -> None:
    response = post_raw(client, path, payload)

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/"}


def test_form_encoded_body_is_a_415_unsupported_media_type(client: APIClient, unchanged: Any) -> None:
    response = client.post(EVENTS, event_body(), format="multipart")

    assert_problem(response, 415, "unsupported-media-type")


def test_empty_body_names_every_required_field(client: APIClient, unchanged: Any) -> None:
    body = assert_problem(post_raw(client, EVENTS, "{}"), 422, "validation-error")

    assert pointers(body) == {
        "/subject_id",
        "/purpose",
        "/action",
        "/occurred_at",
        "/source",
        "/collection_method",
        "/jurisdiction",
    }


def test_body_larger_than_the_limit_is_a_413_and_nothing_is_read(client: APIClient, unchanged: Any) -> None:
    limit = settings.PROVENANT_MAX_BODY_BYTES
    payload = json.dumps(event_body(evidence={"user_agent": "x" * limit}))

    response = post_raw(client, EVENTS, payload)

    body = assert_problem(response, 413, "payload-too-large")
    assert body["limit_bytes"] == limit


def test_bulk_body_larger_than_the_limit_is_a_413(client: APIClient, unchanged: Any) -> None:
    payload = json.dumps({"events": [event_body(evidence={"user_agent": "u" * 1000})] * 1000})
    payload += " " * (settings.PROVENANT_MAX_BODY_BYTES + 1 - len(payload))

    assert_problem(post_raw(client, BULK, payload), 413, "payload-too-large")


# ---------------------------------------------------------------------------------------------
# Field types and unknown fields
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gpc", "yes"),
        ("gpc", 1),
        ("gpc", None),
        ("subject_id", 123),
        ("subject_id", ["cust-1"]),
        ("subject_id", None),
        ("occurred_at", 5),
        ("occurred_at", 1_767_225_600.0),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-02-30T10:00:00Z"),
        ("purpose", {"key": "marketing-email"}),
        ("source", True),
        ("action", ["grant"]),
        ("collection_method", "carrier-pigeon"),
        ("jurisdiction", 49),
        ("evidence", "203.0.113.9"),
        ("evidence", {"ip_address": "not-an-ip"}),
        ("evidence", {"ip_address": 3232235777}),
        ("subject_email", "not-an-email"),
        ("subject_email", 42),
        ("policy_version", 1),
        ("supersedes", 7),
    ],
)
def test_field_of_the_wrong_type_is_a_422_pointing_at_it(
    client: APIClient, unchanged: Any, field: str, value: Any
) -> None:
    response = client.post(EVENTS, event_body(**{field: value}), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert {p.split("/")[1] for p in pointers(body)} == {field}


@pytest.mark.parametrize("field", ["recorded_at", "hash", "chain_index", "Subject_Id", "event_id", ""])
def test_unknown_field_is_a_422_pointing_at_it(client: APIClient, unchanged: Any, field: str) -> None:
    response = client.post(EVENTS, event_body(**{field: "x"}), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {f"/{field}"}


def test_unknown_field_inside_evidence_is_a_422(client: APIClient, unchanged: Any) -> None:
    response = client.post(EVENTS, event_body(evidence={"ip_address": "203.0.113.9", "geo": "DE"}), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/evidence/geo"}


def test_nul_character_in_a_string_is_a_422(client: APIClient, unchanged: Any) -> None:
    response = client.post(EVENTS, event_body(subject_id="cust\x001"), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/subject_id"}


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        (EVENTS, {"action": "\ud800"}, "/action"),
        (EVENTS, {"collection_method": "\ud800"}, "/collection_method"),
        (EVENTS, {"subject_id": "\ud800"}, "/subject_id"),
        (EVENTS, {"\ud800": 1}, "/"),  # a pointer naming the member could not be sent as UTF-8 either
        ("/api/v1/sources", {"kind": "\ud800"}, "/kind"),
        ("/api/v1/purposes", {"legal_basis": "\ud800"}, "/legal_basis"),
    ],
    ids=["action", "collection_method", "subject_id", "field-name", "source-kind", "purpose-legal_basis"],
)
def test_lone_surrogate_in_the_body_is_a_422_not_a_server_error(
    client: APIClient, unchanged: Any, path: str, body: dict[str, Any], pointer: str
) -> None:
    base = event_body() if path == EVENTS else source_body() if "sources" in path else purpose_body()
    payload = json.dumps({**base, **body})  # json.dumps escapes the surrogate as \ud800

    response = post_raw(client, path, payload)

    assert pointer in pointers(assert_problem(response, 422, "validation-error"))


# ---------------------------------------------------------------------------------------------
# occurred_at
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2026-05-01T12:00:00", "2026-05-01 12:00:00", "2026-05-01", "20260501T120000"])
def test_naive_occurred_at_is_a_422(client: APIClient, unchanged: Any, value: str) -> None:
    response = client.post(EVENTS, event_body(occurred_at=value), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/occurred_at"}


@pytest.mark.parametrize("ahead", [timedelta(seconds=360), timedelta(days=3)])
def test_occurred_at_beyond_the_allowed_skew_is_a_422_occurred_at_in_future(
    client: APIClient, unchanged: Any, ahead: timedelta
) -> None:
    response = client.post(EVENTS, event_body(occurred_at=iso(timezone.now() + ahead)), format="json")

    body = assert_problem(response, 422, "occurred-at-in-future")
    assert body["allowed_skew_seconds"] == 300
    assert "server_time" in body
    assert pointers(body) == {"/occurred_at"}


def test_occurred_at_in_the_future_with_an_offset_is_judged_in_utc(client: APIClient, unchanged: Any) -> None:
    ahead = (timezone.now() + timedelta(minutes=10)).astimezone(timezone.get_fixed_timezone(-300))

    response = client.post(EVENTS, event_body(occurred_at=ahead.isoformat()), format="json")

    assert_problem(response, 422, "occurred-at-in-future")


def test_occurred_at_within_the_allowed_skew_is_accepted(client: APIClient, world: World) -> None:
    response = client.post(EVENTS, event_body(occurred_at=iso(timezone.now() + timedelta(seconds=200))), format="json")

    assert response.status_code == 201, response.json()


# ---------------------------------------------------------------------------------------------
# The catalog: sources, purposes, policy versions
# ---------------------------------------------------------------------------------------------


def test_unknown_source_is_a_422_unknown_source_listing_the_known_ones(
    client: APIClient, unchanged: Any, world: World
) -> None:
    response = client.post(EVENTS, event_body(source="paper-form"), format="json")

    body = assert_problem(response, 422, "unknown-source")
    assert body["known_sources"] == ["web-signup"]
    assert pointers(body) == {"/source"}


def test_built_in_system_source_cannot_be_used_by_a_client(
    client: APIClient, organization: Organization, world: World
) -> None:
    system_source(organization)
    before = row_counts()

    response = client.post(EVENTS, event_body(source="provenant"), format="json")

    body = assert_problem(response, 422)
    assert pointers(body) == {"/source"}
    assert row_counts() == before


def test_unknown_purpose_is_a_422_pointing_at_purpose(client: APIClient, unchanged: Any) -> None:
    response = client.post(EVENTS, event_body(purpose="telemarketing"), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/purpose"}
    assert "telemarketing" in body["errors"][0]["detail"]


def test_unknown_policy_version_is_a_422_naming_the_known_versions(client: APIClient, unchanged: Any) -> None:
    response = client.post(EVENTS, event_body(policy_version="1999-01"), format="json")

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/policy_version"}
    assert "2025-01" in body["errors"][0]["detail"]


def test_policy_version_not_yet_in_effect_at_occurred_at_is_a_422(client: APIClient, unchanged: Any) -> None:
    response = client.post(
        EVENTS,
        event_body(policy_version="2025-01", occurred_at=iso(timezone.now() - timedelta(days=60))),
        format="json",
    )

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/policy_version"}


@pytest.mark.parametrize("code", ["XX", "germany", "US-", "US-CALIF", "D", "", "de-", "ZZ-CA"])
def test_bad_jurisdiction_code_is_a_422(client: APIClient, unchanged: Any, code: str) -> None:
    response = client.post(EVENTS, event_body(jurisdiction=code), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/jurisdiction"}


def test_lowercase_jurisdiction_is_normalised(client: APIClient, world: World) -> None:
    response = client.post(EVENTS, event_body(jurisdiction="us-ca"), format="json")

    assert response.status_code == 201
    assert response.json()["jurisdiction"] == "US-CA"


# ---------------------------------------------------------------------------------------------
# Actions and supersedes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["expire", "GRANT", "delete", ""])
def test_action_a_client_may_not_send_is_a_422(client: APIClient, unchanged: Any, action: str) -> None:
    response = client.post(EVENTS, event_body(action=action), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/action"}


def test_expire_with_a_supersedes_is_still_refused(client: APIClient, unchanged: Any, world: World) -> None:
    response = client.post(EVENTS, event_body(action="expire", supersedes=world.event_id), format="json")

    assert "/action" in pointers(assert_problem(response, 422, "validation-error"))


@pytest.mark.parametrize("supersedes", [None, ""])
def test_invalidate_without_supersedes_is_a_422(client: APIClient, unchanged: Any, supersedes: Any) -> None:
    body = event_body(action="invalidate")
    if supersedes is not None:
        body["supersedes"] = supersedes

    response = client.post(EVENTS, body, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/supersedes"}


def test_grant_with_supersedes_is_a_422(client: APIClient, unchanged: Any, world: World) -> None:
    response = client.post(EVENTS, event_body(supersedes=world.event_id), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/supersedes"}


def test_invalidate_naming_another_subjects_event_is_a_422(client: APIClient, world: World) -> None:
    before = row_counts()

    response = client.post(
        EVENTS, event_body(subject_id="cust-2", action="invalidate", supersedes=world.event_id), format="json"
    )

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/supersedes"}
    assert "another subject" in body["errors"][0]["detail"]
    assert row_counts() == before


def test_invalidate_naming_an_event_that_does_not_exist_is_a_422(client: APIClient, unchanged: Any) -> None:
    response = client.post(
        EVENTS, event_body(action="invalidate", supersedes="01ARZ3NDEKTSV4RRFFQ69G5FAV"), format="json"
    )

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/supersedes"}


def test_invalidate_naming_a_withdrawal_is_a_422(client: APIClient, world: World) -> None:
    withdrawal = client.post(EVENTS, event_body(action="withdraw"), format="json").json()["event_id"]
    before = row_counts()

    response = client.post(EVENTS, event_body(action="invalidate", supersedes=withdrawal), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/supersedes"}
    assert row_counts() == before


# ---------------------------------------------------------------------------------------------
# Subject ids
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject_id",
    [
        "cust/1",
        "cust 1",
        " cust-1",
        "cust-1 ",
        "cust\t1",
        "cust\n1",
        "a?b",
        "a#b",
        "a%2Fb",
        "a\\b",
        "",
        "x" * 256,
    ],
)
def test_subject_id_that_cannot_appear_in_a_url_is_a_422(client: APIClient, unchanged: Any, subject_id: str) -> None:
    response = client.post(EVENTS, event_body(subject_id=subject_id), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/subject_id"}


def test_subject_id_of_255_url_safe_characters_is_accepted(client: APIClient, world: World) -> None:
    subject_id = "é" + "a" * 254

    response = client.post(EVENTS, event_body(subject_id=subject_id), format="json")

    assert response.status_code == 201
    assert client.get(f"/api/v1/subjects/{subject_id}/consent").status_code == 200


# ---------------------------------------------------------------------------------------------
# Query parameters and path segments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("at=yesterday", "?at"),
        ("at=2026-05-01T12:00:00", "?at"),
        ("purpose=telemarketing", "?purpose"),
    ],
)
def test_bad_consent_query_parameter_is_a_422(client: APIClient, unchanged: Any, query: str, pointer: str) -> None:
    response = client.get(f"/api/v1/subjects/cust-1/consent?{query}")

    assert pointers(assert_problem(response, 422, "validation-error")) == {pointer}


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("cursor=not-a-cursor", "?cursor"),
        ("cursor=Yy0x", "?cursor"),
        ("limit=0", "?limit"),
        ("limit=501", "?limit"),
        ("limit=ten", "?limit"),
    ],
)
def test_bad_history_query_parameter_is_a_422(client: APIClient, unchanged: Any, query: str, pointer: str) -> None:
    response = client.get(f"/api/v1/subjects/cust-1/consent-events?{query}")

    assert pointers(assert_problem(response, 422, "validation-error")) == {pointer}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/subjects/%00/consent",
        "/api/v1/subjects/cust%00/consent-events",
        "/api/v1/consent-events/%00",
        "/api/v1/sources/%00",
        "/api/v1/purposes/%00",
        "/api/v1/purposes/%00/policy-versions",
    ],
)
def test_nul_character_in_a_path_is_a_client_error_not_a_server_error(
    client: APIClient, unchanged: Any, path: str
) -> None:
    response = client.get(path)

    assert 400 <= response.status_code < 500, response.status_code
    assert_problem(response, response.status_code)


def test_unknown_api_path_is_a_404_problem(client: APIClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not-found")


# ---------------------------------------------------------------------------------------------
# Catalog bodies
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/api/v1/sources", {"key": "Bad Key", "name": "x", "kind": "import"}, "/key"),
        ("/api/v1/sources", {"key": "crm", "name": "x", "kind": "system"}, "/kind"),
        (
            "/api/v1/sources",
            {"key": "crm", "name": "x", "kind": "import", "dpa_date": "next week"},
            "/dpa_date",
        ),
        ("/api/v1/sources", {"key": "crm", "name": "x", "kind": "import", "is_builtin": True}, "/is_builtin"),
        ("/api/v1/sources", {"key": "crm", "name": 5, "kind": "import"}, "/name"),
        ("/api/v1/purposes", {"key": "ads", "name": "Ads", "validity": "six months"}, "/validity"),
        ("/api/v1/purposes", {"key": "ads", "name": "Ads", "validity": "P0D"}, "/validity"),
        ("/api/v1/purposes", {"key": "ads", "name": "Ads", "is_sensitive": "no"}, "/is_sensitive"),
        (
            "/api/v1/purposes",
            {"key": "ads", "name": "Ads", "dpv_purpose_iri": "not a url"},
            "/dpv_purpose_iri",
        ),
        ("/api/v1/purposes", {"key": "a" * 65, "name": "Ads"}, "/key"),
        (
            "/api/v1/purposes/marketing-email/policy-versions",
            {"version": "v2", "notice_sha256": "ABC", "effective_at": "2026-01-01T00:00:00Z"},
            "/notice_sha256",
        ),
        (
            "/api/v1/purposes/marketing-email/policy-versions",
            {"version": "v2", "notice_sha256": "a" * 64, "effective_at": "2026-01-01T00:00:00"},
            "/effective_at",
        ),
        (
            "/api/v1/purposes/marketing-email/policy-versions",
            {
                "version": "v2",
                "notice_sha256": "a" * 64,
                "effective_at": "2026-01-01T00:00:00Z",
                "is_material": 1,
            },
            "/is_material",
        ),
    ],
)
def test_invalid_catalog_body_is_a_422_pointing_at_the_field(
    client: APIClient, unchanged: Any, path: str, body: dict[str, Any], pointer: str
) -> None:
    response = client.post(path, body, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {pointer}


@pytest.mark.parametrize("validity", ["P9999999999D", "PT99999999999999H", "P99999Y", "P9999999999M"])
def test_absurd_validity_is_refused_and_never_breaks_recording(client: APIClient, world: World, validity: str) -> None:
    created = client.post("/api/v1/purposes", {"key": "ads", "name": "Ads", "validity": validity}, format="json")
    assert created.status_code in (201, 422), created.status_code
    if created.status_code == 422:
        assert pointers(assert_problem(created, 422, "validation-error")) == {"/validity"}
        return

    granted = client.post(EVENTS, event_body(purpose="ads"), format="json")

    assert granted.status_code < 500, granted.status_code
