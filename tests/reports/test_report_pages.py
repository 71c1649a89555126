"""Client report pages: who sees what, the figures on the page, CSV and PDF downloads, the admin link."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from pypdf import PdfReader

from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from reports.models import ClientMembership
from reports.services import client_user_deactivate
from tests.reports.fixtures import CLIENT_PASSWORD, day

SVG = "{http://www.w3.org/2000/svg}svg"


def page_url(organization: Organization, suffix: str = "") -> str:
    return f"/reports/org/{organization.slug}/{suffix}"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_client_user_signs_in_and_lands_on_their_organizations_report(
    dataset: Organization, client_user_of: Callable[..., Any]
) -> None:
    client_user_of(dataset)
    client = Client()

    signed = client.post("/reports/login/", {"username": "reader", "password": CLIENT_PASSWORD})
    home = client.get("/reports/")
    page = client.get(home["Location"])

    assert (signed.status_code, signed["Location"]) == (302, "/reports/")
    assert (home.status_code, home["Location"]) == (302, page_url(dataset))
    assert page.status_code == 200
    assert f"Compliance report · {dataset.name}" in page.content.decode()


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    dataset: Organization, client_user_of: Callable[..., Any]
) -> None:
    client_user_of(dataset)

    response = Client().post("/reports/login/", {"username": "reader", "password": "not it"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert "_auth_user_id" not in Client().session


def test_report_page_shows_every_section_with_charts_tables_and_summaries(
    dataset: Organization, client_user_of: Callable[..., Any]
) -> None:
    response = signed_in(client_user_of(dataset)).get(page_url(dataset), {"from": day(30), "to": day(0)})
    html = response.content.decode()

    assert response.status_code == 200
    for section in ("consent", "provenance", "gpc", "stamping", "dsar", "ledger"):
        assert f'id="{section}"' in html
        assert f'data-summary="{section}"' in html
    # Each chart is well-formed SVG with an accessible name and description.
    charts = [chunk.split("</figure>")[0] for chunk in html.split('<figure class="chart">')[1:]]
    assert len(charts) == 3 + 3 + 1 + 2 + 1  # consent: 3 purposes + 2; provenance 1; gpc 1; stamping 2; dsar 1
    for chart in charts:
        svg = ElementTree.fromstring(chart)
        assert svg.tag == SVG
        assert svg.get("role") == "img"
        assert svg.find("{http://www.w3.org/2000/svg}title").text  # type: ignore[union-attr]
    # Hand-computed figures (tests/reports/test_report_figures.py) as the page words them.
    assert "6 consents were granted, 4 refusals and 2 withdrawals recorded." in html
    assert "highest for marketing-email (80%) and lowest for ad-sale (33.3%)" in html
    assert "3 Global Privacy Control signals received in the period, 3 honored" in html
    assert "1 person sent GPC after opting in" in html
    assert "1 payload stamped and 2 payloads refused across 1 destination." in html
    assert "most frequent reason for a refusal was CONSENT_WITHDRAWN (1)" in html  # tied with POLICY_STALE
    assert "median of 15.0 days to close (90th percentile 19.0 days)" in html
    assert "the hash chain was intact" in html
    assert "1 source without a data processing agreement on file: web-signup." in html


def test_page_is_private_and_framing_is_refused(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    response = signed_in(client_user_of(dataset)).get(page_url(dataset))

    assert response["Cache-Control"] == "private, no-store"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "script-src" not in response["Content-Security-Policy"]  # default-src 'none': no script at all


def test_client_user_of_one_organization_gets_404_for_another(
    dataset: Organization, other_organization: Organization, client_user_of: Callable[..., Any]
) -> None:
    client = signed_in(client_user_of(other_organization, "other-reader"))

    for url in (
        page_url(dataset),
        page_url(dataset, "report.pdf"),
        page_url(dataset, "csv/gpc.csv"),
        "/reports/org/no-such-organization/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert dataset.name not in response.content.decode()


def test_signed_out_visitors_are_sent_to_the_login_page(dataset: Organization) -> None:
    response = Client().get(page_url(dataset))

    assert response.status_code == 302
    assert response["Location"].startswith("/reports/login/?next=")


def test_client_users_never_get_into_the_admin(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    client = signed_in(client_user_of(dataset))

    response = client.get("/admin/consent/subject/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_deactivated_client_user_loses_access(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    user = client_user_of(dataset)
    client = signed_in(user)

    client_user_deactivate(membership=user.client_membership, actor="test")

    assert client.get(page_url(dataset)).status_code == 302  # the session no longer authenticates
    assert Client().login(username="reader", password=CLIENT_PASSWORD) is False
    assert AuditLogEntry.objects.filter(action="client_user.deactivated").count() == 1


def test_staff_open_any_report_only_with_the_permission(
    dataset: Organization, other_organization: Organization
) -> None:
    staff = get_user_model().objects.create_user(username="legal", password=CLIENT_PASSWORD, is_staff=True)

    without = signed_in(staff).get(page_url(dataset))
    staff.user_permissions.add(Permission.objects.get(codename="view_any_report"))
    staff = get_user_model().objects.get(pk=staff.pk)  # drop the permission cache
    client = signed_in(staff)

    assert without.status_code == 404
    assert client.get(page_url(dataset)).status_code == 200
    assert client.get(page_url(other_organization)).status_code == 200
    assert client.get("/reports/")["Location"] == "/admin/core/organization/"


def test_staff_limited_to_some_organizations_open_only_their_reports(
    dataset: Organization, other_organization: Organization
) -> None:
    """Security audit item 7 (reports part): ``view_any_report`` does not reach past the staff user's scope."""
    staff = get_user_model().objects.create_user(username="scoped", password=CLIENT_PASSWORD, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_any_report"))
    StaffOrganizationScope.objects.create(user=staff).organizations.set([dataset])
    client = signed_in(get_user_model().objects.get(pk=staff.pk))

    assert client.get(page_url(dataset)).status_code == 200
    for suffix in ("", "report.pdf"):
        assert client.get(page_url(other_organization, suffix)).status_code == 404, suffix


def test_admin_links_each_organization_to_its_report(dataset: Organization, admin_client: Client) -> None:
    listing = admin_client.get("/admin/core/organization/").content.decode()
    detail = admin_client.get(f"/admin/core/organization/{dataset.pk}/change/").content.decode()

    assert f'href="{page_url(dataset)}"' in listing
    assert f'href="{page_url(dataset)}"' in detail
    assert admin_client.get(page_url(dataset)).status_code == 200


@pytest.mark.parametrize(
    "query", [{"from": "2026-13-01"}, {"from": "2026-05-02", "to": "2026-05-01"}, {"from": "2020-01-01"}]
)
def test_an_invalid_period_explains_itself_with_400(
    dataset: Organization, client_user_of: Callable[..., Any], query: dict[str, str]
) -> None:
    client = signed_in(client_user_of(dataset))

    page = client.get(page_url(dataset), query)
    csv_file = client.get(page_url(dataset, "csv/gpc.csv"), query)

    assert page.status_code == 400
    assert 'role="alert"' in page.content.decode()
    assert csv_file.status_code == 400


def read_csv(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_csv_per_table_holds_the_raw_figures(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    client = signed_in(client_user_of(dataset))
    period = {"from": day(30), "to": day(0)}

    rates = client.get(page_url(dataset, "csv/consent-opt-in-rate.csv"), period)
    gpc = client.get(page_url(dataset, "csv/gpc.csv"), period)
    stamping = client.get(page_url(dataset, "csv/stamping-refusals.csv"), period)

    assert rates["Content-Type"] == "text/csv; charset=utf-8"
    assert rates["Content-Disposition"] == (
        f'attachment; filename="{dataset.slug}-consent-opt-in-rate-{day(30)}-{day(0)}.csv"'
    )
    assert read_csv(rates) == [
        {"purpose": "ad-sale", "grants": "1", "refusals": "2", "rate": "0.3333"},
        {"purpose": "analytics", "grants": "1", "refusals": "1", "rate": "0.5"},
        {"purpose": "marketing-email", "grants": "4", "refusals": "1", "rate": "0.8"},
    ]
    assert read_csv(gpc) == [
        {"measure": "Signals received", "count": "3"},
        {"measure": "Signals honored", "count": "3"},
        {"measure": "Conflicts with earlier opt-ins", "count": "1"},
    ]
    assert read_csv(stamping) == [
        {"recipient": "crm", "reason": "CONSENT_WITHDRAWN", "count": "1"},
        {"recipient": "crm", "reason": "POLICY_STALE", "count": "1"},
    ]


def test_every_table_on_the_page_downloads_as_csv(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    client = signed_in(client_user_of(dataset))
    html = client.get(page_url(dataset)).content.decode()
    links = [chunk.split('"')[0] for chunk in html.split('class="csv" href="')[1:]]

    assert len(links) == 11
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        assert response.content.decode().count("\r\n") >= 1  # at least the header


def test_unknown_table_is_404(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    assert signed_in(client_user_of(dataset)).get(page_url(dataset, "csv/no-such-table.csv")).status_code == 404


def test_pdf_holds_the_whole_report(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    response = signed_in(client_user_of(dataset)).get(page_url(dataset, "report.pdf"), {"from": day(30), "to": day(0)})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    for heading in (
        "Consent",
        "Provenance completeness",
        "Global Privacy Control",
        "Stamping",
        "Data subject requests",
        "Ledger integrity",
    ):
        assert heading in text
    assert "6 consents were granted" in " ".join(text.split())
    assert "Sign out" not in text


def test_client_user_creation_is_audited_and_one_organization_per_user(
    dataset: Organization, other_organization: Organization, client_user_of: Callable[..., Any]
) -> None:
    from core.problems import Conflict
    from reports.services import client_membership_add

    user = client_user_of(dataset)

    with pytest.raises(Conflict):
        client_membership_add(organization=other_organization, user=user, actor="test")
    assert ClientMembership.objects.filter(user=user).count() == 1
    assert AuditLogEntry.objects.filter(action="client_user.created", organization=dataset).count() == 1
    assert user.is_staff is False


def test_repeated_wrong_passwords_lock_sign_in_for_that_name(
    dataset: Organization, client_user_of: Callable[..., Any]
) -> None:
    from django.core.cache import cache

    cache.clear()
    client_user_of(dataset)
    client = Client()

    failures = [client.post("/reports/login/", {"username": "reader", "password": f"guess {n}"}) for n in range(5)]
    locked = client.post("/reports/login/", {"username": "Reader", "password": CLIENT_PASSWORD})
    other_name = Client().post("/reports/login/", {"username": "someone-else", "password": "x"})

    assert [r.status_code for r in failures] == [200] * 5
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert other_name.status_code == 200
    cache.clear()
    assert client.post("/reports/login/", {"username": "reader", "password": CLIENT_PASSWORD}).status_code == 302


def test_legal_staff_create_a_client_user_in_the_admin(dataset: Organization, admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/reports/clientmembership/add/",
        {
            "organization": dataset.pk,
            "username": "new-reader",
            "email": "n@client.example",
            "password": CLIENT_PASSWORD,
        },
    )
    weak = admin_client.post(
        "/admin/reports/clientmembership/add/",
        {"organization": dataset.pk, "username": "weak-reader", "email": "w@client.example", "password": "123"},
    )

    assert response.status_code == 302
    membership = ClientMembership.objects.get(user__username="new-reader")
    assert (membership.organization, membership.user.is_staff) == (dataset, False)
    assert weak.status_code == 200
    assert "too short" in weak.content.decode()
    assert not get_user_model().objects.filter(username="weak-reader").exists()


def test_organization_admin_keeps_the_ledger_and_gpc_actions_of_the_layers_below(admin_client: Client) -> None:
    from django.contrib import admin

    actions = admin.site.get_model_admin(Organization).get_actions(admin_client.get("/admin/").wsgi_request)

    assert {"verify_ledger", "honor_gpc_everywhere", "honor_gpc_where_required"} <= set(actions)


def test_quick_links_choose_the_usual_periods(dataset: Organization, client_user_of: Callable[..., Any]) -> None:
    html = signed_in(client_user_of(dataset)).get(page_url(dataset)).content.decode()

    assert f'href="?from={day(30)}&amp;to={day(0)}">Last 30 days</a>' in html
    assert f'href="?from={day(365)}&amp;to={day(0)}">Last 12 months</a>' in html


def test_a_csv_download_runs_only_its_own_sections_queries(
    dataset: Organization, client_user_of: Callable[..., Any]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(client_user_of(dataset))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page_url(dataset, "csv/gpc.csv"))

    assert response.status_code == 200
    sql = " ".join(query["sql"] for query in captured.captured_queries)
    assert "consent_gpcsignalreceipt" in sql
    for other in ("consent_consentevent", "provenance_stamprecord", "dsar_datasubjectrequest"):
        assert other not in sql
