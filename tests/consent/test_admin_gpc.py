"""Global Privacy Control in the legal team's admin: the subject's GPC panel, the "GPC honored" and
jurisdiction filters, the GPC conflicts list, the signal receipts and the organization's GPC setting.
Driven through Django's test client as a staff superuser on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser, Permission
from django.test import Client
from django.utils import timezone

from consent import services as consent_services
from consent.models import (
    CollectionMethod,
    ConsentEvent,
    ConsentState,
    GpcSignalReceipt,
    Purpose,
    Source,
    Subject,
)
from consent.services import consent_record, gpc_signal_record, subject_link
from core.models import AuditLogEntry, Organization
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

SALE = "sale-data"


@pytest.fixture
def sale_purpose(organization: Organization) -> Purpose:
    return consent_services.purpose_create(
        organization=organization, actor="test", key=SALE, name="Sale of personal data", is_sale_or_sharing=True
    )


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _subject(organization: Organization, external_id: str) -> Subject:
    return Subject.objects.get(organization=organization, external_id=external_id)


def _signal(organization: Organization, subject_id: str, jurisdiction: str = "US-CA") -> None:
    outcome = gpc_signal_record(
        organization=organization, subject_id=subject_id, channel="header", jurisdiction=jurisdiction
    )
    assert outcome is not None


def _grant(organization: Organization, subject_id: str, jurisdiction: str = "US-CA") -> ConsentEvent:
    return consent_record(
        organization=organization,
        item=event_input(
            subject_id=subject_id,
            purpose=SALE,
            jurisdiction=jurisdiction,
            occurred_at=timezone.now() - timedelta(hours=1),
        ),
    ).event


def _section(html: str, start: str, end: str) -> str:
    return html.split(start, 1)[1].split(end, 1)[0]


# --------------------------------------------------------------------------------------------
# The subject page
# --------------------------------------------------------------------------------------------


def test_subject_page_shows_the_gpc_panel_after_a_signal(
    admin_client: Client, organization: Organization, sale_purpose: Purpose
) -> None:
    _signal(organization, "cust-1")
    subject = _subject(organization, "cust-1")
    receipt = GpcSignalReceipt.objects.get(subject=subject)
    gpc_event = ConsentEvent.objects.get(subject=subject, collection_method=CollectionMethod.GPC_SIGNAL)

    response = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    panel = _section(html, 'id="subject-gpc"', 'id="consent-state"')
    assert '<div class="readonly" id="gpc-received">received</div>' in panel
    assert receipt.first_received_at.strftime("%Y-%m-%d %H:%M:%S") in panel
    assert "Sec-GPC request header" in panel
    assert '<div class="readonly" id="gpc-jurisdiction">US-CA</div>' in panel
    assert 'id="gpc-honored">yes, since' in panel
    assert 'id="gpc-required">yes<' in panel
    assert f'<div class="readonly" id="gpc-purposes">{SALE}</div>' in panel
    assert "Opt-Out Request Honored" in panel
    assert f'href="/admin/consent/consentevent/{gpc_event.pk}/change/"' in panel
    assert gpc_event.event_id in panel
    assert "No linked subjects." in panel
    state = _section(html, 'id="consent-state"', 'id="consent-history"')
    assert "GPC opt-out" in state
    assert "consent-not-permitted" in state


def test_subject_page_without_a_signal_says_not_received(
    admin_client: Client, organization: Organization, source: Source, sale_purpose: Purpose
) -> None:
    _grant(organization, "cust-1")
    subject = _subject(organization, "cust-1")

    response = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/")

    html = response.content.decode()
    panel = _section(html, 'id="subject-gpc"', 'id="consent-state"')
    assert "not received for this subject" in panel
    assert 'id="gpc-channel"' not in panel
    state = _section(html, 'id="consent-state"', 'id="consent-history"')
    assert "consent on record" in state
    assert "consent-permitted" in state
    assert "consent-gpc-conflict" not in state


def test_voluntary_honor_is_told_apart_from_a_legal_duty(
    admin_client: Client, organization: Organization, sale_purpose: Purpose
) -> None:
    _signal(organization, "cust-va", jurisdiction="US-VA")  # no GPC duty in Virginia; honored everywhere
    subject = _subject(organization, "cust-va")

    html = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/").content.decode()

    assert 'id="gpc-required">no: honored voluntarily (the organization honors GPC everywhere)<' in html


def test_a_signal_not_honored_is_shown_as_received_only(
    admin_client: Client, organization: Organization, sale_purpose: Purpose
) -> None:
    consent_services.organization_gpc_settings_update(organization=organization, honor_everywhere=False, actor="test")
    _signal(organization, "cust-va", jurisdiction="US-VA")
    subject = _subject(organization, "cust-va")

    html = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/").content.decode()

    panel = _section(html, 'id="subject-gpc"', 'id="consent-state"')
    assert 'id="gpc-honored">no: not required by law here' in panel
    assert 'id="gpc-required">no<' in panel
    assert 'id="gpc-purposes">none<' in panel
    assert "Opt-Out Preference Signal Received" in panel
    assert "honors GPC only where the law requires" in panel
    assert '<tr><td colspan="6">None.</td></tr>' in panel


def test_subject_page_links_the_subjects_of_the_same_person(
    admin_client: Client, organization: Organization, sale_purpose: Purpose
) -> None:
    _signal(organization, "device-1")
    subject_link(organization=organization, subject_id="device-1", linked_subject_id="account-1", actor="test")
    device, account = _subject(organization, "device-1"), _subject(organization, "account-1")

    response = admin_client.get(f"/admin/consent/subject/{device.pk}/change/")

    linked = _section(response.content.decode(), 'id="gpc-linked-subjects"', "</table>")
    assert f'<a href="/admin/consent/subject/{account.pk}/change/">account-1</a>' in linked
    assert "honored" in linked  # the opt-out was carried across the link
    account_page = admin_client.get(f"/admin/consent/subject/{account.pk}/change/").content.decode()
    assert f'<a href="/admin/consent/subject/{device.pk}/change/">device-1</a>' in account_page
    assert "Propagated from a linked subject" in account_page


# --------------------------------------------------------------------------------------------
# The subject list: "GPC honored" and jurisdiction filters
# --------------------------------------------------------------------------------------------


@pytest.fixture
def three_subjects(organization: Organization, source: Source, sale_purpose: Purpose) -> None:
    """cust-honored (US-CA, honored), cust-received (US-VA, opted in, then a signal received while the
    organization honors GPC only where required), cust-none (DE, no signal)."""
    _signal(organization, "cust-honored")
    consent_services.organization_gpc_settings_update(organization=organization, honor_everywhere=False, actor="test")
    organization.refresh_from_db()
    _grant(organization, "cust-received", jurisdiction="US-VA")
    _signal(organization, "cust-received", jurisdiction="US-VA")
    _grant(organization, "cust-none", jurisdiction="DE")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["cust-honored", "cust-none", "cust-received"]),
        ("gpc_honored=yes", ["cust-honored"]),
        ("gpc_honored=no", ["cust-received"]),
        ("gpc_honored=not_received", ["cust-none"]),
        ("jurisdiction=US", ["cust-honored", "cust-received"]),
        ("jurisdiction=US-CA", ["cust-honored"]),
        ("jurisdiction=DE", ["cust-none"]),
        ("gpc_honored=yes&jurisdiction=US-VA", []),
    ],
)
def test_subject_filters_narrow_the_list(
    admin_client: Client, three_subjects: None, query: str, expected: list[str]
) -> None:
    response = admin_client.get(f"/admin/consent/subject/?{query}")

    assert response.status_code == 200
    assert sorted(s.external_id for s in response.context["cl"].result_list) == expected


def test_subject_list_shows_gpc_status_and_offers_the_filters(admin_client: Client, three_subjects: None) -> None:
    response = admin_client.get("/admin/consent/subject/")

    html = response.content.decode()
    assert "By GPC honored" in html
    assert "?gpc_honored=not_received" in html
    assert "?jurisdiction=US-VA" in html
    assert "received, not honored" in html


def test_subject_list_queries_do_not_grow_with_rows(
    admin_client: Client,
    organization: Organization,
    sale_purpose: Purpose,
    django_assert_max_num_queries: Any,
) -> None:
    for index in range(5):
        _signal(organization, f"cust-{index}")

    with django_assert_max_num_queries(20) as captured:
        admin_client.get("/admin/consent/subject/")
    few_rows = len(captured)
    for index in range(5, 25):
        _signal(organization, f"cust-{index}")
    with django_assert_max_num_queries(few_rows):
        response = admin_client.get("/admin/consent/subject/")

    assert response.context["cl"].result_count == 25


# --------------------------------------------------------------------------------------------
# The GPC conflicts list
# --------------------------------------------------------------------------------------------


def test_conflicts_list_shows_an_opt_in_overridden_by_a_signal(
    admin_client: Client, organization: Organization, source: Source, sale_purpose: Purpose
) -> None:
    _grant(organization, "cust-conflict")
    _signal(organization, "cust-conflict")
    _signal(organization, "cust-plain")  # opted out by GPC without an opt-in before: no conflict
    subject = _subject(organization, "cust-conflict")
    state = ConsentState.objects.get(subject=subject)

    response = admin_client.get("/admin/consent/consentstate/?gpc_conflict=yes")

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [state.pk]
    html = response.content.decode()
    assert "<h1>GPC conflicts</h1>" in html
    assert f'<a href="/admin/consent/subject/{subject.pk}/change/">cust-conflict</a>' in html
    assert SALE in html
    assert "US-CA" in html
    assert "cust-plain" not in html
    subject_page = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/").content.decode()
    assert "consent-gpc-conflict" in _section(subject_page, 'id="consent-state"', 'id="consent-history"')


def test_conflicts_list_refuses_add_change_and_delete(
    admin_client: Client, organization: Organization, source: Source, sale_purpose: Purpose
) -> None:
    _grant(organization, "cust-conflict")
    _signal(organization, "cust-conflict")
    state = ConsentState.objects.get(gpc_conflict=True)
    url = f"/admin/consent/consentstate/{state.pk}"

    assert admin_client.get("/admin/consent/consentstate/add/").status_code == 403
    assert admin_client.post("/admin/consent/consentstate/add/", {"status": "given"}).status_code == 403
    assert admin_client.post(f"{url}/change/", {"status": "given", "gpc_conflict": ""}).status_code == 403
    assert admin_client.post(f"{url}/delete/", {"post": "yes"}).status_code == 403
    detail = admin_client.get(f"{url}/change/")
    changelist = admin_client.get("/admin/consent/consentstate/?gpc_conflict=yes")

    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert "delete_selected" not in changelist.content.decode()
    state_after = ConsentState.objects.get(pk=state.pk)
    assert (state_after.status, state_after.gpc_conflict) == ("withdrawn", True)


def test_conflicts_list_queries_do_not_grow_with_rows(
    admin_client: Client,
    organization: Organization,
    source: Source,
    sale_purpose: Purpose,
    django_assert_max_num_queries: Any,
) -> None:
    for index in range(3):
        _grant(organization, f"cust-{index}")
        _signal(organization, f"cust-{index}")

    with django_assert_max_num_queries(20) as captured:
        admin_client.get("/admin/consent/consentstate/?gpc_conflict=yes")
    few_rows = len(captured)
    for index in range(3, 15):
        _grant(organization, f"cust-{index}")
        _signal(organization, f"cust-{index}")
    with django_assert_max_num_queries(few_rows):
        response = admin_client.get("/admin/consent/consentstate/?gpc_conflict=yes")

    assert response.context["cl"].result_count == 15


# --------------------------------------------------------------------------------------------
# Signal receipts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["cust-honored", "cust-received"]),
        ("is_honored__exact=1", ["cust-honored"]),
        ("is_honored__exact=0", ["cust-received"]),
        ("is_legally_required__exact=1", ["cust-honored"]),
        ("channel__exact=header", ["cust-honored", "cust-received"]),
        ("channel__exact=link", []),
        ("jurisdiction=US-VA", ["cust-received"]),
        ("q=cust-honored", ["cust-honored"]),
    ],
)
def test_receipt_list_filters(admin_client: Client, three_subjects: None, query: str, expected: list[str]) -> None:
    response = admin_client.get(f"/admin/consent/gpcsignalreceipt/?{query}")

    assert response.status_code == 200
    assert sorted(r.subject.external_id for r in response.context["cl"].result_list) == expected


def test_receipts_are_read_only(admin_client: Client, organization: Organization, sale_purpose: Purpose) -> None:
    _signal(organization, "cust-1")
    receipt = GpcSignalReceipt.objects.get()
    url = f"/admin/consent/gpcsignalreceipt/{receipt.pk}"

    assert admin_client.get("/admin/consent/gpcsignalreceipt/add/").status_code == 403
    assert admin_client.post(f"{url}/change/", {"is_honored": ""}).status_code == 403
    assert admin_client.post(f"{url}/delete/", {"post": "yes"}).status_code == 403
    detail = admin_client.get(f"{url}/change/")
    changelist = admin_client.get("/admin/consent/gpcsignalreceipt/")

    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert f'href="/admin/consent/subject/{receipt.subject_id}/change/"' in changelist.content.decode()
    assert "delete_selected" not in changelist.content.decode()
    assert GpcSignalReceipt.objects.get(pk=receipt.pk).is_honored


def test_receipt_list_queries_do_not_grow_with_rows(
    admin_client: Client,
    organization: Organization,
    sale_purpose: Purpose,
    django_assert_max_num_queries: Any,
) -> None:
    for index in range(3):
        _signal(organization, f"cust-{index}")

    with django_assert_max_num_queries(20) as captured:
        admin_client.get("/admin/consent/gpcsignalreceipt/")
    few_rows = len(captured)
    for index in range(3, 15):
        _signal(organization, f"cust-{index}")
    with django_assert_max_num_queries(few_rows):
        response = admin_client.get("/admin/consent/gpcsignalreceipt/")

    assert response.context["cl"].result_count == 15


# --------------------------------------------------------------------------------------------
# The organization's GPC setting
# --------------------------------------------------------------------------------------------


def test_honor_only_where_required_action_moves_last_update_and_is_audited(
    admin_client: Client, admin_user: AbstractUser, organization: Organization
) -> None:
    Organization.objects.filter(pk=organization.pk).update(gpc_settings_updated_at=date(2025, 1, 1))

    response = admin_client.post(
        "/admin/core/organization/",
        {"action": "honor_gpc_where_required", "_selected_action": [organization.pk]},
        follow=True,
    )

    assert response.status_code == 200
    organization.refresh_from_db()
    assert organization.honor_gpc_everywhere is False
    assert organization.gpc_settings_updated_at == timezone.localdate()
    entry = AuditLogEntry.objects.get(action="organization.gpc_settings_changed", object_id=str(organization.pk))
    assert entry.actor == f"user:{admin_user.pk}"
    assert entry.data == {"honor_gpc_everywhere": False}
    assert any("acme: GPC honored only where the law requires" in m for m in _messages(response))

    admin_client.post(
        "/admin/core/organization/",
        {"action": "honor_gpc_everywhere", "_selected_action": [organization.pk]},
    )
    organization.refresh_from_db()
    assert organization.honor_gpc_everywhere is True
    assert AuditLogEntry.objects.filter(action="organization.gpc_settings_changed").count() == 2


def test_gpc_action_that_changes_nothing_writes_no_audit_row(admin_client: Client, organization: Organization) -> None:
    Organization.objects.filter(pk=organization.pk).update(gpc_settings_updated_at=date(2025, 1, 1))

    admin_client.post(
        "/admin/core/organization/",
        {"action": "honor_gpc_everywhere", "_selected_action": [organization.pk]},
    )

    organization.refresh_from_db()
    assert organization.honor_gpc_everywhere is True
    assert organization.gpc_settings_updated_at == date(2025, 1, 1)
    assert not AuditLogEntry.objects.filter(action="organization.gpc_settings_changed").exists()


def test_gpc_actions_need_the_change_permission(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    viewer = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_organization"))
    client.force_login(viewer)

    changelist = client.get("/admin/core/organization/")
    client.post(
        "/admin/core/organization/",
        {"action": "honor_gpc_where_required", "_selected_action": [organization.pk]},
    )

    html = changelist.content.decode()
    assert changelist.status_code == 200
    # Verifying from the admin keeps a run: a view-only user isn't offered it (issue #11, item 2).
    assert 'value="verify_ledger"' not in html
    assert 'value="honor_gpc_where_required"' not in html
    organization.refresh_from_db()
    assert organization.honor_gpc_everywhere is True
    assert not AuditLogEntry.objects.filter(action="organization.gpc_settings_changed").exists()


def test_organization_pages_show_the_gpc_settings_in_the_edit_form(
    admin_client: Client, organization: Organization
) -> None:
    Organization.objects.filter(pk=organization.pk).update(site_domain="acme.example")

    changelist = admin_client.get("/admin/core/organization/?honor_gpc_everywhere__exact=1")
    detail = admin_client.get(f"/admin/core/organization/{organization.pk}/change/")

    assert changelist.context["cl"].result_count == 1
    assert "acme.example" in changelist.content.decode()
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "Honor GPC everywhere" in html
    assert "GPC settings last changed" in html
    assert "acme.example" in html
    assert 'name="honor_gpc_everywhere"' in html  # edited through the GPC service (tests/core/test_admin_edits.py)
    assert 'name="_save"' in html
