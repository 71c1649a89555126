"""Property: whatever JSON a client sends to a consent API write (or whatever it puts in a path or
query), the answer is never a server error, and every refusal is a problem+json document."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from consent.models import Purpose, Source
from core.models import Organization
from tests.conftest import event_body
from tests.consent.api_contract import (
    World,
    assert_problem,
    policy_version_body,
    purpose_body,
    seed_world,
    source_body,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

LONG_STRINGS = st.builds(
    lambda char, size: char * size, st.sampled_from(["x", "9", "é"]), st.sampled_from([65, 256, 5000])
)
EDGE_STRINGS = LONG_STRINGS | st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "é",
        "../",
        "%00",
        "a/b",
        "9" * 300,
        "x" * 5000,
        "P6M",
        "P9999999999D",
        "P99999Y",
        "PT99999999999999H",
        "P0D",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "DE",
        "us-ca",
        "XX",
        "grant",
        "withdraw",
        "invalidate",
        "expire",
        "web_form",
        "system",
        "web-signup",
        "marketing-email",
        "provenant",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "https://example.com/notice",
        "203.0.113.9",
        "::1",
        "a@b.test",
        "a" * 64,
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | EDGE_STRINGS
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def mutations(base: dict[str, Any], extra_keys: tuple[str, ...] = ("idempotency_key", "x", "")) -> Any:
    """A valid body with one to three fields replaced by arbitrary JSON, removed, or added."""

    @st.composite
    def mutate(draw: Callable[..., Any]) -> dict[str, Any]:
        body = dict(base)
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            key = draw(st.sampled_from(sorted(base) + list(extra_keys)))
            if key in body and draw(st.booleans()):
                del body[key]
            else:
                body[key] = draw(EDGE_STRINGS | JSON_VALUES)
        return body

    return mutate()


EVENT = event_body(evidence={"ip_address": "203.0.113.9", "user_agent": "Firefox"}, gpc=False)
EVENT_BODIES = JSON_VALUES | mutations(EVENT, ("supersedes", "policy_version", "subject_email", "hash", ""))
BULK_BODIES = (
    JSON_VALUES
    | st.builds(lambda items: {"events": items}, st.lists(EVENT_BODIES, min_size=1, max_size=3))
    | mutations({"events": [EVENT]})
)


@dataclass(frozen=True)
class Target:
    method: str
    path: str
    bodies: Any

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


TARGETS = [
    Target("POST", "/api/v1/consent-events", EVENT_BODIES),
    Target("POST", "/api/v1/consent-events/bulk", BULK_BODIES),
    Target("POST", "/api/v1/sources", JSON_VALUES | mutations(source_body(dpa_date="2025-01-01"))),
    Target("PATCH", "/api/v1/sources/web-signup", JSON_VALUES | mutations({"name": "Form", "is_active": True})),
    Target("POST", "/api/v1/purposes", JSON_VALUES | mutations(purpose_body(validity="P6M", is_sensitive=False))),
    Target("PUT", "/api/v1/purposes/marketing-email", mutations(purpose_body(key="marketing-email"))),
    Target(
        "POST",
        "/api/v1/purposes/marketing-email/policy-versions",
        JSON_VALUES | mutations(policy_version_body(notice_url="https://example.com/n", is_material=True)),
    ),
]


@pytest.fixture
def world(organization: Organization, source: Source, purpose: Purpose) -> World:
    return seed_world(organization, source, purpose)


@pytest.fixture
def client(client_rw: APIClient, world: World) -> APIClient:
    client_rw.raise_request_exception = False  # report a server error as a status, with its example
    return client_rw


def assert_never_a_server_error(response: Any) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.status_code >= 300:
        assert_problem(response, response.status_code)
    else:
        assert response["Content-Type"] == "application/json"


def request_in_savepoint(client: APIClient, method: str, path: str, payload: str | None = None) -> Any:
    """One example's request, rolled back so examples do not see each other's rows."""
    with transaction.atomic():
        if payload is None:
            response = client.generic(method, path)
        else:
            response = client.generic(method, path, payload, content_type="application/json")
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("target", TARGETS, ids=str)
@FUZZ
@given(data=st.data())
def test_arbitrary_json_body_never_causes_a_server_error(client: APIClient, target: Target, data: Any) -> None:
    body = data.draw(target.bodies, label="body")

    response = request_in_savepoint(client, target.method, target.path, json.dumps(body))

    assert_never_a_server_error(response)


@FUZZ
@given(
    subject_id=st.text(min_size=1, max_size=40) | EDGE_STRINGS.filter(bool),
    query=st.dictionaries(st.sampled_from(["at", "purpose", "cursor", "limit"]), st.text(max_size=30) | EDGE_STRINGS),
    history=st.booleans(),
)
def test_arbitrary_subject_path_and_query_never_cause_a_server_error(
    client: APIClient, subject_id: str, query: dict[str, str], history: bool
) -> None:
    tail = "consent-events" if history else "consent"
    path = f"/api/v1/subjects/{quote(subject_id, safe='', errors='surrogatepass')}/{tail}"
    if query:
        path += "?" + urlencode(query, errors="surrogatepass")

    response = request_in_savepoint(client, "GET", path)

    assert_never_a_server_error(response)


@FUZZ
@given(
    segment=st.text(min_size=1, max_size=40) | EDGE_STRINGS.filter(bool),
    collection=st.sampled_from(["consent-events", "sources", "purposes"]),
)
def test_arbitrary_object_id_in_a_path_never_causes_a_server_error(
    client: APIClient, segment: str, collection: str
) -> None:
    path = f"/api/v1/{collection}/{quote(segment, safe='', errors='surrogatepass')}"

    response = request_in_savepoint(client, "GET", path)

    assert_never_a_server_error(response)
