"""The admin index is the signed-in user's dashboard: requests due within a week, overdue and assigned to them,
open provenance alerts, dead-lettered deliveries and the last ledger verification, each a count linking to the
filtered list, limited to what the user may see; a banner for each organization without a legal contact; the app
list below. Panels come from a registry the apps fill in ``ready`` (core imports none of them)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from consent.models import LedgerVerificationRun
from consent.services import ledger_integrity_check
from core.dashboard import age_text, registered_panels
from core.models import Organization, StaffOrganizationScope
from core.staff_roles import AUDITOR, DSAR_OPERATOR, PRIVACY_COUNSEL
from dsar import services as dsar_services
from dsar.models import DataSubjectRequest
from provenance.models import Delivery, ProvenanceAlert
from provenance.services.deliveries import delivery_create
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest

pytestmark = pytest.mark.django_db


def staff(django_user_model: Any, client: Client, *roles: str, organizations: list[Organization] | None = None) -> Any:
    user = django_user_model.objects.create_user(username="legal", password="x", is_staff=True)
    user.groups.add(*Group.objects.filter(name__in=roles))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def request_due(organization: Organization, days: int, *, status: str = "") -> DataSubjectRequest:
    request = dsar_services.dsar_create(
        organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE"
    )
    if status:
        dsar_services.dsar_transition(request=request, to_status=status, actor="test", reason="test")
    # Given: the due date the scenario needs.
    DataSubjectRequest.objects.filter(pk=request.pk).update(due_on=timezone.localdate() + timedelta(days=days))
    request.refresh_from_db()
    return request


def dead_delivery(organization: Organization, purpose_key: str) -> Delivery:
    recipient_create(
        organization=organization,
        actor="test",
        key=f"crm-{organization.slug}",
        name="CRM",
        role="processor",
        purposes=[purpose_key],
        endpoint_url="http://127.0.0.1:9/never-called",
    )
    delivery = delivery_create(
        organization=organization,
        request=StampRequest(
            recipient=f"crm-{organization.slug}", purposes=(purpose_key,), subject_id="cust-1", data={"plan": "pro"}
        ),
        actor="test",
    )
    Delivery.objects.filter(pk=delivery.pk).update(status="dead")  # Given: its attempts ran out
    return delivery


def figures(html: str) -> dict[str, tuple[str, str]]:
    """{label: (value, link)} of the dashboard's items."""
    section = html[html.index('id="provenant-dashboard"') : html.index('id="content-main"')]
    found = re.findall(
        r'<a href="([^"]*)"><span class="dashboard-value">([^<]*)</span> <span class="dashboard-label">([^<]*)</span>',
        section,
    )
    return {label: (value, unescape(link)) for link, value, label in found}


def test_the_dashboard_counts_what_the_user_may_see_with_links_to_the_filtered_lists(
    django_user_model: Any,
    client: Client,
    organization: Organization,
    other_organization: Organization,
    purpose: Any,
) -> None:
    user = staff(django_user_model, client, PRIVACY_COUNSEL, organizations=[organization])
    due_soon = [request_due(organization, days) for days in (0, 3, 7)]
    request_due(organization, 8)  # not this week
    late = request_due(organization, -2)
    request_due(organization, -5, status="rejected")  # closed: neither overdue nor due
    request_due(other_organization, 1)  # another organization's: never counted here
    request_due(other_organization, -1)
    dsar_services.dsar_assign(request=due_soon[1], assignee=user, actor="test")
    dsar_services.dsar_assign(request=late, assignee=user, actor="test")
    ProvenanceAlert.objects.create(organization=organization, kind="validation")
    ProvenanceAlert.objects.create(organization=organization, kind="validation", status="resolved")
    ProvenanceAlert.objects.create(organization=other_organization, kind="validation")
    dead_delivery(organization, purpose.key)
    ledger_integrity_check(organization=organization, actor="test")

    html = client.get("/admin/").content.decode()

    shown = figures(html)
    assert {label: value for label, (value, _) in shown.items()} == {
        "due within 7 days": "3",
        "overdue": "1",
        "open, assigned to me": "2",
        "open alerts": "1",
        "dead-lettered deliveries": "1",
        "last ledger verification": "valid",
    }
    assert "just now" in html
    # Each link opens the list it counts, filtered the same way.
    week = client.get(shown["due within 7 days"][1])
    assert week.status_code == 200
    assert {r.public_id for r in due_soon} == set(re.findall(r"\b[0-9A-Z]{26}\b", week.content.decode())) & {
        r.public_id for r in DataSubjectRequest.objects.all()
    }
    overdue = client.get(shown["overdue"][1]).content.decode()
    assert late.public_id in overdue
    mine = client.get(shown["open, assigned to me"][1]).content.decode()
    assert due_soon[1].public_id in mine
    assert late.public_id in mine
    assert due_soon[0].public_id not in mine
    alerts = client.get(shown["open alerts"][1])
    assert alerts.status_code == 200
    assert "1 provenance alert" in alerts.content.decode()
    assert client.get(shown["dead-lettered deliveries"][1]).status_code == 200
    assert client.get(shown["last ledger verification"][1]).status_code == 200
    # The app list is still there, below the dashboard.
    assert html.index('id="provenant-dashboard"') < html.index('class="app-dsar module')


def test_panels_follow_the_users_view_permissions(
    django_user_model: Any, client: Client, organization: Organization
) -> None:
    staff(django_user_model, client, DSAR_OPERATOR)

    shown = figures(client.get("/admin/").content.decode())

    assert set(shown) == {"due within 7 days", "overdue", "open, assigned to me"}


def test_the_dashboard_renders_in_a_few_queries(
    django_user_model: Any,
    client: Client,
    organization: Organization,
    other_organization: Organization,
    django_assert_max_num_queries: Any,
) -> None:
    staff(django_user_model, client, AUDITOR, PRIVACY_COUNSEL, organizations=[organization, other_organization])
    for days in range(-20, 20):
        request_due(organization, days)
    client.get("/admin/")  # sessions and permission caches warm

    with django_assert_max_num_queries(16):
        response = client.get("/admin/")

    assert response.status_code == 200


def test_a_banner_names_each_organization_without_a_legal_contact_until_one_is_added(
    django_user_model: Any, client: Client, organization: Organization, other_organization: Organization
) -> None:
    staff(django_user_model, client, PRIVACY_COUNSEL)
    banner = f"{organization.name} has no legal contact"

    before = client.get("/admin/").content.decode()
    assert banner in before
    assert f"{other_organization.name} has no legal contact" in before
    assert f"/admin/dsar/dsarlegalcontact/add/?organization={organization.pk}" in before

    dsar_services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    after = client.get("/admin/").content.decode()
    assert banner not in after
    assert f"{other_organization.name} has no legal contact" in after


def test_staff_limited_to_one_organization_see_only_its_banner(
    django_user_model: Any, client: Client, organization: Organization, other_organization: Organization
) -> None:
    staff(django_user_model, client, DSAR_OPERATOR, organizations=[organization])

    html = client.get("/admin/").content.decode()

    assert f"{organization.name} has no legal contact" in html
    assert other_organization.name not in html
    assert "Add a legal contact" not in html  # an operator may not add one


def test_a_staff_user_without_any_view_permission_gets_no_panels(
    django_user_model: Any, client: Client, organization: Organization
) -> None:
    staff(django_user_model, client)

    html = client.get("/admin/").content.decode()

    assert 'id="provenant-dashboard"' not in html


def test_the_apps_register_their_panels_and_ages_read_plainly() -> None:
    assert registered_panels() == ["dsar", "provenance", "consent"]
    assert [age_text(s) for s in (5, 60, 3 * 3600 + 5, 86400 * 2)] == [
        "just now",
        "1 minute ago",
        "3 hours ago",
        "2 days ago",
    ]


def test_deadline_mail_that_reached_nobody_shows_until_the_sweep_delivers_it(
    django_user_model: Any, client: Client, organization: Organization, settings: Any
) -> None:
    settings.ADMINS = []
    staff(django_user_model, client, PRIVACY_COUNSEL)
    request_due(organization, 1)
    dsar_services.dsar_deadline_sweep()  # nobody to send to: owed

    owed = figures(client.get("/admin/").content.decode())["deadline reminders not delivered yet"]
    assert owed[0] == "1"
    audit_list = client.get(owed[1])
    assert audit_list.status_code == 200
    assert [entry.action for entry in audit_list.context["cl"].result_list] == ["dsar.deadline_mail_undelivered"]

    dsar_services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    dsar_services.dsar_deadline_sweep()
    assert "deadline reminders not delivered yet" not in figures(client.get("/admin/").content.decode())


def test_the_ledger_line_shows_any_organization_whose_last_run_broke_before_a_newer_valid_one_elsewhere(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    """The newest run over all organizations used to be shown alone: a valid run of one organization hid the
    broken ledger of another, verified an hour earlier."""
    staff(django_user_model, client, PRIVACY_COUNSEL)
    now = timezone.now()
    for org, valid, hours_ago in ((organization, False, 2), (other_organization, True, 1)):
        LedgerVerificationRun.objects.create(
            organization=org,
            verified_at=now - timedelta(hours=hours_ago),
            triggered_by="test",
            is_valid=valid,
            subjects_checked=1,
            events_checked=1,
            ledger_root="0" * 64,
        )

    html = client.get("/admin/").content.decode()

    assert figures(html)["last ledger verification"][0] == "BROKEN"
    assert organization.name in html

    LedgerVerificationRun.objects.create(
        organization=organization,
        verified_at=now,
        triggered_by="test",
        is_valid=True,
        subjects_checked=1,
        events_checked=1,
        ledger_root="0" * 64,
    )
    assert figures(client.get("/admin/").content.decode())["last ledger verification"][0] == "valid"
