"""Issue #18: the deadline calculator's time zone follows the request, the organization and the calendar.

Table-driven through POST /api/v1/deadlines/compute: each source of the zone and of the calendar, and each refusal
with exactly what is missing; then intake (the organization's settings, pinned once a request has its deadlines),
the settings API and admin, and the zone table derived again from the machine's tz database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from dsar import services
from dsar.deadlines.zone_table import MULTI_ZONE_COUNTRIES, SINGLE_ZONE_COUNTRIES, ZONE_COUNTRY
from dsar.models import DataSubjectRequest, DeadlineSettings
from tests.consent.api_contract import assert_problem, row_counts

pytestmark = pytest.mark.django_db

COMPUTE = "/api/v1/deadlines/compute"
SETTINGS = "/api/v1/deadlines/settings"
RECEIVED = "2026-03-02T23:30:00Z"  # 3 March in Berlin; 2 March in Dublin, Los Angeles and New York


@dataclass(frozen=True)
class Case:
    name: str
    regime: str = "gdpr"
    tz: str | None = None
    calendar: str | None = None
    organization_tz: str = ""
    organization_calendar: str = ""
    # expected answer: (time_zone, tz_source, calendar, calendar_source), or the refusal's missing fields
    answer: tuple[str, str, str, str] | None = None
    missing: tuple[str, ...] = ()
    detail_names: tuple[str, ...] = ()


CASES = [
    # --- where the zone comes from ---------------------------------------------------------------------------
    Case("request names both", tz="Europe/Berlin", calendar="EU-DE",
         answer=("Europe/Berlin", "request", "EU-DE", "request")),
    Case("an Irish calendar implies Dublin time", calendar="IE",
         answer=("Europe/Dublin", "calendar", "IE", "request")),
    Case("EU-IE implies Dublin time too", calendar="EU-IE",
         answer=("Europe/Dublin", "calendar", "EU-IE", "request")),
    Case("Germany keeps one time (Busingen included)", calendar="DE",
         answer=("Europe/Berlin", "calendar", "DE", "request")),
    Case("the Canary Islands' own calendar implies their zone", calendar="ES-CN",
         answer=("Atlantic/Canary", "calendar", "ES-CN", "request")),
    Case("a mainland Spanish region implies Madrid", calendar="ES-MD",
         answer=("Europe/Madrid", "calendar", "ES-MD", "request")),
    Case("the organization's zone beats the calendar's", calendar="IE", organization_tz="Europe/London",
         answer=("Europe/London", "organization", "IE", "request")),
    Case("the request's zone beats the organization's", tz="Europe/Paris", calendar="FR",
         organization_tz="Europe/Dublin", organization_calendar="IE",
         answer=("Europe/Paris", "request", "FR", "request")),
    Case("both from the organization", organization_tz="Europe/Dublin", organization_calendar="IE",
         answer=("Europe/Dublin", "organization", "IE", "organization")),
    Case("the organization's calendar implies its zone", organization_calendar="NL",
         answer=("Europe/Amsterdam", "calendar", "NL", "organization")),
    Case("CCPA: the regime's zone and calendar", regime="ccpa",
         answer=("America/Los_Angeles", "regime", "US-FED", "regime")),
    Case("CCPA: the business's configured zone", regime="ccpa", organization_tz="America/New_York",
         answer=("America/New_York", "organization", "US-FED", "regime")),
    # --- where the calendar comes from -----------------------------------------------------------------------
    Case("Europe/Dublin implies IE", tz="Europe/Dublin",
         answer=("Europe/Dublin", "request", "IE", "time_zone")),
    Case("the organization's zone implies its calendar", organization_tz="Europe/Vienna",
         answer=("Europe/Vienna", "organization", "AT", "time_zone")),
    Case("the organization's calendar beats the zone's country", tz="Europe/Dublin", organization_calendar="DE",
         answer=("Europe/Dublin", "request", "DE", "organization")),
    # --- refusals: 422 naming exactly what is missing ------------------------------------------------------
    Case("nothing at all", missing=("calendar", "tz"), detail_names=("calendar",)),
    Case("the US keeps several times", calendar="US", missing=("tz",), detail_names=("America/New_York",)),
    Case("Spain with the Canaries", calendar="ES", missing=("tz",), detail_names=("Atlantic/Canary",)),
    Case("Portugal with the Azores", calendar="PT", missing=("tz",), detail_names=("Atlantic/Azores",)),
    Case("US federal holidays name no zone", calendar="US-FED", missing=("tz",)),
    Case("weekends only name no zone", calendar="WEEKENDS_ONLY", missing=("tz",)),
    Case("UTC is no country's", tz="UTC", missing=("calendar",)),
    Case("the organization's Spanish calendar still needs a zone", organization_calendar="ES", missing=("tz",),
         detail_names=("Europe/Madrid",)),
]  # fmt: skip


def set_organization(organization: Organization, case: Case) -> None:
    if case.organization_tz or case.organization_calendar:
        services.deadline_settings_update(
            organization=organization,
            calendar=case.organization_calendar,
            time_zone=case.organization_tz,
            actor="test",
        )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_calculator_zone_and_calendar(
    case: Case, organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    set_organization(organization, case)
    body: dict[str, Any] = {"regime": case.regime, "request_type": "access", "received_at": RECEIVED}
    if case.tz is not None:
        body["tz"] = case.tz
    if case.calendar is not None:
        body["calendar"] = case.calendar
    client = api_client_for(organization, "dsar:read")
    before = row_counts()

    response = client.post(COMPUTE, body, format="json")

    assert row_counts() == before
    if case.answer is not None:
        assert response.status_code == 200, response.content
        answer = response.json()
        assert (answer["time_zone"], answer["tz_source"], answer["calendar"], answer["calendar_source"]) == (
            case.answer
        )
        expected_receipt = datetime(2026, 3, 2, 23, 30, tzinfo=UTC).astimezone(ZoneInfo(case.answer[0])).date()
        assert answer["receipt_date"] == expected_receipt.isoformat()
        return
    problem = assert_problem(response, 422, "deadline-input-invalid")
    assert problem["missing"] == list(case.missing)
    assert sorted(error["pointer"] for error in problem["errors"]) == sorted(f"/{name}" for name in case.missing)
    for name in case.detail_names:
        assert name in problem["detail"]


def test_the_answer_says_the_zone_it_used_in_the_receipt_date(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    """Near midnight the zone decides the receipt date (A8): Berlin's 3 March against Dublin's 2 March; and the
    calendar the due date (3 April 2026 is Good Friday and 6 April Easter Monday in Germany: due on the 7th)."""
    client = api_client_for(organization, "dsar:read")
    body = {"regime": "gdpr", "request_type": "access", "received_at": RECEIVED}

    german = client.post(COMPUTE, {**body, "calendar": "DE"}, format="json").json()
    irish = client.post(COMPUTE, {**body, "calendar": "IE"}, format="json").json()

    assert (german["time_zone"], german["receipt_date"], german["initial_due"]) == (
        "Europe/Berlin",
        "2026-03-03",
        "2026-04-07",
    )
    assert (irish["time_zone"], irish["receipt_date"], irish["initial_due"]) == (
        "Europe/Dublin",
        "2026-03-02",
        "2026-04-02",
    )


# --- intake: the organization's settings, pinned once computed ----------------------------------------------------


def test_intake_uses_the_organizations_settings_and_a_later_change_does_not_move_the_request(
    organization: Organization,
) -> None:
    services.deadline_settings_update(organization=organization, calendar="IE", time_zone="Europe/Dublin", actor="t")
    received = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    request = services.dsar_create(
        organization=organization,
        request_type="access",
        channel="email",
        actor="test",
        jurisdiction="DE",  # a German requester; the controller is Irish (REGULATORY.md A1)
        received_at=received,
    )
    assert (request.deadlines["time_zone"], request.deadlines["tz_source"]) == ("Europe/Dublin", "organization")
    assert (request.deadlines["calendar"], request.deadlines["calendar_source"]) == ("IE", "organization")
    due = request.due_on

    services.deadline_settings_update(organization=organization, calendar="", time_zone="Asia/Tokyo", actor="t")
    services.dsar_extend(
        request=request, reason_code="complexity", notice_sent_on=received.date() + timedelta(days=5), actor="t"
    )

    row = DataSubjectRequest.objects.get(pk=request.pk)
    assert (row.deadlines["time_zone"], row.deadlines["calendar"]) == ("Europe/Dublin", "IE")
    assert row.deadlines["tz_source"] == "organization"
    assert row.deadlines["initial_due"] == due.isoformat()


def test_intake_without_organization_settings_keeps_the_jurisdictions(organization: Organization) -> None:
    request = services.dsar_create(
        organization=organization, request_type="access", channel="web", actor="test", jurisdiction="FR"
    )

    assert (request.deadlines["time_zone"], request.deadlines["tz_source"]) == ("Europe/Paris", "jurisdiction")
    assert request.deadlines["calendar_source"] == "jurisdiction"


# --- the settings API -------------------------------------------------------------------------------------------


def test_settings_read_writes_nothing_and_answers_null_when_unset(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(organization, "dsar:read")
    before = row_counts()

    response = client.get(SETTINGS)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "calendar": None,
        "time_zone": None,
        "implied_time_zone": None,
        "implied_calendar": None,
        "updated_at": None,
    }
    assert row_counts() == before
    assert not DeadlineSettings.objects.exists()


def test_settings_are_set_audited_and_say_what_they_imply(
    organization: Organization, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(organization, "dsar:read", "dsar:configure")

    response = client.put(SETTINGS, {"calendar": "ie", "time_zone": None}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["calendar"] == "IE"
    assert response.json()["implied_time_zone"] == "Europe/Dublin"
    entry = AuditLogEntry.objects.get(action="dsar.deadline_settings_changed")
    assert entry.organization == organization
    assert entry.data == {"before": {"calendar": "", "time_zone": ""}, "after": {"calendar": "IE", "time_zone": ""}}
    assert not DeadlineSettings.objects.filter(organization=other_organization).exists()
    # the same values again change nothing and audit nothing
    client.put(SETTINGS, {"calendar": "IE", "time_zone": None}, format="json")
    assert AuditLogEntry.objects.filter(action="dsar.deadline_settings_changed").count() == 1


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"calendar": "XX", "time_zone": None}, "/calendar"),
        ({"calendar": None, "time_zone": "Mars/Olympus"}, "/time_zone"),
        ({"calendar": None, "time_zone": "/etc/passwd"}, "/time_zone"),
    ],
)
def test_invalid_settings_are_422_and_change_nothing(
    organization: Organization, api_client_for: Callable[..., APIClient], body: dict[str, Any], pointer: str
) -> None:
    services.deadline_settings_update(organization=organization, calendar="IE", time_zone="", actor="t")
    client = api_client_for(organization, "dsar:configure")
    before = row_counts()

    response = client.put(SETTINGS, body, format="json")

    problem = assert_problem(response, 422, "validation-error")
    assert [error["pointer"] for error in problem["errors"]] == [pointer]
    assert row_counts() == before
    assert DeadlineSettings.objects.get(organization=organization).calendar == "IE"


def test_a_key_that_records_requests_cannot_change_the_settings(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    response = api_client_for(organization, "dsar:read", "dsar:write").put(
        SETTINGS, {"calendar": "IE", "time_zone": None}, format="json"
    )

    assert_problem(response, 403)
    assert not DeadlineSettings.objects.exists()


# --- the admin ------------------------------------------------------------------------------------------------


def staff(django_user_model: Any, client: Client, *codenames: str, organizations: list[Organization]) -> Any:
    user = django_user_model.objects.create_user(username="lawyer", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def test_counsel_sets_the_settings_in_the_admin_through_the_service(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    services.deadline_settings_update(organization=other_organization, calendar="DE", time_zone="", actor="t")
    user = staff(
        django_user_model,
        client,
        "view_deadlinesettings",
        "add_deadlinesettings",
        "change_deadlinesettings",
        organizations=[organization],
    )

    listing = client.get("/admin/dsar/deadlinesettings/").content.decode()
    other = client.get(f"/admin/dsar/deadlinesettings/{other_organization.pk}/change/")
    bad = client.post(
        "/admin/dsar/deadlinesettings/add/",
        {"organization": organization.pk, "calendar": "XX", "time_zone": ""},
    )
    assert bad.status_code == 200
    assert not DeadlineSettings.objects.filter(organization=organization).exists()
    smuggled = client.post(
        "/admin/dsar/deadlinesettings/add/",
        {"organization": other_organization.pk, "calendar": "FR", "time_zone": ""},
    )
    added = client.post(
        "/admin/dsar/deadlinesettings/add/",
        {"organization": organization.pk, "calendar": "IE", "time_zone": "Europe/Dublin"},
    )

    assert "Globex" not in listing
    assert other.status_code == 302  # Django's "doesn't exist" redirect: nothing of another organization
    assert smuggled.status_code == 200  # not a choice for this user
    assert DeadlineSettings.objects.get(organization=other_organization).calendar == "DE"
    assert added.status_code == 302, added.content.decode()[:2000]
    saved = DeadlineSettings.objects.get(organization=organization)
    assert (saved.calendar, saved.time_zone) == ("IE", "Europe/Dublin")
    entry = AuditLogEntry.objects.get(action="dsar.deadline_settings_changed", organization=organization)
    assert entry.actor == f"user:{user.pk}"


def test_view_only_staff_cannot_change_the_settings(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    services.deadline_settings_update(organization=organization, calendar="IE", time_zone="", actor="t")
    staff(django_user_model, client, "view_deadlinesettings", organizations=[organization])

    response = client.post(
        f"/admin/dsar/deadlinesettings/{organization.pk}/change/", {"calendar": "DE", "time_zone": ""}
    )

    assert response.status_code == 403
    assert DeadlineSettings.objects.get(organization=organization).calendar == "IE"


# --- the zone table ---------------------------------------------------------------------------------------------


def test_the_zone_table_is_what_the_tz_database_says() -> None:
    """Derive the table again from the machine's zone.tab (Debian's tzdata): a country keeps one time when all its
    zones give the same UTC offset every week from 2020 to 2060. A newer tzdata that changes an answer fails here."""
    zone_tab = Path("/usr/share/zoneinfo/zone.tab")
    rows = [line.split("\t") for line in zone_tab.read_text().splitlines() if line and not line.startswith("#")]
    by_country: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_country[row[0]].append(row[2].strip())
    instants = [datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=7 * week) for week in range(52 * 40)]

    def offsets(zone: str) -> tuple[Any, ...]:
        info = ZoneInfo(zone)
        return tuple(instant.astimezone(info).utcoffset() for instant in instants)

    for country, zones in by_country.items():
        if len({offsets(zone) for zone in zones}) == 1:
            assert SINGLE_ZONE_COUNTRIES.get(country) == zones[0], country
        else:
            assert MULTI_ZONE_COUNTRIES.get(country) == tuple(zones), country
    assert {row[2].strip(): row[0] for row in rows} == ZONE_COUNTRY
    for country in ("IE", "DE", "FR", "IT", "NL", "BE", "AT", "PL", "SE", "DK", "FI", "CZ", "GR", "HU", "RO", "BG"):
        assert country in SINGLE_ZONE_COUNTRIES
    for country in ("HR", "SI", "SK", "LT", "LV", "EE", "LU", "MT", "CY", "GB", "CH", "NO", "IS", "LI"):
        assert country in SINGLE_ZONE_COUNTRIES
    assert {"US", "ES", "PT"} <= set(MULTI_ZONE_COUNTRIES)
