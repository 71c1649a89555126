"""Catalog CRUD over the API: sources, purposes and policy versions. Keys never change, sources
retire instead of disappearing, built-in sources are read-only, and every change is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent.models import PolicyVersion, Purpose, Source
from consent.services import system_source
from core.models import ApiKey, AuditLogEntry, Organization
from tests.conftest import event_body
from tests.consent.api_contract import (
    NOTICE_SHA256,
    assert_problem,
    iso,
    pointers,
    policy_version_body,
    purpose_body,
    row_counts,
    seed_world,
    source_body,
)

SOURCES = "/api/v1/sources"
PURPOSES = "/api/v1/purposes"


@pytest.fixture
def client(client_rw: APIClient) -> APIClient:
    return client_rw


def actor_of(organization: Organization) -> str:
    key = ApiKey.objects.filter(organization=organization, name="test").get()
    return f"api_key:{key.prefix}"


def last_audit(action: str) -> AuditLogEntry:
    return AuditLogEntry.objects.filter(action=action).order_by("-id").first()  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


def test_created_source_is_returned_listed_readable_and_audited(client: APIClient, organization: Organization) -> None:
    response = client.post(SOURCES, source_body(vendor_name="Acme CRM", dpa_date="2025-03-01"), format="json")

    assert response.status_code == 201
    created = response.json()
    assert created["key"] == "crm-import"
    assert created["kind"] == "import"
    assert created["vendor_name"] == "Acme CRM"
    assert created["dpa_date"] == "2025-03-01"
    assert created["lawful_basis"] == "consent"
    assert created["is_active"] is True
    assert created["is_builtin"] is False
    assert client.get(f"{SOURCES}/crm-import").json() == created
    assert [s["key"] for s in client.get(SOURCES).json()["results"]] == ["crm-import"]
    entry = last_audit("source.created")
    assert entry.organization == organization
    assert entry.object_type == "source"
    assert entry.object_id == str(Source.objects.get(key="crm-import").pk)
    assert entry.actor == actor_of(organization)
    assert entry.data == {"key": "crm-import"}


def test_sources_are_listed_in_key_order(client: APIClient) -> None:
    for key in ["zeta", "alpha", "mid"]:
        client.post(SOURCES, source_body(key=key), format="json")

    assert [s["key"] for s in client.get(SOURCES).json()["results"]] == ["alpha", "mid", "zeta"]


def test_duplicate_source_key_is_a_409_and_writes_nothing(client: APIClient, source: Source) -> None:
    before = row_counts()

    response = client.post(SOURCES, source_body(key=source.key), format="json")

    assert_problem(response, 409, "conflict")
    assert row_counts() == before


def test_same_source_key_may_exist_in_two_organizations(
    client: APIClient, other_organization: Organization, api_client_for: Any
) -> None:
    other = api_client_for(other_organization, "consent:write")

    assert client.post(SOURCES, source_body(), format="json").status_code == 201
    assert other.post(SOURCES, source_body(), format="json").status_code == 201


def test_patching_a_source_changes_only_the_fields_sent_and_is_audited(
    client: APIClient, source: Source, organization: Organization
) -> None:
    response = client.patch(f"{SOURCES}/{source.key}", {"vendor_name": "Typeform"}, format="json")

    assert response.status_code == 200
    assert response.json()["vendor_name"] == "Typeform"
    assert response.json()["name"] == "Signup form"
    source.refresh_from_db()
    assert source.vendor_name == "Typeform"
    entry = last_audit("source.updated")
    assert entry.data == {"key": source.key, "fields": ["vendor_name"]}
    assert entry.actor == actor_of(organization)


def test_putting_a_source_replaces_its_details(client: APIClient, source: Source) -> None:
    response = client.put(
        f"{SOURCES}/{source.key}", source_body(key=source.key, name="New form", kind="mobile_app"), format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "New form"
    assert response.json()["kind"] == "mobile_app"
    assert last_audit("source.updated").data["key"] == source.key


def test_put_without_required_fields_is_a_422(client: APIClient, source: Source) -> None:
    before = row_counts()

    response = client.put(f"{SOURCES}/{source.key}", {"name": "Only a name"}, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/key", "/kind"}
    assert row_counts() == before


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_source_key_never_changes(client: APIClient, source: Source, method: str) -> None:
    before = row_counts()

    response = getattr(client, method)(f"{SOURCES}/{source.key}", source_body(key="renamed"), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/key"}
    assert row_counts() == before
    assert Source.objects.filter(key=source.key).exists()
    assert not Source.objects.filter(key="renamed").exists()


def test_patch_repeating_the_same_key_is_accepted(client: APIClient, source: Source) -> None:
    response = client.patch(f"{SOURCES}/{source.key}", {"key": source.key, "name": "Same"}, format="json")

    assert response.status_code == 200
    assert response.json()["key"] == source.key


def test_a_source_cannot_be_turned_into_a_system_source(client: APIClient, source: Source) -> None:
    response = client.patch(f"{SOURCES}/{source.key}", {"kind": "system"}, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/kind"}


def test_deleting_a_source_retires_it_and_later_events_from_it_are_refused(
    client: APIClient, source: Source, purpose: Purpose
) -> None:
    recorded = client.post("/api/v1/consent-events", event_body(), format="json")
    assert recorded.status_code == 201

    response = client.delete(f"{SOURCES}/{source.key}")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert client.get(f"{SOURCES}/{source.key}").json()["is_active"] is False
    assert source.key in [s["key"] for s in client.get(SOURCES).json()["results"]]
    assert last_audit("source.retired").data == {"key": source.key}
    before = row_counts()
    refused = client.post("/api/v1/consent-events", event_body(), format="json")
    body = assert_problem(refused, 422, "unknown-source")
    assert source.key not in body["known_sources"]
    assert row_counts() == before
    history = client.get("/api/v1/subjects/cust-1/consent-events").json()
    assert history["results"][0]["source"] == source.key


def test_a_retired_source_can_be_reactivated(client: APIClient, source: Source, purpose: Purpose) -> None:
    client.delete(f"{SOURCES}/{source.key}")

    response = client.patch(f"{SOURCES}/{source.key}", {"is_active": True}, format="json")

    assert response.json()["is_active"] is True
    assert client.post("/api/v1/consent-events", event_body(), format="json").status_code == 201


@pytest.mark.parametrize(
    ("method", "body"),
    [("patch", {"name": "Mine now"}), ("put", source_body(key="provenant")), ("delete", None)],
)
def test_built_in_source_cannot_be_changed_or_retired(
    client: APIClient, organization: Organization, method: str, body: dict[str, Any] | None
) -> None:
    builtin = system_source(organization)
    before = row_counts()

    kwargs: dict[str, Any] = {} if body is None else {"data": body, "format": "json"}
    response = getattr(client, method)(f"{SOURCES}/{builtin.key}", **kwargs)

    assert_problem(response, 409, "conflict")
    assert row_counts() == before
    builtin.refresh_from_db()
    assert (builtin.name, builtin.is_active) == ("Provenant (system)", True)


def test_built_in_source_is_listed_as_built_in(client: APIClient, organization: Organization) -> None:
    system_source(organization)

    listed = client.get(SOURCES).json()["results"]

    assert [(s["key"], s["is_builtin"], s["kind"]) for s in listed] == [("provenant", True, "system")]


def test_unknown_source_key_is_a_404(client: APIClient) -> None:
    assert_problem(client.get(f"{SOURCES}/nope"), 404, "not-found")
    assert_problem(client.patch(f"{SOURCES}/nope", {"name": "x"}, format="json"), 404, "not-found")
    assert_problem(client.delete(f"{SOURCES}/nope"), 404, "not-found")


# ---------------------------------------------------------------------------------------------
# Purposes
# ---------------------------------------------------------------------------------------------


def test_created_purpose_is_returned_listed_readable_and_audited(client: APIClient, organization: Organization) -> None:
    response = client.post(
        PURPOSES,
        purpose_body(validity="P6M", is_targeted_advertising=True, dpv_purpose_iri="https://w3id.org/dpv#Marketing"),
        format="json",
    )

    assert response.status_code == 201
    created = response.json()
    assert created["key"] == "analytics"
    assert created["validity"] == "P6M"
    assert created["is_targeted_advertising"] is True
    assert created["legal_basis"] == "consent"
    assert created["current_policy_version"] is None
    assert client.get(f"{PURPOSES}/analytics").json() == created
    assert [p["key"] for p in client.get(PURPOSES).json()] == ["analytics"]
    entry = last_audit("purpose.created")
    assert entry.object_type == "purpose"
    assert entry.object_id == str(Purpose.objects.get(key="analytics").pk)
    assert entry.organization == organization
    assert entry.actor == actor_of(organization)


def test_duplicate_purpose_key_is_a_409_and_writes_nothing(client: APIClient, purpose: Purpose) -> None:
    before = row_counts()

    response = client.post(PURPOSES, purpose_body(key=purpose.key), format="json")

    assert_problem(response, 409, "conflict")
    assert row_counts() == before


def test_patching_a_purpose_is_audited_with_the_fields_changed(client: APIClient, purpose: Purpose) -> None:
    response = client.patch(f"{PURPOSES}/{purpose.key}", {"validity": "P1Y", "is_sensitive": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["validity"], response.json()["is_sensitive"]) == ("P1Y", True)
    assert last_audit("purpose.updated").data == {"key": purpose.key, "fields": ["is_sensitive", "validity"]}


def test_putting_a_purpose_replaces_its_details(client: APIClient, purpose: Purpose) -> None:
    response = client.put(
        f"{PURPOSES}/{purpose.key}",
        purpose_body(key=purpose.key, name="Newsletter", description="Weekly"),
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("Newsletter", "Weekly")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_purpose_key_never_changes(client: APIClient, purpose: Purpose, method: str) -> None:
    before = row_counts()

    response = getattr(client, method)(f"{PURPOSES}/{purpose.key}", purpose_body(key="renamed"), format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/key"}
    assert row_counts() == before


def test_invalid_validity_on_patch_is_a_422_and_changes_nothing(client: APIClient, purpose: Purpose) -> None:
    before = row_counts()

    response = client.patch(f"{PURPOSES}/{purpose.key}", {"validity": "forever"}, format="json")

    assert pointers(assert_problem(response, 422, "validation-error")) == {"/validity"}
    assert row_counts() == before
    purpose.refresh_from_db()
    assert purpose.validity == ""


def test_purpose_validity_sets_valid_until_on_grants(client: APIClient, source: Source) -> None:
    client.post(PURPOSES, purpose_body(validity="P6M"), format="json")

    event = client.post("/api/v1/consent-events", event_body(purpose="analytics"), format="json").json()

    assert event["valid_until"] is not None
    assert event["consent"]["valid_until"] == event["valid_until"]


def test_unknown_purpose_key_is_a_404(client: APIClient) -> None:
    assert_problem(client.get(f"{PURPOSES}/nope"), 404, "not-found")
    assert_problem(client.patch(f"{PURPOSES}/nope", {"name": "x"}, format="json"), 404, "not-found")
    assert_problem(client.get(f"{PURPOSES}/nope/policy-versions"), 404, "not-found")
    assert_problem(client.post(f"{PURPOSES}/nope/policy-versions", policy_version_body(), format="json"), 404)


# ---------------------------------------------------------------------------------------------
# Policy versions
# ---------------------------------------------------------------------------------------------


def test_published_policy_version_is_listed_becomes_current_and_is_audited(
    client: APIClient, purpose: Purpose, organization: Organization
) -> None:
    response = client.post(
        f"{PURPOSES}/{purpose.key}/policy-versions",
        policy_version_body(notice_url="https://acme.test/privacy", is_material=True),
        format="json",
    )

    assert response.status_code == 201
    created = response.json()
    assert created["purpose"] == purpose.key
    assert created["version"] == "2026-01"
    assert created["notice_sha256"] == NOTICE_SHA256
    assert created["is_material"] is True
    assert client.get(f"{PURPOSES}/{purpose.key}/policy-versions").json() == [created]
    assert client.get(f"{PURPOSES}/{purpose.key}").json()["current_policy_version"] == "2026-01"
    entry = last_audit("policy_version.created")
    assert entry.object_type == "policy_version"
    assert entry.object_id == str(PolicyVersion.objects.get(version="2026-01").pk)
    assert entry.data == {"purpose": purpose.key, "version": "2026-01", "is_material": True}
    assert entry.actor == actor_of(organization)


def test_future_policy_version_is_listed_but_not_yet_current(client: APIClient, purpose: Purpose) -> None:
    client.post(f"{PURPOSES}/{purpose.key}/policy-versions", policy_version_body(version="old"), format="json")
    client.post(
        f"{PURPOSES}/{purpose.key}/policy-versions",
        policy_version_body(version="next", effective_at=iso(timezone.now() + timedelta(days=7))),
        format="json",
    )

    listed = client.get(f"{PURPOSES}/{purpose.key}/policy-versions").json()

    assert [v["version"] for v in listed] == ["old", "next"]
    assert client.get(f"{PURPOSES}/{purpose.key}").json()["current_policy_version"] == "old"


def test_events_default_to_the_policy_version_in_effect(client: APIClient, purpose: Purpose, source: Source) -> None:
    client.post(f"{PURPOSES}/{purpose.key}/policy-versions", policy_version_body(), format="json")

    event = client.post("/api/v1/consent-events", event_body(), format="json").json()

    assert event["policy_version"] == "2026-01"
    assert event["consent"]["policy_version"] == "2026-01"


def test_duplicate_policy_version_is_a_409_and_writes_nothing(client: APIClient, purpose: Purpose) -> None:
    client.post(f"{PURPOSES}/{purpose.key}/policy-versions", policy_version_body(), format="json")
    before = row_counts()

    response = client.post(f"{PURPOSES}/{purpose.key}/policy-versions", policy_version_body(), format="json")

    assert_problem(response, 409, "conflict")
    assert row_counts() == before


def test_same_version_label_may_be_used_by_two_purposes(
    client: APIClient, purpose: Purpose, organization: Organization, source: Source
) -> None:
    world = seed_world(organization, source, purpose)
    client.post(PURPOSES, purpose_body(), format="json")

    response = client.post(
        f"{PURPOSES}/analytics/policy-versions", policy_version_body(version="2025-01"), format="json"
    )

    assert response.status_code == 201
    assert world.policy_version.version == "2025-01"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_policy_versions_cannot_be_changed_once_published(client: APIClient, purpose: Purpose, method: str) -> None:
    client.post(f"{PURPOSES}/{purpose.key}/policy-versions", policy_version_body(), format="json")
    before = row_counts()

    response = getattr(client, method)(
        f"{PURPOSES}/{purpose.key}/policy-versions", policy_version_body(), format="json"
    )

    assert_problem(response, 405, "method-not-allowed")
    assert row_counts() == before
