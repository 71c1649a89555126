"""Legal contacts: several per organization, each receiving the digest, the escalation or both; kept through the
API (scoped to the key's organization) and the admin (scoped to the staff user's organizations, each change with
its permission), every change audited; the one contact an organization had before is kept by the migration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from core.staff_roles import DSAR_OPERATOR, PRIVACY_COUNSEL
from dsar import services
from dsar.models import DsarLegalContact, RequestNotice
from tests.consent.api_contract import assert_problem
from tests.migration_steps import migrate

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dsar/dsarlegalcontact/"


def audits(organization: Organization) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (entry.action, entry.actor, entry.data)
        for entry in AuditLogEntry.objects.filter(
            action__startswith="dsar.legal_contact", organization=organization
        ).order_by("id")
    ]


# --- API ---------------------------------------------------------------------------------------------------------


def test_legal_contacts_are_listed_added_read_changed_and_removed_through_the_api_each_change_audited(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(organization, "dsar:read", "dsar:configure")

    created = client.post(
        "/api/v1/legal-contacts",
        {"email": "Counsel@ACME.test", "name": "Grace Counsel", "receives": "escalation"},
        format="json",
    )
    assert created.status_code == 201, created.content
    contact_id = created.json()["id"]
    assert created["Location"] == f"/api/v1/legal-contacts/{contact_id}"
    assert created.json() | {"created_at": "", "updated_at": ""} == {
        "id": contact_id,
        "email": "Counsel@acme.test",
        "name": "Grace Counsel",
        "receives": "escalation",
        "created_at": "",
        "updated_at": "",
    }
    second = client.post("/api/v1/legal-contacts", {"email": "dpo@acme.test"}, format="json")
    assert second.json()["receives"] == "both"

    listed = client.get("/api/v1/legal-contacts").json()
    assert [row["email"] for row in listed] == ["Counsel@acme.test", "dpo@acme.test"]
    assert client.get(f"/api/v1/legal-contacts/{contact_id}").json()["name"] == "Grace Counsel"

    patched = client.patch(f"/api/v1/legal-contacts/{contact_id}", {"receives": "both"}, format="json")
    assert (patched.status_code, patched.json()["receives"], patched.json()["name"]) == (200, "both", "Grace Counsel")
    put = client.put(f"/api/v1/legal-contacts/{contact_id}", {"email": "grace@acme.test"}, format="json")
    assert (put.json()["email"], put.json()["name"], put.json()["receives"]) == ("grace@acme.test", "", "both")
    removed = client.delete(f"/api/v1/legal-contacts/{contact_id}")
    assert (removed.status_code, removed.json()["email"]) == (200, "grace@acme.test")
    assert_problem(client.get(f"/api/v1/legal-contacts/{contact_id}"), 404, "not-found")

    assert list(DsarLegalContact.objects.values_list("email", flat=True)) == ["dpo@acme.test"]
    trail = audits(organization)
    assert [action for action, _, _ in trail] == [
        "dsar.legal_contact_added",
        "dsar.legal_contact_added",
        "dsar.legal_contact_changed",
        "dsar.legal_contact_changed",
        "dsar.legal_contact_removed",
    ]
    assert trail[2][2] == {
        "before": {"name": "Grace Counsel", "receives": "escalation"},
        "after": {"name": "Grace Counsel", "receives": "both"},
        "email_changed": False,
    }
    assert trail[3][2]["email_changed"] is True
    assert all(actor.startswith("api_key:") for _, actor, _ in trail)
    assert not any("acme.test" in str(data) for _, _, data in trail)  # the address itself stays out of the log


def test_the_api_refuses_a_duplicate_address_a_bad_one_and_unknown_fields_and_changes_nothing(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(organization, "dsar:read", "dsar:configure")
    client.post("/api/v1/legal-contacts", {"email": "legal@acme.test"}, format="json")
    other = client.post("/api/v1/legal-contacts", {"email": "dpo@acme.test"}, format="json").json()["id"]
    before = (DsarLegalContact.objects.count(), AuditLogEntry.objects.count())

    duplicate = client.post("/api/v1/legal-contacts", {"email": "legal@ACME.test"}, format="json")
    renamed_onto = client.patch(f"/api/v1/legal-contacts/{other}", {"email": "legal@acme.test"}, format="json")
    bad_email = client.post("/api/v1/legal-contacts", {"email": "not an address"}, format="json")
    bad_kind = client.post("/api/v1/legal-contacts", {"email": "x@acme.test", "receives": "all"}, format="json")
    unknown = client.post("/api/v1/legal-contacts", {"email": "x@acme.test", "phone": "1"}, format="json")
    not_json = client.post("/api/v1/legal-contacts", "{", content_type="application/json")

    assert pointers_of(assert_problem(duplicate, 409, "conflict")) == {"/email"}
    assert_problem(renamed_onto, 409, "conflict")
    assert pointers_of(assert_problem(bad_email, 422, "validation-error")) == {"/email"}
    assert pointers_of(assert_problem(bad_kind, 422, "validation-error")) == {"/receives"}
    assert pointers_of(assert_problem(unknown, 422, "validation-error")) == {"/phone"}
    assert not_json.status_code == 400
    assert (DsarLegalContact.objects.count(), AuditLogEntry.objects.count()) == before


def pointers_of(body: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in body.get("errors", [])}


def test_a_key_sees_and_changes_only_its_own_organizations_contacts(
    organization: Organization, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    theirs = services.legal_contact_create(organization=other_organization, email="legal@other.test", actor="t")
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="t")
    client = api_client_for(organization, "dsar:read", "dsar:configure")

    assert [row["email"] for row in client.get("/api/v1/legal-contacts").json()] == ["legal@acme.test"]
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(f"/api/v1/legal-contacts/{theirs.public_id}", {}, format="json")
        assert_problem(response, 404, "not-found")
    assert DsarLegalContact.objects.filter(pk=theirs.pk, email="legal@other.test").exists()
    reader = api_client_for(organization, "dsar:read")
    forbidden = reader.post("/api/v1/legal-contacts", {"email": "x@acme.test"}, format="json")
    assert assert_problem(forbidden, 403, "insufficient-scope")["required_scope"] == "dsar:configure"


# --- admin -------------------------------------------------------------------------------------------------------


def staff_with_role(
    django_user_model: Any, client: Client, role: str, *, organizations: list[Organization] | None = None
) -> Any:
    user = django_user_model.objects.create_user(username=role.replace(" ", "-"), password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def test_privacy_counsel_adds_changes_and_removes_a_contact_in_the_admin_through_the_audited_service(
    django_user_model: Any, client: Client, organization: Organization
) -> None:
    user = staff_with_role(django_user_model, client, PRIVACY_COUNSEL)

    added = client.post(
        f"{CHANGELIST}add/",
        {"organization": organization.pk, "email": "legal@acme.test", "name": "Legal", "receives": "digest"},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    contact = DsarLegalContact.objects.get()
    assert (contact.email, contact.receives, len(contact.public_id)) == ("legal@acme.test", "digest", 26)
    changed = client.post(
        f"{CHANGELIST}{contact.pk}/change/", {"email": "legal@acme.test", "name": "Legal team", "receives": "both"}
    )
    assert changed.status_code == 302
    duplicate = client.post(
        f"{CHANGELIST}add/", {"organization": organization.pk, "email": "legal@acme.test", "receives": "both"}
    )
    assert duplicate.status_code == 200  # the form again, with the error
    deleted = client.post(f"{CHANGELIST}{contact.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302

    assert not DsarLegalContact.objects.exists()
    assert [(action, actor) for action, actor, _ in audits(organization)] == [
        ("dsar.legal_contact_added", f"user:{user.pk}"),
        ("dsar.legal_contact_changed", f"user:{user.pk}"),
        ("dsar.legal_contact_removed", f"user:{user.pk}"),
    ]


def test_a_dsar_operator_sees_the_contacts_but_cannot_add_change_or_remove_them(
    django_user_model: Any, client: Client, organization: Organization
) -> None:
    contact = services.legal_contact_create(organization=organization, email="legal@acme.test", actor="t")
    staff_with_role(django_user_model, client, DSAR_OPERATOR)

    assert client.get(CHANGELIST).status_code == 200
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    client.post(f"{CHANGELIST}{contact.pk}/change/", {"email": "evil@acme.test", "receives": "both"})
    assert client.post(f"{CHANGELIST}{contact.pk}/delete/", {"post": "yes"}).status_code == 403

    contact.refresh_from_db()
    assert contact.email == "legal@acme.test"
    assert [action for action, _, _ in audits(organization)] == ["dsar.legal_contact_added"]


def test_staff_limited_to_one_organization_see_and_touch_nothing_of_anothers_contacts(
    django_user_model: Any, client: Client, organization: Organization, other_organization: Organization
) -> None:
    theirs = services.legal_contact_create(organization=other_organization, email="legal@other.test", actor="t")
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="t")
    staff_with_role(django_user_model, client, PRIVACY_COUNSEL, organizations=[organization])

    listing = client.get(CHANGELIST).content.decode()
    assert "legal@acme.test" in listing
    assert "legal@other.test" not in listing
    assert client.get(f"{CHANGELIST}{theirs.pk}/change/").status_code == 302  # "doesn't exist", back to the list
    client.post(f"{CHANGELIST}{theirs.pk}/delete/", {"post": "yes"})
    smuggled = client.post(
        f"{CHANGELIST}add/", {"organization": other_organization.pk, "email": "x@other.test", "receives": "both"}
    )
    assert smuggled.status_code == 200  # not a valid choice
    assert list(DsarLegalContact.objects.filter(organization=other_organization).values_list("email", flat=True)) == [
        "legal@other.test"
    ]


def test_the_admin_delete_permission_is_counsels_only() -> None:
    counsel = set(Group.objects.get(name=PRIVACY_COUNSEL).permissions.values_list("codename", flat=True))
    operator = set(Group.objects.get(name=DSAR_OPERATOR).permissions.values_list("codename", flat=True))
    assert {"add_dsarlegalcontact", "change_dsarlegalcontact", "delete_dsarlegalcontact"} <= counsel
    assert "view_dsarlegalcontact" in operator
    assert not operator & {"add_dsarlegalcontact", "change_dsarlegalcontact", "delete_dsarlegalcontact"}
    assert Permission.objects.filter(codename="delete_dsarlegalcontact").exists()


# --- migration ---------------------------------------------------------------------------------------------------

BEFORE = [("dsar", "0013_messages_to_requesters")]
AFTER = [("dsar", "0014_legal_contacts_and_unsent_notices")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("migrations_restored")
def test_the_migration_keeps_each_organizations_one_contact_receiving_both_and_past_notices_count_as_sent() -> None:
    old = migrate(BEFORE)
    organization = old.get_model("core", "Organization").objects.create(slug="acme", name="Acme")
    old.get_model("dsar", "DsarLegalContact").objects.create(organization=organization, email="legal@acme.test")
    request = old.get_model("dsar", "DataSubjectRequest").objects.create(
        organization=organization,
        public_id="01HZZZZZZZZZZZZZZZZZZZZZZZ",
        type="access",
        regime="gdpr",
        jurisdiction="DE",
        channel="api",
        received_at="2026-03-01T10:00:00Z",
        due_on=date(2026, 3, 31),
        deadlines={},
    )
    old.get_model("dsar", "RequestNotice").objects.create(
        request=request, kind="deadline.7", for_date=date(2026, 3, 31)
    )

    migrate(AFTER)

    contact = DsarLegalContact.objects.get()
    assert (contact.email, contact.receives, contact.name, len(contact.public_id)) == (
        "legal@acme.test",
        "both",
        "",
        26,
    )
    notice = RequestNotice.objects.get()
    assert notice.sent_at == notice.created_at
    assert (notice.attempts, notice.last_error) == (0, "")
