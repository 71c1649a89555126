"""Security audit item 7: the staff roles that ship with the product exist after migrate, hold exactly
their permissions, and a role's holder can do what the role says and nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from core.models import ApiKey
from core.services import api_key_create
from core.staff_roles import AUDITOR, DSAR_OPERATOR, KEY_ADMINISTRATOR, PRIVACY_COUNSEL, ROLES, sync_staff_roles

pytestmark = pytest.mark.django_db


def permission_names(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_every_role_names_only_permissions_that_exist() -> None:
    existing = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")}
    for name, wanted in ROLES.items():
        assert wanted <= existing, f"{name}: {sorted(wanted - existing)}"


def test_migrate_created_the_four_groups_with_exactly_their_permissions() -> None:
    for name, wanted in ROLES.items():
        assert permission_names(Group.objects.get(name=name)) == wanted, name


def test_sync_resets_a_tampered_role() -> None:
    counsel = Group.objects.get(name=PRIVACY_COUNSEL)
    counsel.permissions.add(Permission.objects.get(codename="add_apikey"))
    sync_staff_roles()
    assert "core.add_apikey" not in permission_names(counsel)


def test_roles_separate_duties() -> None:
    assert not {p for p in ROLES[PRIVACY_COUNSEL] if "apikey" in p or "signingkey" in p}
    assert not {p for p in ROLES[AUDITOR] if not p.split(".")[1].startswith("view_")}
    assert "consent.reveal_subject_contact" not in ROLES[AUDITOR]
    assert not {p for p in ROLES[KEY_ADMINISTRATOR] if p.startswith(("consent.", "dsar.datasubject"))}
    assert all(p.startswith(("dsar.", "core.view_", "consent.view_", "consent.reveal_")) for p in ROLES[DSAR_OPERATOR])


def test_an_auditor_reads_the_audit_log_but_cannot_revoke_or_mint_keys(
    client: Client, django_user_model: Any, organization: Any
) -> None:
    api_key, _ = api_key_create(organization=organization, name="crm", scopes=["consent:read"], actor="test")
    auditor = django_user_model.objects.create_user(username="auditor", password="x", is_staff=True)
    auditor.groups.add(Group.objects.get(name=AUDITOR))
    client.force_login(auditor)

    assert client.get("/admin/core/auditlogentry/").status_code == 200
    assert client.get("/admin/consent/ledgerverificationrun/").status_code == 200
    client.post("/admin/core/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]})
    minted = client.post(
        "/admin/core/apikey/add/", {"organization": organization.pk, "name": "x", "scopes": ["consent:read"]}
    )

    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert minted.status_code == 403
    assert ApiKey.objects.count() == 1


def test_a_key_administrator_issues_write_scopes(client: Client, django_user_model: Any, organization: Any) -> None:
    administrator = django_user_model.objects.create_user(username="keys", password="x", is_staff=True)
    administrator.groups.add(Group.objects.get(name=KEY_ADMINISTRATOR))
    client.force_login(administrator)

    client.post("/admin/core/apikey/add/", {"organization": organization.pk, "name": "w", "scopes": ["consent:write"]})

    assert list(ApiKey.objects.values_list("scopes", flat=True)) == [["consent:write"]]
