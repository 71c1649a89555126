"""What schemathesis found (issue #15), one test each: the answer the server gives is the one the schema documents,
and the schema states the constraint the server enforces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from core.models import Organization


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def operation(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return openapi["paths"][path][method.lower()]


def query_parameter(openapi: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    found = [p for p in operation(openapi, method, path)["parameters"] if p["name"] == name and p["in"] == "query"]
    assert len(found) == 1
    return dict(found[0]["schema"])


@pytest.fixture
def client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "consent:read", "consent:write", "stamp")


@pytest.mark.django_db
def test_a_body_that_is_not_json_answers_the_documented_400(client: APIClient, openapi: dict[str, Any]) -> None:
    response = client.generic("POST", "/api/v1/signals", "\x00", content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "application/problem+json" in operation(openapi, "POST", "/api/v1/signals")["responses"]["400"]["content"]


@pytest.mark.django_db
def test_a_nul_in_a_query_parameter_answers_the_documented_400(client: APIClient, openapi: dict[str, Any]) -> None:
    response = client.get("/api/v1/subjects/cust-1/solicitation", {"purpose": "a\x00b"})

    assert response.status_code == 400
    assert "400" in operation(openapi, "GET", "/api/v1/subjects/{subject_id}/solicitation")["responses"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/.well-known/jwks.json", "application/jwk-set+json"),
        ("/.well-known/jwks/acme.json", "application/jwk-set+json"),
        ("/schemas/privacy-stamp-1.json", "application/schema+json"),
    ],
)
def test_public_documents_are_served_with_the_documented_media_type(
    organization: Organization, openapi: dict[str, Any], path: str, media_type: str
) -> None:
    response = APIClient().get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    template = path.replace("/acme.json", "/{issuer}.json")
    assert list(operation(openapi, "GET", template)["responses"]["200"]["content"]) == [media_type]


@pytest.mark.django_db
def test_stamp_verification_documents_its_422(client: APIClient, openapi: dict[str, Any]) -> None:
    response = client.post("/api/v1/stamps/verify", {"body": None, "privacy_stamp": "0"}, format="json")

    assert response.status_code == 422
    assert "422" in operation(openapi, "POST", "/api/v1/stamps/verify")["responses"]


@pytest.mark.django_db
def test_an_unknown_export_format_answers_the_documented_404(client: APIClient, openapi: dict[str, Any]) -> None:
    response = client.get("/api/v1/ledger/export", {"format": "AAA"})

    assert response.status_code == 404
    assert "404" in operation(openapi, "GET", "/api/v1/ledger/export")["responses"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "name", "bad", "bound"),
    [
        ("/api/v1/ledger/checkpoint", "tree_size", "-1", {"minimum": 0}),
        ("/api/v1/ledger/export", "tree_size", "-346", {"minimum": 0}),
        ("/api/v1/ledger/proofs/consistency", "from", "0", {"minimum": 1}),
        ("/api/v1/subjects/{subject_id}/consent-events", "limit", "0", {"minimum": 1, "maximum": 500}),
        ("/api/v1/subjects/{subject_id}/consent-events", "limit", "501", {"minimum": 1, "maximum": 500}),
        ("/api/v1/ledger/proofs/inclusion", "event_id", "", {"minLength": 1}),
        ("/api/v1/subjects/{subject_id}/solicitation", "purpose", "", {"minLength": 1}),
        ("/api/v1/subjects/{subject_id}/unsubscribe-link", "purpose", "", {"minLength": 1}),
    ],
)
def test_query_bounds_the_server_enforces_are_in_the_schema(
    client: APIClient, openapi: dict[str, Any], path: str, name: str, bad: str, bound: dict[str, int]
) -> None:
    schema = query_parameter(openapi, "GET", path, name)

    assert schema.items() >= bound.items()
    response = client.get(path.replace("{subject_id}", "cust-1"), {name: bad})
    assert response.status_code in (404, 422)  # refused: an unknown subject may answer first
    assert response.status_code != 200


def request_schema(openapi: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    reference = operation(openapi, method, path)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return dict(openapi["components"]["schemas"][reference.rsplit("/", 1)[-1]])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/legal-contacts", {"email": "dpo@example.com", "unknown": 1}),
        ("/api/v1/provenance/validate", {"subject_id": "cust-1", "purposes": ["marketing"], "unknown": 1}),
        ("/api/v1/signals", {"subject_id": "cust-1", "jurisdiction": "DE", "unknown": 1}),
    ],
)
def test_an_unknown_field_is_refused_and_the_schema_says_so(
    organization: Organization,
    api_client_for: Callable[..., APIClient],
    openapi: dict[str, Any],
    path: str,
    body: dict[str, Any],
) -> None:
    client = api_client_for(organization, "consent:write", "stamp", "dsar:configure")

    response = client.post(path, body, format="json")

    assert response.status_code == 422
    assert {"pointer": "/unknown", "detail": "Unknown field."} in response.json()["errors"]
    assert request_schema(openapi, "POST", path)["additionalProperties"] is False


@pytest.mark.django_db
def test_a_legal_contacts_name_must_be_text(
    organization: Organization, api_client_for: Callable[..., APIClient], openapi: dict[str, Any]
) -> None:
    client = api_client_for(organization, "dsar:configure")

    response = client.post("/api/v1/legal-contacts", {"email": "dpo@example.com", "name": 0}, format="json")

    assert response.status_code == 422
    assert request_schema(openapi, "POST", "/api/v1/legal-contacts")["properties"]["name"]["type"] == "string"
    assert client.post("/api/v1/legal-contacts", {"email": "dpo@example.com"}, format="json").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["null", "[]", "0"])
def test_a_verification_job_body_must_be_an_object(client: APIClient, openapi: dict[str, Any], body: str) -> None:
    response = client.generic("POST", "/api/v1/ledger/verifications", body, content_type="application/json")

    assert response.status_code == 422
    assert request_schema(openapi, "POST", "/api/v1/ledger/verifications")["type"] == "object"
    assert client.post("/api/v1/ledger/verifications").status_code == 202  # no body: the defaults
