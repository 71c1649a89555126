"""Issue #11 items 7 and 2, the consent part: staff limited to some organizations see nothing of the others in
any consent admin page, filter, search, object page or action; a subject's email is masked and revealed only
by an audited POST with its own permission; every consent admin action needs the permission its effect needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from consent import services
from consent.enums import SourceKind
from consent.models import (
    ConsentEvent,
    ConsentState,
    GpcSignalReceipt,
    LedgerVerificationRun,
    PolicyVersion,
    Purpose,
    Source,
    Subject,
)
from core.enums import AuditAction
from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

CONSENT_MODELS = [Source, Purpose, PolicyVersion, Subject, ConsentEvent, ConsentState, GpcSignalReceipt]
ADA = "ada.lovelace@example.org"
BOB = "bob.theirs@globex.example"


def staff(django_user_model: Any, client: Client, *codenames: str, organizations: list[Organization] | None) -> Any:
    user = django_user_model.objects.create_user(username="staff", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def view_codenames() -> list[str]:
    models = [*CONSENT_MODELS, LedgerVerificationRun]
    return ["view_organization", *(f"view_{model._meta.model_name}" for model in models)]


@pytest.fixture
def two_tenants(organization: Organization, other_organization: Organization) -> dict[str, Any]:
    """Acme (ours) and Globex (theirs), each with a catalog, a subject with an email and a GPC receipt, a
    policy version and a verification run."""
    world: dict[str, Any] = {}
    for label, org, subject_id, email in (
        ("mine", organization, "acme-cust", ADA),
        ("theirs", other_organization, "globex-cust", BOB),
    ):
        services.source_create(
            organization=org, actor="test", key=f"{org.slug}-form", name="Form", kind=SourceKind.WEB_FORM
        )
        purpose = services.purpose_create(
            organization=org, actor="test", key=f"{org.slug}-mail", name="Mail", is_sale_or_sharing=True
        )
        services.policy_version_create(
            purpose=purpose,
            actor="test",
            version=f"{org.slug}-v1",
            notice_sha256="ab" * 32,
            effective_at=datetime(2020, 1, 1, tzinfo=UTC),
        )
        event = services.consent_record(
            organization=org,
            item=event_input(
                subject_id=subject_id,
                subject_email=email,
                purpose=purpose.key,
                source=f"{org.slug}-form",
                jurisdiction="US-CA",
            ),
        ).event
        services.gpc_signal_record(organization=org, subject_id=subject_id, channel="header", jurisdiction="US-CA")
        services.ledger_integrity_check(organization=org, actor="test")
        world[label] = {"organization": org, "subject": event.subject, "event": event, "purpose": purpose}
    return world


def test_a_scoped_staff_user_sees_nothing_of_another_organization_in_any_consent_page(
    client: Client, django_user_model: Any, two_tenants: dict[str, Any]
) -> None:
    mine, theirs = two_tenants["mine"], two_tenants["theirs"]
    staff(django_user_model, client, *view_codenames(), organizations=[mine["organization"]])

    for model in [*CONSENT_MODELS, LedgerVerificationRun]:
        url = f"/admin/consent/{model._meta.model_name}/"
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert "globex" not in html.lower(), url  # not in rows, organization filter choices, nor facets
        assert page.context["cl"].result_count == model.objects.filter(organization=mine["organization"]).count()
        for term in ("globex", "globex-cust", "globex-form", "globex-mail", theirs["event"].event_id):
            assert client.get(url, {"q": term}).context["cl"].result_count == 0, (url, term)
        filtered = client.get(url, {"organization__id__exact": theirs["organization"].pk})
        assert "globex-" not in filtered.content.decode().lower(), url
        theirs_row = model.objects.filter(organization=theirs["organization"]).first()
        assert theirs_row is not None
        detail = client.get(f"{url}{theirs_row.pk}/change/")
        assert detail.status_code in (302, 404), url
        if detail.status_code == 302:
            assert f"/{theirs_row.pk}/" not in detail["Location"]
    # Their subject's page never shows, and their ledger can't be verified from here.
    runs = LedgerVerificationRun.objects.count()
    client.post(
        "/admin/core/organization/",
        {"action": "verify_ledger", "_selected_action": [theirs["organization"].pk]},
    )
    assert LedgerVerificationRun.objects.count() == runs


def test_the_subject_email_is_masked_on_its_page(
    client: Client, django_user_model: Any, two_tenants: dict[str, Any]
) -> None:
    mine = two_tenants["mine"]
    staff(django_user_model, client, *view_codenames(), organizations=[mine["organization"]])

    html = client.get(f"/admin/consent/subject/{mine['subject'].pk}/change/").content.decode()

    assert ADA not in html
    assert "lovelace" not in html
    assert "a•••@e•••.org" in html
    assert 'id="reveal-contact"' not in html  # no permission, no button
    assert not AuditLogEntry.objects.filter(action=AuditAction.SUBJECT_CONTACT_REVEALED).exists()


def test_revealing_needs_the_permission_and_a_post_and_is_audited(
    client: Client, django_user_model: Any, two_tenants: dict[str, Any]
) -> None:
    mine, theirs = two_tenants["mine"], two_tenants["theirs"]
    user = staff(django_user_model, client, *view_codenames(), organizations=[mine["organization"]])
    url = f"/admin/consent/subject/{mine['subject'].pk}/reveal-contact/"

    refused = client.post(url)
    assert refused.status_code == 403
    assert not AuditLogEntry.objects.filter(action=AuditAction.SUBJECT_CONTACT_REVEALED).exists()

    user.user_permissions.add(Permission.objects.get(codename="reveal_subject_contact"))
    user = django_user_model.objects.get(pk=user.pk)  # fresh permission cache
    client.force_login(user)
    page = client.get(f"/admin/consent/subject/{mine['subject'].pk}/change/").content.decode()
    assert 'id="reveal-contact"' in page
    assert ADA not in page

    scanner = client.get(url)  # a link opened by a scanner or a prefetch reveals nothing
    other_tenant = client.post(f"/admin/consent/subject/{theirs['subject'].pk}/reveal-contact/")
    assert scanner.status_code == 405
    assert other_tenant.status_code == 404
    assert not AuditLogEntry.objects.filter(action=AuditAction.SUBJECT_CONTACT_REVEALED).exists()

    revealed = client.post(url)

    assert revealed.status_code == 200
    assert ADA in revealed.content.decode()
    assert "no-store" in revealed["Cache-Control"]
    entry = AuditLogEntry.objects.get(action=AuditAction.SUBJECT_CONTACT_REVEALED)
    assert (entry.organization, entry.object_id, entry.actor) == (
        mine["organization"],
        str(mine["subject"].pk),
        f"user:{user.pk}",
    )
    assert ADA not in str(entry.data)


def consent_admins() -> list[tuple[type, admin.ModelAdmin]]:
    """Every admin with an action written in consent/ (the organization admin carries consent's ledger and
    GPC actions, whichever app registers it last)."""
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if any(func.__module__.startswith("consent.") for func, _, _ in model_admin._get_base_actions())
        or type(model_admin).__module__.startswith("consent.")
    ]


def test_every_consent_admin_action_declares_a_permission_beyond_view() -> None:
    actions = [
        (type(model_admin).__name__, name, func)
        for _, model_admin in consent_admins()
        for func, name, _description in model_admin._get_base_actions()
        if name != "delete_selected"
    ]

    assert {name for _, name, _ in actions} >= {"verify_ledger", "honor_gpc_everywhere", "retire_sources"}
    for admin_name, name, func in actions:
        permissions = getattr(func, "allowed_permissions", ())
        assert permissions, (admin_name, name)
        assert "view" not in permissions, (admin_name, name)


def test_a_view_only_staff_user_is_refused_every_consent_admin_action(
    client: Client, django_user_model: Any, two_tenants: dict[str, Any]
) -> None:
    user = staff(django_user_model, client, *view_codenames(), organizations=None)
    request = RequestFactory().get("/admin/")
    request.user = user
    runs, audit = LedgerVerificationRun.objects.count(), AuditLogEntry.objects.count()
    sources = list(Source.objects.values_list("pk", "is_active"))
    gpc = list(Organization.objects.values_list("pk", "honor_gpc_everywhere", "gpc_settings_updated_at"))

    tried = 0
    for model, model_admin in consent_admins():
        offered = set(model_admin.get_actions(request)) - {"delete_selected"}
        assert not offered, (type(model_admin).__name__, offered)
        for _func, name, _description in model_admin._get_base_actions():
            selected = list(model.objects.values_list("pk", flat=True))
            url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
            client.post(url, {"action": name, "_selected_action": selected})
            tried += 1

    assert tried >= 4
    assert LedgerVerificationRun.objects.count() == runs
    assert AuditLogEntry.objects.count() == audit
    assert list(Source.objects.values_list("pk", "is_active")) == sources
    assert list(Organization.objects.values_list("pk", "honor_gpc_everywhere", "gpc_settings_updated_at")) == gpc


def test_the_verify_ledger_action_needs_the_right_to_record_a_run(
    client: Client, django_user_model: Any, two_tenants: dict[str, Any]
) -> None:
    mine = two_tenants["mine"]
    staff(django_user_model, client, "view_organization", "add_ledgerverificationrun", organizations=None)
    runs = LedgerVerificationRun.objects.count()

    client.post("/admin/core/organization/", {"action": "verify_ledger", "_selected_action": [mine["organization"].pk]})

    assert LedgerVerificationRun.objects.count() == runs + 1
    assert AuditLogEntry.objects.filter(action=AuditAction.LEDGER_VERIFIED, organization=mine["organization"]).count()
