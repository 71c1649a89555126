"""Provenance fixtures: a catalog with sale and non-sale purposes, recipients of every role, API
clients holding the stamp and provenance scopes, and helpers that record consent facts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.enums import GpcChannel
from consent.models import PolicyVersion, Purpose, Source
from core.models import Organization
from provenance.models import Recipient
from provenance.services import keys
from provenance.services.recipients import recipient_create
from tests.conftest import event_input

NOTICE_SHA256 = "b" * 64


@pytest.fixture(autouse=True)
def fresh_signing_key_cache() -> Iterator[None]:
    """The current signing key is cached per process; a key cached by an earlier test was rolled back."""
    keys._cache.clear()
    yield
    keys._cache.clear()


@pytest.fixture
def purposes(organization: Organization, purpose: Purpose) -> dict[str, Purpose]:
    """marketing-email (from the shared fixture), a sale purpose, a non-sale one, one that lapses."""
    extra: dict[str, dict[str, Any]] = {
        "ad-sale": {"is_sale_or_sharing": True},
        "analytics": {},
        "newsletter": {"validity": "P30D"},
    }
    created = {
        key: consent_services.purpose_create(organization=organization, actor="test", key=key, name=key, **flags)
        for key, flags in extra.items()
    }
    return {"marketing-email": purpose, **created}


@pytest.fixture
def policy_version(purpose: Purpose) -> PolicyVersion:
    """marketing-email's notice in effect since a month ago."""
    return consent_services.policy_version_create(
        purpose=purpose,
        actor="test",
        version="2025-01",
        notice_sha256=NOTICE_SHA256,
        effective_at=timezone.now() - timedelta(days=30),
    )


@pytest.fixture
def recipients(organization: Organization, source: Source, purposes: dict[str, Purpose]) -> dict[str, Recipient]:
    """crm (processor), mailer (service provider that wants the US Privacy string), ad-network
    (third party) and warehouse (controller, registered for analytics only)."""
    specs: dict[str, dict[str, Any]] = {
        "crm": {"role": "processor", "purposes": ["marketing-email", "analytics", "newsletter", "ad-sale"]},
        "mailer": {"role": "service_provider", "purposes": ["marketing-email", "analytics"], "legacy_usp": True},
        "ad-network": {"role": "third_party", "purposes": ["ad-sale", "analytics", "marketing-email"]},
        "warehouse": {"role": "controller", "purposes": ["analytics"]},
    }
    return {
        key: recipient_create(organization=organization, actor="test", key=key, name=key.title(), **spec)
        for key, spec in specs.items()
    }


@pytest.fixture
def stamp_client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "stamp")


@pytest.fixture
def provenance_client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "provenance:read", "provenance:write")


def record(
    organization: Organization,
    subject_id: str,
    purpose: str,
    action: str = "grant",
    *,
    jurisdiction: str = "DE",
    occurred_at: datetime | None = None,
    policy_version: str | None = None,
) -> str:
    """Record one consent event through the ledger service; returns its event id."""
    recorded = consent_services.consent_record(
        organization=organization,
        item=event_input(
            subject_id=subject_id,
            purpose=purpose,
            action=action,
            jurisdiction=jurisdiction,
            occurred_at=occurred_at or timezone.now() - timedelta(minutes=1),
            policy_version=policy_version,
        ),
    )
    return recorded.event.event_id


def gpc_signal(organization: Organization, subject_id: str, jurisdiction: str = "US-CA") -> None:
    outcome = consent_services.gpc_signal_record(
        organization=organization,
        subject_id=subject_id,
        channel=GpcChannel.HEADER,
        jurisdiction=jurisdiction,
    )
    assert outcome is not None
    assert outcome.decision.is_honored
