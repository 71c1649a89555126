"""Recipients over the API: registered with the purposes they receive, keys unique per organization
and immutable, every change audited, refusals change nothing, each organization sees only its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from consent.models import Purpose
from core.models import AuditLogEntry, Organization
from provenance.models import Recipient
from tests.consent.api_contract import assert_problem, pointers
from tests.provenance.conftest import record


def recipient_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": "email-platform",
        "name": "Email platform",
        "role": "service_provider",
        "purposes": ["marketing-email", "analytics"],
    }
    body.update(overrides)
    return body


def counts() -> tuple[int, int, int]:
    """Recipients, their purpose links and audit rows: what a refused write must leave alone."""
    return Recipient.objects.count(), Recipient.purposes.through.objects.count(), AuditLogEntry.objects.count()


def purpose_keys(key: str) -> list[str]:
    return sorted(Recipient.objects.get(key=key).purposes.values_list("key", flat=True))


@pytest.fixture
def existing(organization: Organization, provenance_client: APIClient, purposes: dict[str, Purpose]) -> dict[str, Any]:
    response = provenance_client.post("/api/v1/recipients", recipient_body(), format="json")
    assert response.status_code == 201, response.content[:1000]
    created: dict[str, Any] = response.json()
    return created


def test_create_registers_the_recipient_with_its_purposes_and_audits_it(
    organization: Organization, purposes: dict[str, Purpose], provenance_client: APIClient
) -> None:
    response = provenance_client.post(
        "/api/v1/recipients",
        recipient_body(
            data_categories=["contact"],
            endpoint_url="https://mail.example.test/inbound",
            legacy_usp=True,
        ),
        format="json",
    )

    assert response.status_code == 201, response.content[:1000]
    body = response.json()
    assert {k: body[k] for k in ("key", "name", "role", "data_categories", "endpoint_url", "legacy_usp")} == {
        "key": "email-platform",
        "name": "Email platform",
        "role": "service_provider",
        "data_categories": ["contact"],
        "endpoint_url": "https://mail.example.test/inbound",
        "legacy_usp": True,
    }
    assert sorted(body["purposes"]) == ["analytics", "marketing-email"]
    assert body["is_active"] is True
    recipient = Recipient.objects.get(organization=organization, key="email-platform")
    assert purpose_keys("email-platform") == ["analytics", "marketing-email"]
    audit = AuditLogEntry.objects.get(action="recipient.created")
    assert (audit.organization_id, audit.object_type, audit.object_id) == (
        organization.pk,
        "recipient",
        str(recipient.pk),
    )
    assert audit.actor.startswith("api_key:")
    assert audit.data == {"key": "email-platform"}


def test_created_recipient_is_listed_and_readable(existing: dict[str, Any], provenance_client: APIClient) -> None:
    listed = provenance_client.get("/api/v1/recipients")
    detail = provenance_client.get("/api/v1/recipients/email-platform")

    assert listed.status_code == 200
    assert [item["key"] for item in listed.json()["results"]] == ["email-platform"]
    assert detail.status_code == 200
    assert detail.json() == existing


def test_unknown_purpose_is_422_and_creates_nothing(purposes: dict[str, Purpose], provenance_client: APIClient) -> None:
    before = counts()

    response = provenance_client.post(
        "/api/v1/recipients", recipient_body(purposes=["analytics", "no-such-purpose"]), format="json"
    )

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/purposes"}
    assert "no-such-purpose" in body["errors"][0]["detail"]
    assert counts() == before


def test_another_organizations_purpose_is_unknown(
    other_organization: Organization,
    purposes: dict[str, Purpose],
    api_client_for: Callable[..., APIClient],
) -> None:
    other = api_client_for(other_organization, "provenance:write")
    before = counts()

    response = other.post("/api/v1/recipients", recipient_body(purposes=["marketing-email"]), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/purposes"}
    assert counts() == before


def test_duplicate_key_is_409_and_changes_nothing(existing: dict[str, Any], provenance_client: APIClient) -> None:
    before = counts()

    response = provenance_client.post(
        "/api/v1/recipients", recipient_body(name="Another", role="third_party", purposes=["analytics"]), format="json"
    )

    assert_problem(response, 409, "conflict")
    assert counts() == before
    assert Recipient.objects.get(key="email-platform").name == "Email platform"
    assert purpose_keys("email-platform") == ["analytics", "marketing-email"]


def test_the_same_key_may_be_used_by_another_organization(
    existing: dict[str, Any],
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
) -> None:
    other = api_client_for(other_organization, "provenance:read", "provenance:write")

    response = other.post("/api/v1/recipients", recipient_body(purposes=[]), format="json")

    assert response.status_code == 201, response.content[:1000]
    assert Recipient.objects.filter(key="email-platform").count() == 2


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"key": "Not A Key"}, "/key"),
        ({"key": ""}, "/key"),
        ({"role": "friend"}, "/role"),
        ({"name": ""}, "/name"),
        ({"endpoint_url": "not a url"}, "/endpoint_url"),
        ({"legacy_usp": "yes"}, "/legacy_usp"),
        ({"purposes": "analytics"}, "/purposes"),
    ],
)
def test_invalid_fields_are_422_and_create_nothing(
    purposes: dict[str, Purpose], provenance_client: APIClient, overrides: dict[str, Any], pointer: str
) -> None:
    before = counts()

    response = provenance_client.post("/api/v1/recipients", recipient_body(**overrides), format="json")

    assert pointer in pointers(assert_problem(response, 422, "validation-error"))
    assert counts() == before


def test_patch_changes_the_fields_sent_and_audits_it(
    organization: Organization, existing: dict[str, Any], provenance_client: APIClient
) -> None:
    response = provenance_client.patch(
        "/api/v1/recipients/email-platform", {"name": "Mailer", "legacy_usp": True}, format="json"
    )

    assert response.status_code == 200, response.content[:1000]
    body = response.json()
    assert (body["key"], body["name"], body["legacy_usp"], body["role"]) == (
        "email-platform",
        "Mailer",
        True,
        "service_provider",
    )
    assert sorted(body["purposes"]) == ["analytics", "marketing-email"]
    audit = AuditLogEntry.objects.get(action="recipient.updated")
    assert (audit.organization_id, audit.data) == (organization.pk, {"key": "email-platform"})


def test_patch_of_purposes_replaces_the_set(existing: dict[str, Any], provenance_client: APIClient) -> None:
    response = provenance_client.patch("/api/v1/recipients/email-platform", {"purposes": ["newsletter"]}, format="json")

    assert response.status_code == 200, response.content[:1000]
    assert response.json()["purposes"] == ["newsletter"]
    assert purpose_keys("email-platform") == ["newsletter"]


def test_patch_with_an_unknown_purpose_changes_nothing(existing: dict[str, Any], provenance_client: APIClient) -> None:
    before = counts()

    response = provenance_client.patch(
        "/api/v1/recipients/email-platform", {"name": "Renamed", "purposes": ["no-such-purpose"]}, format="json"
    )

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/purposes"}
    assert counts() == before
    assert Recipient.objects.get(key="email-platform").name == "Email platform"
    assert purpose_keys("email-platform") == ["analytics", "marketing-email"]


@pytest.mark.parametrize("method", ["patch", "put"])
def test_key_is_immutable(existing: dict[str, Any], provenance_client: APIClient, method: str) -> None:
    before = counts()
    body = recipient_body(key="renamed") if method == "put" else {"key": "renamed"}

    response = getattr(provenance_client, method)("/api/v1/recipients/email-platform", body, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/key"}
    assert counts() == before
    assert list(Recipient.objects.values_list("key", flat=True)) == ["email-platform"]
    assert provenance_client.get("/api/v1/recipients/renamed").status_code == 404


def test_patch_that_repeats_the_same_key_is_accepted(existing: dict[str, Any], provenance_client: APIClient) -> None:
    response = provenance_client.patch(
        "/api/v1/recipients/email-platform", {"key": "email-platform", "name": "Same key"}, format="json"
    )

    assert response.status_code == 200, response.content[:1000]
    assert response.json()["name"] == "Same key"


def test_put_replaces_the_recipient(existing: dict[str, Any], provenance_client: APIClient) -> None:
    response = provenance_client.put(
        "/api/v1/recipients/email-platform",
        recipient_body(name="Ad network", role="third_party", purposes=["ad-sale"]),
        format="json",
    )

    assert response.status_code == 200, response.content[:1000]
    body = response.json()
    assert (body["name"], body["role"], body["purposes"]) == ("Ad network", "third_party", ["ad-sale"])
    assert AuditLogEntry.objects.filter(action="recipient.updated").count() == 1


def test_put_without_every_required_field_is_422(existing: dict[str, Any], provenance_client: APIClient) -> None:
    before = counts()

    response = provenance_client.put("/api/v1/recipients/email-platform", {"name": "Only a name"}, format="json")

    assert {"/key", "/role", "/purposes"} <= pointers(assert_problem(response, 422, "validation-error"))
    assert counts() == before


def test_unknown_recipient_is_404(purposes: dict[str, Purpose], provenance_client: APIClient) -> None:
    assert_problem(provenance_client.get("/api/v1/recipients/nobody"), 404, "not-found")
    assert_problem(provenance_client.patch("/api/v1/recipients/nobody", {"name": "x"}, format="json"), 404, "not-found")


def test_another_organization_cannot_see_or_change_a_recipient(
    existing: dict[str, Any],
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
) -> None:
    other = api_client_for(other_organization, "provenance:read", "provenance:write")
    before = counts()

    listed = other.get("/api/v1/recipients")
    detail = other.get("/api/v1/recipients/email-platform")
    patched = other.patch("/api/v1/recipients/email-platform", {"name": "Hijacked"}, format="json")
    put = other.put("/api/v1/recipients/email-platform", recipient_body(purposes=[]), format="json")

    assert listed.status_code == 200
    assert listed.json()["results"] == []
    for response in (detail, patched, put):
        assert_problem(response, 404, "not-found")
    assert counts() == before
    assert Recipient.objects.get(key="email-platform").name == "Email platform"


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "/api/v1/recipients", "provenance:read"),
        ("post", "/api/v1/recipients", "provenance:write"),
        ("get", "/api/v1/recipients/email-platform", "provenance:read"),
        ("patch", "/api/v1/recipients/email-platform", "provenance:write"),
        ("put", "/api/v1/recipients/email-platform", "provenance:write"),
    ],
)
def test_each_recipient_endpoint_requires_its_scope(
    existing: dict[str, Any],
    organization: Organization,
    api_client_for: Callable[..., APIClient],
    method: str,
    path: str,
    scope: str,
) -> None:
    other_scope = "provenance:write" if scope == "provenance:read" else "provenance:read"
    client = api_client_for(organization, other_scope, "stamp", "consent:read", "consent:write")
    before = counts()

    response = getattr(client, method)(path, recipient_body(key="email-platform"), format="json")

    assert assert_problem(response, 403, "insufficient-scope")["required_scope"] == scope
    assert counts() == before


def test_recipient_changes_take_effect_on_the_next_stamp(
    organization: Organization,
    recipients: dict[str, Recipient],
    provenance_client: APIClient,
    stamp_client: APIClient,
) -> None:
    record(organization, "cust-1", "marketing-email")
    request = {"recipient": "warehouse", "purpose": "marketing-email", "subject_id": "cust-1", "data": {"plan": "pro"}}
    before = stamp_client.post("/api/v1/stamps", request, format="json").json()

    provenance_client.patch(
        "/api/v1/recipients/warehouse",
        {"purposes": ["analytics", "marketing-email"], "role": "processor"},
        format="json",
    )
    registered = stamp_client.post("/api/v1/stamps", request, format="json").json()
    provenance_client.patch("/api/v1/recipients/warehouse", {"is_active": False}, format="json")
    inactive = stamp_client.post("/api/v1/stamps", request, format="json")

    assert [r["reason"] for r in before["reasons"]] == ["PURPOSE_NOT_REGISTERED_FOR_RECIPIENT"]
    assert registered["decision"] == "allow"
    assert registered["body"]["privacy"]["recipient"] == {"key": "warehouse", "role": "processor"}
    assert registered["body"]["privacy"]["restrictions"] == ["service_provider_use_only"]
    assert assert_problem(inactive, 422, "validation-error")["errors"] == [
        {"pointer": "/recipient", "detail": "unknown recipient 'warehouse'"}
    ]
