"""Compliance report figures against a small dataset built through the services, expected values by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source
from core.models import Organization
from dsar import services as dsar_services
from provenance import services as provenance_services
from provenance.services.stamping import StampRequest, stamp_many
from provenance.services.validation import ProvenanceClaim, provenance_record_validate
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem

URL = "/api/v1/reports/compliance"
NOTICE = "b" * 64


def noon(days_ago: int) -> datetime:
    return datetime.combine(timezone.now().astimezone(UTC).date() - timedelta(days=days_ago), time(12), tzinfo=UTC)


def day(days_ago: int) -> str:
    return (timezone.now().astimezone(UTC).date() - timedelta(days=days_ago)).isoformat()


def record(organization: Organization, subject: str, purpose: str, action: str, days_ago: int) -> None:
    consent_services.consent_record(
        organization=organization,
        item=event_input(subject_id=subject, purpose=purpose, action=action, occurred_at=noon(days_ago)),
    )


@pytest.fixture
def dataset(organization: Organization, source: Source, purpose: Purpose) -> Organization:
    """marketing-email: v1 (60 days ago), material v2 (3 days ago); analytics: grants valid 40 days."""
    consent_services.source_create(
        organization=organization, actor="test", key="partner", name="Partner", kind="partner", dpa_reference="DPA-7"
    )
    consent_services.purpose_create(
        organization=organization, actor="test", key="analytics", name="Analytics", validity="P40D"
    )
    consent_services.policy_version_create(
        purpose=purpose, actor="test", version="v1", notice_sha256=NOTICE, effective_at=noon(60)
    )
    consent_services.policy_version_create(
        purpose=purpose, actor="test", version="v2", notice_sha256=NOTICE, effective_at=noon(3), is_material=True
    )
    record(organization, "s5", "analytics", "grant", 15)  # valid until 25 days ahead: expiring
    record(organization, "s2", "analytics", "refuse", 15)
    record(organization, "s1", "marketing-email", "grant", 10)  # stale after v2
    record(organization, "s2", "marketing-email", "grant", 10)
    record(organization, "s2", "marketing-email", "withdraw", 5)
    record(organization, "s3", "marketing-email", "refuse", 5)
    record(organization, "s4", "marketing-email", "grant", 5)  # stale after v2
    provenance_services.recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role="processor",
        purposes=["marketing-email", "analytics"],
    )
    stamp_many(
        organization=organization,
        requests=[
            StampRequest(recipient="crm", purposes=("analytics",), subject_id="s5", data={"a": 1}),
            StampRequest(recipient="crm", purposes=("marketing-email",), subject_id="s2", data={"a": 1}),
            StampRequest(recipient="crm", purposes=("marketing-email",), subject_id="s3", data={"a": 1}),
        ],
    )
    provenance_record_validate(
        organization=organization, claim=ProvenanceClaim(subject_id="s1", purposes=("marketing-email",)), actor="test"
    )
    consent_services.gpc_signal_record(
        organization=organization, subject_id="s1", channel="header", jurisdiction="US-CA"
    )
    now = timezone.now()
    done = [
        dsar_services.dsar_create(
            organization=organization,
            request_type=kind,
            channel="email",
            actor="test",
            jurisdiction="DE",
            received_at=now - timedelta(days=days),
        )
        for kind, days in (("access", 10), ("deletion", 20))
    ]
    for request in done:
        dsar_services.dsar_transition(request=request, to_status="in_progress", actor="test")
        dsar_services.dsar_transition(request=request, to_status="completed", actor="test")
    dsar_services.dsar_create(
        organization=organization,
        request_type="access",
        channel="email",
        actor="test",
        jurisdiction="US-CA",
        received_at=noon(50),
    )
    extended = dsar_services.dsar_create(
        organization=organization,
        request_type="deletion",
        channel="email",
        actor="test",
        jurisdiction="DE",
        received_at=now - timedelta(days=2),
    )
    dsar_services.dsar_extend(
        request=extended, reason_code="complexity", notice_sent_on=timezone.localdate(), actor="test"
    )
    consent_services.ledger_verify(organization=organization, actor="test")
    return organization


def report(client: APIClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"{URL}?{query}" if query else URL)
    assert response.status_code == 200, response.content[:500]
    return response.json()  # type: ignore[no-any-return]


def test_consent_figures_count_events_per_purpose_and_day(
    dataset: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    consent = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(0)}")["consent"]

    assert consent["daily"] == [
        {"purpose": "analytics", "day": day(15), "grants": 1, "refusals": 1, "withdrawals": 0},
        {"purpose": "marketing-email", "day": day(10), "grants": 2, "refusals": 0, "withdrawals": 0},
        {"purpose": "marketing-email", "day": day(5), "grants": 1, "refusals": 1, "withdrawals": 1},
    ]
    assert consent["opt_in_rate"] == [
        {"purpose": "analytics", "grants": 1, "refusals": 1, "rate": 0.5},
        {"purpose": "marketing-email", "grants": 3, "refusals": 1, "rate": 0.75},
    ]
    assert consent["expiring_next_30_days"] == {"analytics": 1}
    # s1 and s4 granted under v1; s2 withdrew, so only two grants are made stale by v2.
    assert consent["stale_grants"] == {"marketing-email": 2}


def test_period_excludes_events_outside_it(dataset: Organization, api_client_for: Callable[..., APIClient]) -> None:
    consent = report(api_client_for(dataset, "reports:read"), f"from={day(7)}&to={day(0)}")["consent"]

    assert consent["daily"] == [
        {"purpose": "marketing-email", "day": day(5), "grants": 1, "refusals": 1, "withdrawals": 1},
    ]


def test_provenance_completeness_shares(dataset: Organization, api_client_for: Callable[..., APIClient]) -> None:
    provenance = report(api_client_for(dataset, "reports:read"), f"from={day(30)}&to={day(0)}")["provenance"]

    # Five subjects; s5 has only analytics, which has no policy version.
    assert provenance["subjects"] == {
        "total": 5,
        "with_source": 5,
        "with_consent_timestamp": 5,
        "with_policy_version": 4,
        "with_source_share": 1.0,
        "with_consent_timestamp_share": 1.0,
        "with_policy_version_share": 0.8,
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

    assert body["gpc"] == {"received": 1, "honored": 1, "conflicts": 0}
    assert body["stamping"] == {
        "per_recipient": [{"recipient": "crm", "stamped": 1, "refused": 2}],
        "refused_by_reason": [{"recipient": "crm", "reason": "CONSENT_WITHDRAWN", "count": 2}],
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
    assert (ledger["subjects_checked"], ledger["events_checked"]) == (5, 7)


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
