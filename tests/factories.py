"""factory_boy factories for tests that need volume: many events for one person, many people.

Rows that the product writes only through services are built through those services (the ledger chain and
the projection are never written around ``consent_record_many``); factories build the *inputs*.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import factory

from consent import services as consent_services
from core.models import Organization
from core.services import organization_create

START = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
ACTIONS = ("grant", "withdraw", "grant", "refuse")


class OrganizationFactory(factory.Factory):
    """An organization created through ``organization_create`` (audited like any other)."""

    class Meta:
        model = Organization

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())

    @classmethod
    def _create(cls, model_class: type[Organization], *args: Any, **kwargs: Any) -> Organization:
        return organization_create(slug=kwargs["slug"], name=kwargs["name"], actor="test:factory")


class ConsentEventInputFactory(factory.Factory):
    """A person's decisions over time: one event an hour, cycling grant, withdraw, grant, refuse."""

    class Meta:
        model = consent_services.ConsentEventInput

    subject_id = "cust-1"
    purpose = "marketing-email"
    action = factory.Sequence(lambda n: ACTIONS[n % len(ACTIONS)])
    occurred_at = factory.Sequence(lambda n: START + timedelta(hours=n))
    source = "web-signup"
    collection_method = "web_form"
    jurisdiction = "DE"
