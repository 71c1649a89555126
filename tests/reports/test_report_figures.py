"""Compliance report figures against a small dataset built through the services, expected values by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from core.models import Organization
from tests.consent.api_contract import assert_problem
from tests.reports.fixtures import day, record

URL = "/api/v1/reports/compliance"


def report(client: APIClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"{URL}?{query}" if query else URL)
    assert response.status_code == 200, response.content[:500]
    return response.json()  # type: ignore[no-any-return]


def test_consent_figures_count_events_per_purpose_and_day(
    dataset: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    consent = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(0)}")["consent"]

    # GPC today: s4's ad-sale grant withdrawn; s1 and s6 opted out of ad-sale (recorded as refusals).
    assert consent["daily"] == [
        {"purpose": "ad-sale", "day": day(8), "grants": 1, "refusals": 0, "withdrawals": 0},
        {"purpose": "ad-sale", "day": day(0), "grants": 0, "refusals": 2, "withdrawals": 1},
        {"purpose": "analytics", "day": day(15), "grants": 1, "refusals": 1, "withdrawals": 0},
        {"purpose": "marketing-email", "day": day(10), "grants": 2, "refusals": 0, "withdrawals": 0},
        {"purpose": "marketing-email", "day": day(5), "grants": 1, "refusals": 1, "withdrawals": 1},
        {"purpose": "marketing-email", "day": day(1), "grants": 1, "refusals": 0, "withdrawals": 0},
    ]
    assert consent["opt_in_rate"] == [
        {"purpose": "ad-sale", "grants": 1, "refusals": 2, "rate": 0.3333},
        {"purpose": "analytics", "grants": 1, "refusals": 1, "rate": 0.5},
        {"purpose": "marketing-email", "grants": 4, "refusals": 1, "rate": 0.8},
    ]
    assert consent["expiring_next_30_days"] == {"analytics": 1}
    # s1 and s4 granted under v1 before v2; s3 granted under v1 after v2 took effect (still stale: the notice
    # they saw is older than v2); s2 withdrew. Three stale grants.
    assert consent["stale_grants"] == {"marketing-email": 3}


def test_period_excludes_events_outside_it(dataset: Organization, api_client_for: Callable[..., APIClient]) -> None:
    consent = report(api_client_for(dataset, "reports:read"), f"from={day(7)}&to={day(0)}")["consent"]

    assert consent["daily"] == [
        {"purpose": "ad-sale", "day": day(0), "grants": 0, "refusals": 2, "withdrawals": 1},
        {"purpose": "marketing-email", "day": day(5), "grants": 1, "refusals": 1, "withdrawals": 1},
        {"purpose": "marketing-email", "day": day(1), "grants": 1, "refusals": 0, "withdrawals": 0},
    ]


def test_provenance_completeness_shares(dataset: Organization, api_client_for: Callable[..., APIClient]) -> None:
    provenance = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(0)}")["provenance"]

    # Six subjects; s5 has only analytics and s6 only ad-sale, which have no policy version; s6 is known
    # only from a GPC signal, under the built-in source, which is not a source identifier.
    assert provenance["subjects"] == {
        "total": 6,
        "with_source": 5,
        "with_consent_timestamp": 6,
        "with_policy_version": 4,
        "with_source_share": 0.8333,
        "with_consent_timestamp_share": 1.0,
        "with_policy_version_share": 0.6667,
    }
    # Three stamps; only the allowed one (s5, analytics) carries a source and a consent timestamp.
    assert provenance["stamped_payloads"] == {
        "total": 3,
        "with_source": 1,
        "with_consent_timestamp": 1,
        "with_policy_version": 0,
        "complete": 0,
        "with_source_share": 0.3333,
        "with_consent_timestamp_share": 0.3333,
        "with_policy_version_share": 0.0,
        "complete_share": 0.0,
    }
    assert provenance["sources_without_dpa"] == ["web-signup"]


def test_gpc_and_stamping_figures(dataset: Organization, api_client_for: Callable[..., APIClient]) -> None:
    body = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(0)}")

    # s1, s4 and s6 sent GPC; only s4 had opted in before (ad-sale): one conflict.
    assert body["gpc"] == {"received": 3, "honored": 3, "conflicts": 1}
    assert body["stamping"] == {
        "per_recipient": [{"recipient": "crm", "stamped": 1, "refused": 2}],
        # s2 withdrew; s3's grant is stale (stamping and the report apply the same rule).
        "refused_by_reason": [
            {"recipient": "crm", "reason": "CONSENT_WITHDRAWN", "count": 1},
            {"recipient": "crm", "reason": "POLICY_STALE", "count": 1},
        ],
        "open_alerts": 1,
    }


def test_dsar_figures(dataset: Organization, api_client_for: Callable[..., APIClient]) -> None:
    dsar = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(0)}")["dsar"]

    # The CCPA request was received 50 days ago, before the period.
    assert dsar["by_type_and_regime"] == [
        {"type": "access", "regime": "gdpr", "received": 1, "completed": 1},
        {"type": "deletion", "regime": "gdpr", "received": 2, "completed": 1},
    ]
    assert dsar["on_time_rate"] == 1.0
    assert dsar["median_days_to_close"] == 15.0  # closed after 10 and 20 days
    assert dsar["p90_days_to_close"] == 19.0  # 10 + 0.9 * (20 - 10)
    assert dsar["overdue_now"] == 1
    assert (dsar["open_total"], dsar["due_within_7_days"]) == (2, 0)
    assert dsar["extensions_used"] == 1
    ccpa, gdpr = dsar["open"]
    assert (ccpa["type"], ccpa["regime"], ccpa["days_left"], ccpa["due_on"]) == ("access", "ccpa", -5, day(5))
    assert (gdpr["type"], gdpr["regime"]) == ("deletion", "gdpr")
    today = timezone.now().astimezone(UTC).date()
    assert gdpr["days_left"] == (date.fromisoformat(gdpr["due_on"]) - today).days > 85  # one month plus two


def test_ledger_figures_show_the_last_verification(
    dataset: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    ledger = report(api_client_for(dataset, "reports:read"))["ledger"]

    assert ledger["is_valid"] is True
    assert (ledger["subjects_checked"], ledger["events_checked"]) == (6, 12)


def test_default_period_is_the_last_90_days(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    body = report(api_client_for(organization, "reports:read"))

    assert body["period"] == {"from": day(90), "to": day(0)}
    assert body["ledger"] is None


def test_other_organization_sees_only_its_own_figures(
    dataset: Organization, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    consent_services.source_create(
        organization=other_organization, actor="test", key="web-signup", name="Signup", kind="web_form"
    )
    consent_services.purpose_create(organization=other_organization, actor="test", key="marketing-email", name="M")
    record(other_organization, "x1", "marketing-email", "grant", 2)

    body = report(api_client_for(other_organization, "reports:read"), f"from={day(30)}&to={day(0)}")

    assert body["consent"]["daily"] == [
        {"purpose": "marketing-email", "day": day(2), "grants": 1, "refusals": 0, "withdrawals": 0}
    ]
    assert body["provenance"]["subjects"]["total"] == 1
    assert body["stamping"] == {"per_recipient": [], "refused_by_reason": [], "open_alerts": 0}
    assert body["dsar"]["by_type_and_regime"] == []
    assert body["dsar"]["open"] == []
    assert body["gpc"] == {"received": 0, "honored": 0, "conflicts": 0}
    assert body["ledger"] is None


@pytest.mark.parametrize("scopes", [("consent:read",), ("dsar:read", "provenance:read")])
def test_report_needs_the_reports_scope(
    organization: Organization, api_client_for: Callable[..., APIClient], scopes: tuple[str, ...]
) -> None:
    response = api_client_for(organization, *scopes).get(URL)

    assert_problem(response, 403, "insufficient-scope")


def test_report_needs_a_key(db: Any) -> None:
    assert APIClient().get(URL).status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-13-01",
        "to=yesterday",
        "from=2026-05-02&to=2026-05-01",
        "from=2024-01-01&to=2026-01-02",
    ],
)
def test_invalid_periods_answer_422(
    organization: Organization, api_client_for: Callable[..., APIClient], query: str
) -> None:
    response = api_client_for(organization, "reports:read").get(f"{URL}?{query}")

    assert_problem(response, 422, "validation-error")


def test_a_two_year_period_is_accepted(organization: Organization, api_client_for: Callable[..., APIClient]) -> None:
    assert report(api_client_for(organization, "reports:read"), "from=2024-01-01&to=2026-01-01")["period"] == {
        "from": "2024-01-01",
        "to": "2026-01-01",
    }


def test_full_report_matches_its_documented_schema(
    dataset: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    from drf_spectacular.generators import SchemaGenerator

    from tests.consent.test_openapi import assert_matches, response_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    body = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(0)}")

    assert body["ledger"] is not None
    assert body["dsar"]["open"]
    assert_matches(schema, body, response_schema(schema, "GET", URL, 200))


def test_gpc_figures_count_signals_first_received_in_the_period(
    dataset: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    # Every signal of the dataset arrived today; a period ending yesterday has none, conflicts included.
    gpc = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(1)}")["gpc"]

    assert gpc == {"received": 0, "honored": 0, "conflicts": 0}
