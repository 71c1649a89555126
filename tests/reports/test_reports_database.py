"""Reports read through the ``reports`` database alias (issue #16): a replica when ``REPORTS_DATABASE_URL`` names
one, the primary otherwise. Under tests the alias mirrors the test database, on its own connection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connections
from django.test.utils import CaptureQueriesContext, override_settings

from consent import services as consent_services
from consent.enums import SourceKind
from core.services import organization_create
from reports import selectors


def test_reports_read_the_primary_unless_a_replica_is_configured() -> None:
    assert "reports" in settings.DATABASES
    assert settings.PROVENANT_REPORTS_DATABASE == "default"  # REPORTS_DATABASE_URL is unset under tests
    assert selectors.reports_database() == "default"


@pytest.mark.django_db(transaction=True, databases=["default", "reports"])
def test_with_the_reports_alias_every_report_query_goes_to_it() -> None:
    organization = organization_create(slug="replica", name="Replica", actor="test")
    consent_services.source_create(
        organization=organization, actor="test", key="web", name="Web", kind=SourceKind.WEB_FORM
    )
    consent_services.purpose_create(organization=organization, actor="test", key="news", name="News")
    now = datetime.now(UTC)
    consent_services.consent_record(
        organization=organization,
        item=consent_services.ConsentEventInput(
            subject_id="s-1",
            purpose="news",
            action="grant",
            occurred_at=now - timedelta(minutes=1),
            source="web",
            collection_method="web_form",
            jurisdiction="DE",
        ),
    )
    today = now.date()

    with (
        override_settings(PROVENANT_REPORTS_DATABASE="reports"),
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["reports"]) as replica,
    ):
        report = selectors.compliance_report(
            organization=organization,
            period=selectors.Period(start=today - timedelta(days=7), end=today),
            now=now,
        )

    assert report["consent"]["opt_in_rate"] == [{"purpose": "news", "grants": 1, "refusals": 0, "rate": 1.0}]
    assert len(replica.captured_queries) >= 5
    assert primary.captured_queries == []
