"""Issue #14, "reading comfortably": the admin names people and tasks, not their audit keys; shows times with
seconds and the zone; edits organizations and DSAR connectors through audited services; and says "Deliveries"."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from core.admin import actor_labels, admin_datetime
from core.enums import AuditAction
from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from core.services import api_key_create, audit_log
from dsar.models import Connector
from dsar.services import connector_create

pytestmark = pytest.mark.django_db

ORGANIZATIONS = "/admin/core/organization/"
CONNECTORS = "/admin/dsar/connector/"
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


def staff(django_user_model: Any, client: Client, *codenames: str, organizations: list[Organization] | None) -> Any:
    user = django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


# --- actors and times -------------------------------------------------------------------------------------------


def test_actors_read_as_names_of_people_keys_and_tasks(django_user_model: Any, organization: Organization) -> None:
    named = django_user_model.objects.create_user(username="lena", first_name="Lena", last_name="Fischer")
    plain = django_user_model.objects.create_user(username="kim")
    api_key, _ = api_key_create(organization=organization, name="CRM sync", scopes=["consent:read"], actor="test")

    labels = actor_labels(
        [
            f"user:{named.pk}",
            f"user:{plain.pk}",
            "user:99999",
            f"api_key:{api_key.prefix}",
            "task:dsar.deadline_sweep",
            "task:something.new",
            "requester:privacy-center",
            "cli:seed_demo",
            "system:first-use",
            f"job:01J for user:{named.pk}",
        ]
    )

    assert labels == {
        f"user:{named.pk}": "Lena Fischer (lena)",
        f"user:{plain.pk}": "kim",
        "user:99999": "staff user #99999 (removed)",
        f"api_key:{api_key.prefix}": f"API key “CRM sync” ({api_key.prefix}…)",
        "task:dsar.deadline_sweep": "automatic: deadline reminders and escalation",
        "task:something.new": "automatic: something.new",
        "requester:privacy-center": "the requester, in the privacy center",
        "cli:seed_demo": "command line (seed_demo)",
        "system:first-use": "system (first use)",
        f"job:01J for user:{named.pk}": "background job for Lena Fischer (lena)",
    }


def test_audit_log_names_the_actor_and_the_action_and_times_carry_seconds_and_zone(
    admin_client: Client, admin_user: Any, organization: Organization, django_assert_max_num_queries: Any
) -> None:
    for number in range(12):
        audit_log(
            actor=f"user:{admin_user.pk}" if number % 2 else "task:dsar.deadline_sweep",
            action=AuditAction.DSAR_EXTENDED,
            object_type="dsar",
            object_id=f"01J{number}",
            organization=organization,
        )
    entry = AuditLogEntry.objects.filter(actor__startswith="user:").first()
    assert entry is not None

    with django_assert_max_num_queries(12):  # the actors' names are read once for the page, not per row
        listing = admin_client.get("/admin/core/auditlogentry/?action__exact=dsar.extended")
    detail = admin_client.get(f"/admin/core/auditlogentry/{entry.pk}/change/")

    html = listing.content.decode()
    assert listing.status_code == 200
    assert html.count(f'<td class="field-actor_name">{admin_user.username}</td>') == 6
    assert html.count("automatic: deadline reminders and escalation") == 6
    assert f"user:{admin_user.pk}" not in html
    assert "Deadline extended" in html
    assert "request 01J1" in html
    assert admin_datetime(entry.occurred_at) in html
    assert ISO_INSTANT.search(html)
    page = detail.content.decode()
    assert admin_user.username in page
    assert f"user:{admin_user.pk}" in page  # the key as recorded, under its own label
    assert "actor as recorded" in page.lower()


def test_deliveries_are_called_deliveries(admin_client: Client) -> None:
    page = admin_client.get("/admin/provenance/").content.decode()

    assert "Deliveries" in page
    assert "Deliverys" not in page


# --- organizations ----------------------------------------------------------------------------------------------


def _organization_form(organization: Organization, **overrides: Any) -> dict[str, Any]:
    data = {"name": organization.name, "site_domain": organization.site_domain}
    if organization.honor_gpc_everywhere:
        data["honor_gpc_everywhere"] = "on"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_organization_name_and_site_domain_are_edited_through_the_audited_service(
    admin_client: Client, admin_user: Any, organization: Organization
) -> None:
    url = f"{ORGANIZATIONS}{organization.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="site_domain"' in page
    assert "Set up the privacy center branding" in page

    response = admin_client.post(url, _organization_form(organization, name="Acme Ltd", site_domain="WWW.Acme.example"))

    assert response.status_code == 302
    organization.refresh_from_db()
    assert (organization.name, organization.site_domain) == ("Acme Ltd", "www.acme.example")
    entry = AuditLogEntry.objects.get(action=AuditAction.ORGANIZATION_UPDATED, object_id=str(organization.pk))
    assert entry.actor == f"user:{admin_user.pk}"
    assert entry.data == {
        "name": {"from": "Acme", "to": "Acme Ltd"},
        "site_domain": {"from": "", "to": "www.acme.example"},
    }
    assert not AuditLogEntry.objects.filter(action=AuditAction.ORGANIZATION_GPC_SETTINGS_CHANGED).exists()


def test_organization_gpc_stance_is_edited_through_the_gpc_service(
    admin_client: Client, admin_user: Any, organization: Organization
) -> None:
    assert organization.honor_gpc_everywhere is True

    response = admin_client.post(
        f"{ORGANIZATIONS}{organization.pk}/change/", _organization_form(organization, honor_gpc_everywhere=None)
    )

    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.honor_gpc_everywhere is False
    entry = AuditLogEntry.objects.get(action=AuditAction.ORGANIZATION_GPC_SETTINGS_CHANGED)
    assert entry.actor == f"user:{admin_user.pk}"
    assert entry.data == {"honor_gpc_everywhere": False}
    assert not AuditLogEntry.objects.filter(action=AuditAction.ORGANIZATION_UPDATED).exists()


def test_organization_site_domain_must_be_a_host_name_of_one_organization(
    admin_client: Client, organization: Organization, other_organization: Organization
) -> None:
    Organization.objects.filter(pk=other_organization.pk).update(site_domain="globex.example")
    url = f"{ORGANIZATIONS}{organization.pk}/change/"

    not_a_host = admin_client.post(url, _organization_form(organization, site_domain="https://acme.example/x"))
    taken = admin_client.post(url, _organization_form(organization, site_domain="globex.example"))

    assert not_a_host.status_code == 200
    assert "A host name such as www.example.com" in not_a_host.content.decode()
    assert taken.status_code == 200
    assert "Another organization answers for this host." in taken.content.decode()
    organization.refresh_from_db()
    assert organization.site_domain == ""
    assert not AuditLogEntry.objects.filter(action=AuditAction.ORGANIZATION_UPDATED).exists()


def test_a_view_only_user_sees_the_organization_but_cannot_edit_it(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    staff(django_user_model, client, "view_organization", organizations=[organization])
    url = f"{ORGANIZATIONS}{organization.pk}/change/"

    page = client.get(url)
    refused = client.post(url, _organization_form(organization, name="Hijacked"))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert refused.status_code == 403
    organization.refresh_from_db()
    assert organization.name == "Acme"


# --- connectors -------------------------------------------------------------------------------------------------


def test_a_connector_is_registered_in_the_admin_and_its_secret_shown_once(
    admin_client: Client, admin_user: Any, organization: Organization
) -> None:
    response = admin_client.post(
        f"{CONNECTORS}add/",
        {
            "organization": str(organization.pk),
            "key": "billing",
            "name": "Billing",
            "url": "https://billing.example/dsar",
        },
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "connectors/billing.json" in html
    assert "signing secret now: it is not stored in clear" in html
    connector = Connector.objects.get(organization=organization, key="billing")
    assert connector.secret_sealed
    actions = set(
        AuditLogEntry.objects.filter(object_type="connector", object_id=str(connector.pk)).values_list(
            "action", "actor"
        )
    )
    assert actions == {
        (AuditAction.DSAR_CONNECTOR_CREATED, f"user:{admin_user.pk}"),
        (AuditAction.DSAR_CONNECTOR_SECRET_ROTATED, f"user:{admin_user.pk}"),
    }
    assert "Copy the connector" not in admin_client.get(CONNECTORS).content.decode()  # never again


def test_a_connector_is_edited_through_the_audited_service_and_keeps_key_and_secret(
    admin_client: Client, admin_user: Any, organization: Organization
) -> None:
    connector, _ = connector_create(
        organization=organization, key="billing", name="Billing", url="https://billing.example/dsar", actor="test"
    )
    sealed = Connector.objects.get(pk=connector.pk).secret_sealed
    url = f"{CONNECTORS}{connector.pk}/change/"

    response = admin_client.post(url, {"name": "Billing (EU)", "url": "https://eu.billing.example/dsar", "key": "x"})
    refused = admin_client.post(url, {"name": "Billing (EU)", "url": "ftp://billing.example/", "is_active": "on"})

    assert response.status_code == 302
    connector.refresh_from_db()
    assert (connector.key, connector.name, connector.url, connector.is_active) == (
        "billing",
        "Billing (EU)",
        "https://eu.billing.example/dsar",
        False,
    )
    assert connector.secret_sealed == sealed
    entry = AuditLogEntry.objects.get(action=AuditAction.DSAR_CONNECTOR_UPDATED)
    assert entry.actor == f"user:{admin_user.pk}"
    assert entry.data["is_active"] == {"from": True, "to": False}
    assert entry.data["key"] == "billing"
    assert refused.status_code == 200
    assert "The connector URL is refused" in refused.content.decode()
    assert AuditLogEntry.objects.filter(action=AuditAction.DSAR_CONNECTOR_UPDATED).count() == 1


def test_connectors_need_their_own_permissions(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    connector, _ = connector_create(
        organization=organization, key="billing", name="Billing", url="https://billing.example/dsar", actor="test"
    )
    staff(django_user_model, client, "view_connector", organizations=[organization])

    page = client.get(f"{CONNECTORS}{connector.pk}/change/")
    add = client.get(f"{CONNECTORS}add/")
    change = client.post(f"{CONNECTORS}{connector.pk}/change/", {"name": "X", "url": "https://x.example/"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert add.status_code == 403
    assert change.status_code == 403
    connector.refresh_from_db()
    assert connector.name == "Billing"
    assert not AuditLogEntry.objects.filter(action=AuditAction.DSAR_CONNECTOR_UPDATED).exists()
