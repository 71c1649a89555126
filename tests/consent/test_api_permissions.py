"""Permission matrix of every consent API endpoint: no key, malformed header, revoked key, wrong
scope, another organization's key, right key. Denied calls change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.enums import SourceKind
from consent.models import Source
from core.models import Organization
from core.scopes import SCOPES
from core.services import api_key_create, api_key_revoke
from tests.conftest import event_body
from tests.consent.api_contract import (
    ENDPOINTS,
    READ,
    WRITE,
    Endpoint,
    World,
    assert_problem,
    call,
    pointers,
    row_counts,
    seed_world,
)

OBJECT_ENDPOINTS = [e for e in ENDPOINTS if e.addresses_object]
# Every route the root URLconf serves under /api/v1/, whichever app's urls.py it comes from.
urlpatterns = [
    pattern
    for resolver in get_resolver().url_patterns
    if isinstance(resolver, URLResolver) and str(resolver.pattern) == "api/v1/"
    for pattern in resolver.url_patterns
]
MALFORMED_AUTHORIZATION = [
    "Basic dXNlcjpwYXNz",
    "Bearer",
    "Bearer    ",
    "Token pvn_abc_def",
    "pvn_abc_def",
    "Bearer pvn_00000000_not-a-real-key",
]


@pytest.fixture
def world(organization: Organization, source: Source, purpose: Any) -> World:
    return seed_world(organization, source, purpose)


def test_endpoint_table_covers_every_route_and_method_in_the_urlconf() -> None:
    routed = {
        (method, str(pattern.pattern))
        for pattern in urlpatterns
        for method in pattern.callback.view_class.required_scopes  # type: ignore[attr-defined]
    }
    table = {(e.method, e.route) for e in ENDPOINTS}
    assert table == routed


def test_endpoint_table_names_the_scope_each_view_requires() -> None:
    scopes = {
        (method, str(pattern.pattern)): scope
        for pattern in urlpatterns
        for method, scope in pattern.callback.view_class.required_scopes.items()  # type: ignore[attr-defined]
    }
    assert {(e.method, e.route): e.scope for e in ENDPOINTS} == scopes


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_request_without_api_key_is_unauthenticated_and_changes_nothing(world: World, endpoint: Endpoint) -> None:
    before = row_counts()

    response = call(APIClient(), endpoint, world)

    body = assert_problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="provenant"'
    assert "required_scope" not in body
    assert row_counts() == before


@pytest.mark.parametrize("header", MALFORMED_AUTHORIZATION)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_malformed_or_unknown_authorization_is_unauthenticated_and_changes_nothing(
    world: World, endpoint: Endpoint, header: str
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    before = row_counts()

    response = call(client, endpoint, world)

    assert_problem(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="provenant"'
    assert row_counts() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_revoked_key_is_unauthenticated_and_changes_nothing(world: World, endpoint: Endpoint) -> None:
    api_key, secret = api_key_create(organization=world.organization, name="old", scopes=[READ, WRITE], actor="test")
    api_key_revoke(api_key=api_key, actor="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    before = row_counts()

    response = call(client, endpoint, world)

    assert_problem(response, 401, "unauthenticated")
    assert row_counts() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_key_without_the_required_scope_is_forbidden_and_changes_nothing(
    world: World, endpoint: Endpoint, api_client_for: Callable[..., APIClient]
) -> None:
    other_scope = READ if endpoint.scope == WRITE else WRITE
    client = api_client_for(world.organization, other_scope)
    before = row_counts()

    response = call(client, endpoint, world)

    body = assert_problem(response, 403, "insufficient-scope")
    assert body["required_scope"] == endpoint.scope
    assert endpoint.scope in body["detail"]
    assert row_counts() == before


@pytest.mark.parametrize("endpoint", OBJECT_ENDPOINTS, ids=str)
def test_key_of_another_organization_cannot_see_or_change_this_organizations_objects(
    world: World,
    endpoint: Endpoint,
    other_organization: Organization,
    api_client_for: Callable[..., APIClient],
) -> None:
    client = api_client_for(other_organization, *SCOPES)
    before = row_counts()

    response = call(client, endpoint, world)

    body = assert_problem(response, 404, "not-found")
    assert world.event_id not in response.content.decode()
    assert "errors" not in body
    assert row_counts() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_key_with_the_required_scope_succeeds(
    world: World, endpoint: Endpoint, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(world.organization, endpoint.scope)

    response = call(client, endpoint, world)

    assert response.status_code == endpoint.success, response.content[:500]
    assert response["Content-Type"] == endpoint.content_type


def test_other_organization_cannot_record_events_against_this_organizations_catalog(
    world: World, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(other_organization, WRITE)
    before = row_counts()

    response = client.post("/api/v1/consent-events", event_body(), format="json")

    body = assert_problem(response, 422, "unknown-source")
    assert world.source.key not in body["known_sources"]
    assert {"/source", "/purpose"} <= pointers(body)
    assert row_counts() == before


def test_other_organization_cannot_invalidate_this_organizations_event(
    world: World, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    consent_services.source_create(
        organization=other_organization,
        actor="test",
        key="web-signup",
        name="Signup",
        kind=SourceKind.WEB_FORM,
    )
    consent_services.purpose_create(
        organization=other_organization, actor="test", key="marketing-email", name="Marketing email"
    )
    client = api_client_for(other_organization, WRITE)
    before = row_counts()

    response = client.post(
        "/api/v1/consent-events", event_body(action="invalidate", supersedes=world.event_id), format="json"
    )

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) == {"/supersedes"}
    assert row_counts() == before


@pytest.mark.parametrize("path", ["/api/v1/sources", "/api/v1/purposes"])
def test_catalog_lists_show_only_the_callers_organization(
    world: World, path: str, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(other_organization, READ)

    response = client.get(path)

    assert response.status_code == 200
    items = response.json()["results"] if path.endswith("sources") else response.json()  # sources: the envelope
    assert [item["key"] for item in items] == []


def test_ledger_verification_covers_only_the_callers_organization(
    world: World, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    other = api_client_for(other_organization, READ)
    own = api_client_for(world.organization, READ)

    assert other.get("/api/v1/ledger/verify").json()["events_checked"] == 0
    assert own.get("/api/v1/ledger/verify").json()["events_checked"] == 1
