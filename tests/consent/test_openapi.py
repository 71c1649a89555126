"""The OpenAPI document: it validates without warnings, names the security scheme and scope of every
operation, is served without a key, and describes the responses the API really sends."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from consent.models import Purpose, Source
from core.models import Organization
from core.problems import PROBLEM_CONTENT_TYPE
from core.scopes import SCOPES
from tests.conftest import event_body
from tests.consent.api_contract import ENDPOINTS, READ, WRITE, Endpoint, World, call, seed_world

HTTP_METHODS = {"get", "put", "patch", "post", "delete", "head", "options", "trace"}
_DROP = {"nullable", "readOnly", "writeOnly", "example", "discriminator", "xml", "externalDocs"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def schema_path(endpoint: Endpoint) -> str:
    return "/api/v1/" + re.sub(r"<str:(\w+)>", r"{\1}", endpoint.route)


# ---------------------------------------------------------------------------------------------
# The document itself
# ---------------------------------------------------------------------------------------------


def test_schema_generation_validates_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "openapi.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    document = yaml.safe_load(target.read_text())
    assert document["openapi"].startswith("3.")
    assert document["paths"]


def test_schema_documents_exactly_the_routed_operations(schema: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for method, path, _ in operations(schema)}

    assert documented == {(e.method, schema_path(e)) for e in ENDPOINTS}


def test_api_key_security_scheme_is_http_bearer(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["ApiKey"]

    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_every_operation_requires_the_api_key_and_names_its_scope(schema: dict[str, Any]) -> None:
    for method, path, operation in operations(schema):
        assert operation.get("security"), (method, path)
        assert all(requirement == {"ApiKey": []} for requirement in operation["security"]), (method, path)
        scope = operation.get("x-required-scope")
        assert scope in SCOPES, (method, path, scope)
        assert f"`{scope}`" in operation["description"], (method, path)


def test_security_requirement_is_listed_once_per_operation(schema: dict[str, Any]) -> None:
    duplicated = [(method, path) for method, path, operation in operations(schema) if len(operation["security"]) != 1]

    assert duplicated == []


def test_documented_scope_is_the_scope_the_view_enforces(schema: dict[str, Any]) -> None:
    for method, path, operation in operations(schema):
        url = re.sub(r"\{\w+\}", "x", path)
        view_class = resolve(url).func.view_class  # type: ignore[attr-defined]
        assert view_class.required_scopes[method.upper()] == operation["x-required-scope"], (method, path)


def test_every_operation_documents_authentication_and_scope_failures(schema: dict[str, Any]) -> None:
    for method, path, operation in operations(schema):
        assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_operation_has_a_summary_and_a_unique_operation_id(schema: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(schema)]

    assert len(ids) == len(set(ids))
    assert all(operation.get("summary") for _, _, operation in operations(schema))


def test_error_responses_are_documented_as_problem_json(schema: dict[str, Any]) -> None:
    wrong = [
        (method, path, status, sorted(response.get("content", {})))
        for method, path, operation in operations(schema)
        for status, response in operation["responses"].items()
        if int(status) >= 400 and PROBLEM_CONTENT_TYPE not in response.get("content", {})
    ]

    assert wrong == []


def test_schema_and_docs_are_served_without_a_key(db: Any) -> None:
    client = APIClient()

    schema_response = client.get("/api/schema/")
    json_response = client.get("/api/schema/?format=json")
    docs_response = client.get("/api/docs/")

    assert schema_response.status_code == 200
    assert yaml.safe_load(schema_response.content)["info"]["title"] == "Provenant API"
    assert json_response.status_code == 200
    assert "/api/v1/consent-events" in json_response.json()["paths"]
    assert docs_response.status_code == 200
    assert b"swagger" in docs_response.content.lower()


# ---------------------------------------------------------------------------------------------
# Real responses against the documented schemas
# ---------------------------------------------------------------------------------------------


def _to_json_schema(node: Any, *, closed: bool) -> Any:
    """OpenAPI 3.0 schema object -> JSON Schema 2020-12; ``closed`` forbids undocumented keys."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "properties":
            out[key] = {name: _to_json_schema(s, closed=closed) for name, s in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _to_json_schema(value, closed=closed)
        elif key in ("allOf", "anyOf"):
            out[key] = [_to_json_schema(s, closed=closed) for s in value]
        elif key == "oneOf":
            # drf-spectacular documents a blank-able URL as oneOf(uri, empty); without a checker for
            # the uri format, "" would match both branches, so either branch is accepted.
            out["anyOf"] = [_to_json_schema(s, closed=closed) for s in value]
        else:
            out[key] = value
    if closed and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(schema: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any]:
    responses = schema["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} does not document {status}"
    content = responses[str(status)]["content"]
    return next(iter(content.values()))["schema"]  # type: ignore[no-any-return]


def assert_matches(schema: dict[str, Any], body: Any, documented: dict[str, Any]) -> None:
    components = {
        # Problem documents may carry extension members (RFC 9457 section 3.2); others are closed.
        name: _to_json_schema(s, closed=name != "Problem")
        for name, s in schema["components"]["schemas"].items()
    }
    root = dict(_to_json_schema(documented, closed=True), components={"schemas": components})
    validator = jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.fixture
def world(organization: Organization, source: Source, purpose: Purpose) -> World:
    return seed_world(organization, source, purpose)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_successful_response_matches_its_documented_schema(
    schema: dict[str, Any], world: World, endpoint: Endpoint, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(world.organization, endpoint.scope)

    response = call(client, endpoint, world)

    assert response.status_code == endpoint.success
    documented = response_schema(schema, endpoint.method, schema_path(endpoint), endpoint.success)
    if endpoint.content_type != "application/json":  # a text document: documented as a string of that type
        media = endpoint.content_type.split(";")[0]
        responses = schema["paths"][schema_path(endpoint)][endpoint.method.lower()]["responses"]
        assert media in responses[str(endpoint.success)]["content"]
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert_matches(schema, body.decode(), documented)
        return
    assert_matches(schema, response.json(), documented)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_refusals_are_documented_problem_documents(
    schema: dict[str, Any], world: World, endpoint: Endpoint, api_client_for: Callable[..., APIClient]
) -> None:
    wrong_scope = api_client_for(world.organization, READ if endpoint.scope == WRITE else WRITE)

    for response in (call(APIClient(), endpoint, world), call(wrong_scope, endpoint, world)):
        documented = response_schema(schema, endpoint.method, schema_path(endpoint), response.status_code)
        assert_matches(schema, response.json(), documented)


def test_validation_and_conflict_problems_match_the_documented_schema(
    schema: dict[str, Any], world: World, client_rw: APIClient
) -> None:
    cases = [
        ("POST", "/api/v1/consent-events", client_rw.post("/api/v1/consent-events", {"gpc": 1}, format="json")),
        (
            "POST",
            "/api/v1/sources",
            client_rw.post("/api/v1/sources", {"key": "web-signup", "name": "x", "kind": "import"}, format="json"),
        ),
        ("GET", "/api/v1/sources/{key}", client_rw.get("/api/v1/sources/nope")),
    ]
    for method, path, response in cases:
        assert response.status_code in (404, 409, 422)
        assert_matches(schema, response.json(), response_schema(schema, method, path, response.status_code))


def test_subject_consent_at_a_past_instant_matches_its_schema(
    schema: dict[str, Any], world: World, client_rw: APIClient
) -> None:
    response = client_rw.get("/api/v1/subjects/cust-1/consent?at=2020-01-01T00:00:00Z")

    assert response.status_code == 200
    documented = response_schema(schema, "GET", "/api/v1/subjects/{subject_id}/consent", 200)
    assert_matches(schema, response.json(), documented)


def test_event_detail_with_evidence_matches_its_schema(
    schema: dict[str, Any], world: World, client_rw: APIClient
) -> None:
    created = client_rw.post(
        "/api/v1/consent-events",
        event_body(subject_id="cust-9", evidence={"ip_address": "203.0.113.9", "user_agent": "Firefox"}),
        format="json",
    ).json()

    response = client_rw.get(f"/api/v1/consent-events/{created['event_id']}")

    documented = response_schema(schema, "GET", "/api/v1/consent-events/{event_id}", 200)
    assert_matches(schema, response.json(), documented)
