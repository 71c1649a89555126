"""Every operation with a request body has an example in the schema (issue #15), and the example works: sent
with the demo organization's key (``seed_demo``), as "Try it out" on /api/docs/ sends it, no answer is a 422
or a 5xx. A few may be refused by state (a request already rejected: 409), never for their shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

# Operations that must succeed outright with the demo data (the others may meet a state conflict).
MUST_SUCCEED = {
    ("post", "/api/v1/consent-events"),
    ("post", "/api/v1/consent-events/bulk"),
    ("post", "/api/v1/dsar"),
    ("post", "/api/v1/stamps"),
    ("post", "/api/v1/stamps/batch"),
    ("post", "/api/v1/deadlines/compute"),
    ("post", "/api/v1/signals"),
    ("post", "/api/v1/sources"),
    ("post", "/api/v1/purposes"),
    ("post", "/api/v1/recipients"),
    ("post", "/api/v1/legal-contacts"),
    ("post", "/api/v1/provenance/validate"),
    ("post", "/api/v1/deliveries"),
}


@pytest.mark.django_db(transaction=True)
def test_every_request_body_example_is_accepted_with_the_demo_key(tmp_path: Path) -> None:
    key_file = tmp_path / "demo-api-key"
    call_command("seed_demo", api_key_file=str(key_file))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key_file.read_text().strip()}")
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)

    # As a reader of the docs would: the CRM's endpoint is set (PUT /recipients/crm) before a delivery to it.
    operations = sorted(
        (
            (path, method, operation)
            for path, methods in schema["paths"].items()
            for method, operation in methods.items()
            if isinstance(operation, dict) and operation.get("requestBody")
        ),
        key=lambda item: item[0] == "/api/v1/deliveries",
    )
    created: dict[str, str] = {}
    answers: dict[tuple[str, str], int] = {}
    for path, method, operation in operations:
        content = operation["requestBody"]["content"]
        # A file upload (POST /imports) is documented with a CSV body as its first way in; the rest take JSON.
        media_type = "application/json" if "application/json" in content else "text/csv"
        media = content[media_type]
        assert "examples" in media, f"{method.upper()} {path} has no example"
        (example,) = media["examples"].values()
        url = path
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "path":
                continue
            value = created.get(parameter["name"]) or parameter.get("example")
            assert value, f"{method.upper()} {path}: no example for {parameter['name']}"
            url = url.replace("{" + parameter["name"] + "}", str(value))
        if media_type == "application/json":
            response = getattr(client, method)(url, example["value"], format="json")
        else:
            response = getattr(client, method)(url, example["value"].encode(), content_type=media_type)
        answers[(method, path)] = response.status_code
        assert response.status_code != 422, (method, path, response.content[:800])
        assert response.status_code < 500, (method, path, response.content[:800])
        if (method, path) == ("post", "/api/v1/dsar") and response.status_code == 201:
            created["request_id"] = response.json()["id"]
        if (method, path) == ("post", "/api/v1/legal-contacts") and response.status_code == 201:
            created["contact_id"] = str(response.json()["id"])

    assert len(answers) >= 30
    refused = {
        operation: status for operation, status in answers.items() if operation in MUST_SUCCEED and status >= 300
    }
    assert not refused, refused
    # The request-id operations ran against a real request, not a 404.
    assert answers[("post", "/api/v1/dsar/{request_id}/verify")] != 404
