"""Security audit items 2 and 7 (the core part): every admin action needs the permission its effect needs,
staff limited to some organizations see nothing of the others, and a key never gets more than its issuer
may grant."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from core.models import ApiKey, AuditLogEntry, Organization, StaffOrganizationScope
from core.services import api_key_create

pytestmark = pytest.mark.django_db


def staff(
    django_user_model: Any, client: Client, *codenames: str, organizations: list[Organization] | None = None
) -> Any:
    user = django_user_model.objects.create_user(username=f"staff-{len(codenames)}", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def key_of(organization: Organization, name: str = "integration") -> ApiKey:
    api_key, _ = api_key_create(organization=organization, name=name, scopes=["consent:read"], actor="test")
    return api_key


def test_view_permission_does_not_revoke_keys(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    keys = [key_of(organization), key_of(other_organization)]
    staff(django_user_model, client, "view_apikey")

    page = client.get("/admin/core/apikey/")
    client.post("/admin/core/apikey/", {"action": "revoke_keys", "_selected_action": [k.pk for k in keys]})

    assert page.status_code == 200
    assert 'value="revoke_keys"' not in page.content.decode()
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2
    assert not AuditLogEntry.objects.filter(action="api_key.revoked").exists()


def test_the_revoke_permission_revokes(client: Client, django_user_model: Any, organization: Organization) -> None:
    api_key = key_of(organization)
    staff(django_user_model, client, "view_apikey", "revoke_apikey")

    client.post("/admin/core/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]})

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_a_scoped_staff_user_sees_nothing_of_other_organizations(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    mine, theirs = key_of(organization, "acme-crm"), key_of(other_organization, "globex-crm")
    staff(
        django_user_model,
        client,
        "view_apikey",
        "revoke_apikey",
        "view_organization",
        "view_auditlogentry",
        organizations=[organization],
    )

    keys = client.get("/admin/core/apikey/").content.decode()
    searched = client.get("/admin/core/apikey/?q=globex").content.decode()
    organizations = client.get("/admin/core/organization/").content.decode()
    audit = client.get("/admin/core/auditlogentry/")
    detail = client.get(f"/admin/core/apikey/{theirs.pk}/change/")
    client.post("/admin/core/apikey/", {"action": "revoke_keys", "_selected_action": [mine.pk, theirs.pk]})

    assert "acme-crm" in keys
    assert "globex-crm" not in keys
    assert "globex" not in keys.lower()  # not even as a filter choice
    assert "globex-crm" not in searched
    assert "Globex" not in organizations
    assert "Acme" in organizations
    audited = {entry.organization_id for entry in audit.context["cl"].result_list}
    assert AuditLogEntry.objects.filter(organization=other_organization).exists()
    assert audited == {organization.pk}
    assert detail.status_code == 302  # "doesn't exist", back to the list
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.revoked_at is None
    assert mine.revoked_at is not None


def test_add_apikey_alone_cannot_mint_for_another_organization_or_write_scopes(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    staff(django_user_model, client, "add_apikey", "view_apikey", organizations=[organization])

    elsewhere = client.post(
        "/admin/core/apikey/add/", {"organization": other_organization.pk, "name": "x", "scopes": ["consent:read"]}
    )
    writing = client.post(
        "/admin/core/apikey/add/", {"organization": organization.pk, "name": "y", "scopes": ["consent:write"]}
    )
    # evidence:read decrypts every subject's evidence: issued like a write scope.
    decrypting = client.post(
        "/admin/core/apikey/add/", {"organization": organization.pk, "name": "e", "scopes": ["evidence:read"]}
    )

    assert elsewhere.status_code == 200
    assert "Select a valid choice" in elsewhere.content.decode()
    for refused in (writing, decrypting):
        assert refused.status_code == 200
        assert "read scopes only" in refused.content.decode()
    assert not ApiKey.objects.exists()

    reading = client.post(
        "/admin/core/apikey/add/", {"organization": organization.pk, "name": "z", "scopes": ["consent:read"]}
    )
    assert reading.status_code == 200
    assert list(ApiKey.objects.values_list("organization_id", "scopes")) == [(organization.pk, ["consent:read"])]


def test_a_scoped_staff_user_cannot_create_organizations_or_widen_their_scope(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    user = staff(
        django_user_model,
        client,
        "add_organization",
        "view_organization",
        "change_stafforganizationscope",
        "view_stafforganizationscope",
        organizations=[organization],
    )

    created = client.post("/admin/core/organization/add/", {"slug": "evil", "name": "Evil"})
    scope = StaffOrganizationScope.objects.get(user=user)
    widened = client.post(
        f"/admin/core/stafforganizationscope/{scope.pk}/change/",
        {"user": user.pk, "organizations": [organization.pk, other_organization.pk]},
    )

    assert created.status_code == 403
    assert widened.status_code == 403
    assert not Organization.objects.filter(slug="evil").exists()
    assert list(scope.organizations.all()) == [organization]


def test_unscoped_staff_with_add_organization_still_creates(client: Client, django_user_model: Any) -> None:
    staff(django_user_model, client, "add_organization", "view_organization")
    client.post("/admin/core/organization/add/", {"slug": "initech", "name": "Initech"})
    assert Organization.objects.filter(slug="initech").exists()
