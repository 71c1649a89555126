"""Shared fixtures: organizations, API clients with chosen scopes, catalog rows, event bodies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.enums import SourceKind
from consent.models import Purpose, Source
from core.models import Organization
from core.services import api_key_create, organization_create

# The report's hand-computed dataset and client users (used by tests/reports and tests/browser).
pytest_plugins = ["tests.reports.fixtures"]


@pytest.fixture
def organization(db: Any) -> Organization:
    return organization_create(slug="acme", name="Acme", actor="test")


@pytest.fixture
def other_organization(db: Any) -> Organization:
    return organization_create(slug="globex", name="Globex", actor="test")


@pytest.fixture
def api_client_for() -> Callable[..., APIClient]:
    """``api_client_for(org, "consent:read", ...)``: an APIClient holding a fresh key with those scopes."""

    def make(organization: Organization, *scopes: str) -> APIClient:
        _, secret = api_key_create(
            organization=organization, name="test", scopes=list(scopes) or ["consent:read"], actor="test"
        )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def client_rw(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "consent:read", "consent:write")


@pytest.fixture
def source(organization: Organization) -> Source:
    return consent_services.source_create(
        organization=organization, actor="test", key="web-signup", name="Signup form", kind=SourceKind.WEB_FORM
    )


@pytest.fixture
def purpose(organization: Organization) -> Purpose:
    return consent_services.purpose_create(
        organization=organization, actor="test", key="marketing-email", name="Marketing email"
    )


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def event_body(**overrides: Any) -> dict[str, Any]:
    """A valid consent-event request body; override any field."""
    body: dict[str, Any] = {
        "subject_id": "cust-1",
        "purpose": "marketing-email",
        "action": "grant",
        "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        "source": "web-signup",
        "collection_method": "web_form",
        "jurisdiction": "DE",
    }
    body.update(overrides)
    return body


def event_input(**overrides: Any) -> consent_services.ConsentEventInput:
    """A service-level event input; occurred_at may be given as an ISO string."""
    values: dict[str, Any] = {
        "subject_id": "cust-1",
        "purpose": "marketing-email",
        "action": "grant",
        "occurred_at": timezone.now() - timedelta(minutes=1),
        "source": "web-signup",
        "collection_method": "web_form",
        "jurisdiction": "DE",
    }
    values.update(overrides)
    if isinstance(values["occurred_at"], str):
        values["occurred_at"] = instant(values["occurred_at"])
    return consent_services.ConsentEventInput(**values)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests under tests/integration/ and tests/browser/ carry their suite's marker, so the inner loop
    (``make test-fast``: ``-m "not integration and not browser"``) leaves out real workers and browsers."""
    for item in items:
        suite = item.path.relative_to(config.rootpath).parts[1:2]
        if suite == ("integration",):
            item.add_marker(pytest.mark.integration)
        elif suite == ("browser",):
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def migrations_restored() -> Any:
    """For migration tests: after the test, every app is migrated to its latest migration again."""
    from tests.migration_steps import migrate_to_latest

    yield
    migrate_to_latest()
