"""Security audit items 2, 4 and 7 (the DSAR and reports part), as staff users with few permissions: every admin
action needs the permission its effect needs (never "view"), a staff user limited to one organization sees and
touches nothing of another, the requester's contact shows masked and is revealed only by an audited POST with
its own permission, and an export is downloaded from the admin only by an audited POST with its own permission."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, TestCase

from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from dsar import services
from dsar.models import (
    Connector,
    DataSubjectRequest,
    DsarExport,
    FulfilmentStep,
    MessageTemplate,
    RequestMessage,
    RequestTransition,
)
from reports.models import ClientMembership
from reports.services import client_user_create

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dsar/datasubjectrequest/"
EMAIL = "ada@example.com"
DSAR_AND_REPORTS_ADMINS = [
    model_admin for model, model_admin in admin.site._registry.items() if model._meta.app_label in ("dsar", "reports")
]


def staff(
    django_user_model: Any, client: Client, *codenames: str, organizations: list[Organization] | None = None
) -> Any:
    user = django_user_model.objects.create_user(username="limited", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def request_in(organization: Organization, request_type: str = "access", subject: str = "cust-1") -> Any:
    return services.dsar_create(
        organization=organization,
        request_type=request_type,
        channel="api",
        actor="test",
        jurisdiction="DE",
        subject_external_id=subject,
        requester=services.Requester(email=EMAIL, name="Ada Lovelace"),
    )


def waiting_erasure(organization: Organization) -> DataSubjectRequest:
    request = request_in(organization, "deletion")
    services.dsar_identity_verify(request=request, actor="legal", note="passport")
    services.dsar_fulfil_start(request=request, actor="legal")
    request.refresh_from_db()
    return request


def exported(organization: Organization) -> DataSubjectRequest:
    request = request_in(organization, "access")
    services.dsar_identity_verify(request=request, actor="legal", note="passport")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    return request


def world() -> tuple[Any, ...]:
    """Everything an admin action could change."""
    return (
        sorted(DataSubjectRequest.objects.values_list("pk", "status", "assignee_id", "is_extended", "due_on")),
        sorted(DataSubjectRequest.objects.values_list("pk", "erasure_approved_at", "erasure_cancelled_at")),
        RequestTransition.objects.count(),
        FulfilmentStep.objects.count(),
        AuditLogEntry.objects.count(),
        sorted(ClientMembership.objects.values_list("pk", "user__is_active")),
        sorted(MessageTemplate.objects.values_list("pk", "subject", "body_text", "is_active", "version")),
        RequestMessage.objects.count(),
    )


# --- item 2: a view-only staff user runs no action ------------------------------------------------------------------


def test_every_dsar_and_reports_action_declares_a_permission_other_than_view() -> None:
    assert DSAR_AND_REPORTS_ADMINS, "the admins are registered"
    for model_admin in DSAR_AND_REPORTS_ADMINS:
        for name in model_admin.actions or ():
            func = getattr(model_admin, name) if isinstance(name, str) else name
            permissions = getattr(func, "allowed_permissions", ())
            assert permissions, f"{type(model_admin).__name__}.{name} declares no permission"
            assert "view" not in permissions, f"{type(model_admin).__name__}.{name} runs on view"


def test_a_view_only_staff_user_can_run_none_of_the_actions(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    waiting = waiting_erasure(organization)
    pending = request_in(organization, subject="cust-2")
    client_user_create(
        organization=organization, username="client", email="c@example.com", password="x!Y9-long-pw", actor="test"
    )
    template = services.message_template_save(
        organization=organization,
        kind="receipt",
        language="en",
        subject="Received {{ request_id }}",
        body_text="{{ organization_name }} has {{ request_id }}.",
        actor="test",
    )
    view_codenames = [
        f"view_{model._meta.model_name}"
        for model in admin.site._registry
        if model._meta.app_label in ("dsar", "reports")
    ]
    staff(django_user_model, client, *view_codenames)
    before = world()
    tried = 0

    for model_admin in DSAR_AND_REPORTS_ADMINS:
        opts = model_admin.model._meta
        url = f"/admin/{opts.app_label}/{opts.model_name}/"
        listing = client.get(url)
        assert listing.status_code == 200, url
        pks = [str(pk) for pk in model_admin.model._default_manager.values_list("pk", flat=True)]
        for name in model_admin.actions or ():
            tried += 1
            assert f'value="{name}"' not in listing.content.decode(), f"{name} is offered to a view-only user"
            form = {"reason": "x", "note": "x", "reason_code": "complexity", "notice_sent_on": "2026-01-01"}
            client.post(url, {"action": name, "_selected_action": pks, "index": "0", "apply": "yes", **form})

    # The message templates: changing, adding and resetting are refused; the preview (a GET) writes nothing.
    templates = "/admin/dsar/messagetemplate/"
    form = {"subject": "Changed {{ request_id }}", "body_text": "{{ organization_name }} {{ request_id }}"}
    refused = [
        client.post(f"{templates}{template.pk}/change/", form).status_code,
        client.post(f"{templates}add/", {**form, "organization": organization.pk, "kind": "denial"}).status_code,
        client.post(f"{templates}{template.pk}/reset/").status_code,
    ]
    assert refused == [403, 403, 403]
    assert client.get(f"{templates}{template.pk}/preview/").status_code == 200

    assert tried >= 8
    assert world() == before
    waiting.refresh_from_db()
    assert (waiting.status, waiting.erasure_approved_at) == ("in_progress", None)
    assert pending.pk


def test_approve_and_cancel_erasure_need_their_own_permissions(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    waiting = waiting_erasure(organization)
    user = staff(django_user_model, client, "view_datasubjectrequest", "change_datasubjectrequest")
    before = world()

    page = client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "approve_erasure", "_selected_action": [waiting.pk], "index": "0"})
    client.post(
        CHANGELIST,
        {"action": "cancel_erasure", "_selected_action": [waiting.pk], "index": "0", "apply": "yes", "reason": "x"},
    )

    assert 'value="approve_erasure"' not in page
    assert 'value="cancel_erasure"' not in page
    assert world() == before

    user.user_permissions.add(Permission.objects.get(codename="approve_erasure"))
    client.force_login(user)
    with TestCase.captureOnCommitCallbacks(execute=False):
        client.post(CHANGELIST, {"action": "approve_erasure", "_selected_action": [waiting.pk], "index": "0"})
    waiting.refresh_from_db()
    assert waiting.erasure_approved_by == f"user:{user.pk}"
    audit = AuditLogEntry.objects.get(action="dsar.erasure_approved")
    assert audit.actor == f"user:{user.pk}"


def test_the_cancel_erasure_action_asks_for_a_reason_then_rejects(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    waiting = waiting_erasure(organization)
    user = staff(django_user_model, client, "view_datasubjectrequest", "cancel_erasure")

    asked = client.post(CHANGELIST, {"action": "cancel_erasure", "_selected_action": [waiting.pk], "index": "0"})
    waiting.refresh_from_db()
    assert asked.status_code == 200
    assert waiting.status == "in_progress"

    client.post(
        CHANGELIST,
        {
            "action": "cancel_erasure",
            "_selected_action": [waiting.pk],
            "index": "0",
            "apply": "yes",
            "reason": "Legal hold.",
        },
    )
    waiting.refresh_from_db()
    assert waiting.status == "rejected"
    assert AuditLogEntry.objects.get(action="dsar.erasure_cancelled").actor == f"user:{user.pk}"
    page = client.get(f"{CHANGELIST}{waiting.pk}/change/").content.decode()
    assert "cancelled on" in page
    assert waiting.due_on.isoformat() in page


# --- item 7: organization scoping ------------------------------------------------------------------------------------


def test_a_staff_user_limited_to_one_organization_sees_and_touches_nothing_of_another(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    mine = request_in(organization, subject="acme-subject")
    theirs = waiting_erasure(other_organization)
    DataSubjectRequest.objects.filter(pk=theirs.pk).update(subject_external_id="globex-subject")
    services.connector_create(
        organization=other_organization, key="globex-crm", name="Globex CRM", url="https://crm.example", actor="t"
    )
    services.connector_create(
        organization=organization, key="acme-crm", name="Acme CRM", url="https://crm.example", actor="t"
    )
    client_user_create(
        organization=other_organization,
        username="globex-client",
        email="g@example.com",
        password="x!Y9-long-pw",
        actor="test",
    )
    user = staff(
        django_user_model,
        client,
        "view_datasubjectrequest",
        "change_datasubjectrequest",
        "approve_erasure",
        "cancel_erasure",
        "reveal_requester_contact",
        "download_dsarexport",
        "view_connector",
        "view_clientmembership",
        "change_clientmembership",
        organizations=[organization],
    )
    before = world()

    listed = client.get(CHANGELIST).content.decode()
    searched = client.get(f"{CHANGELIST}?q=globex-subject").content.decode()
    filtered = client.get(f"{CHANGELIST}?organization__id__exact={other_organization.pk}")
    detail = client.get(f"{CHANGELIST}{theirs.pk}/change/")
    reveal = client.post(f"{CHANGELIST}{theirs.pk}/reveal-contact/")
    download = client.post(f"{CHANGELIST}{theirs.pk}/download-export/")
    connectors = client.get("/admin/dsar/connector/").content.decode()
    members = client.get("/admin/reports/clientmembership/").content.decode()
    for action in ("approve_erasure", "verify_requests", "approve_requests", "assign_requests"):
        client.post(CHANGELIST, {"action": action, "_selected_action": [theirs.pk], "index": "0", "apply": "yes"})
    client.post(
        CHANGELIST,
        {"action": "cancel_erasure", "_selected_action": [theirs.pk], "index": "0", "apply": "yes", "reason": "x"},
    )
    client.post(
        CHANGELIST,
        {"action": "reject_requests", "_selected_action": [theirs.pk], "index": "0", "apply": "yes", "reason": "x"},
    )

    assert mine.public_id in listed
    assert theirs.public_id not in listed
    assert "globex" not in listed.lower(), "not even as a filter choice"
    assert theirs.public_id not in searched
    assert theirs.public_id not in filtered.content.decode()
    assert detail.status_code == 302  # "doesn't exist", back to the list
    assert (reveal.status_code, download.status_code) == (404, 404)
    assert "acme-crm" in connectors
    assert "globex" not in connectors.lower()
    assert "globex-client" not in members
    assert world() == before
    assert not AuditLogEntry.objects.filter(actor=f"user:{user.pk}").exists()


def test_a_scoped_staff_user_cannot_file_a_request_for_another_organization(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    staff(django_user_model, client, "view_datasubjectrequest", "add_datasubjectrequest", organizations=[organization])

    response = client.post(
        f"{CHANGELIST}add/",
        {"organization": other_organization.pk, "type": "access", "jurisdiction": "DE", "channel": "api"},
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


# --- item 7: the requester's contact ---------------------------------------------------------------------------------


def test_the_contact_shows_masked_and_a_reveal_is_an_audited_post_with_its_own_permission(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    request = request_in(organization)
    page_url = f"{CHANGELIST}{request.pk}/change/"
    reveal_url = f"{CHANGELIST}{request.pk}/reveal-contact/"
    user = staff(django_user_model, client, "view_datasubjectrequest")
    before = AuditLogEntry.objects.count()

    page = client.get(page_url).content.decode()
    by_get = client.get(reveal_url)
    refused = client.post(reveal_url)

    assert "a***@example.com" in page
    assert EMAIL not in page
    assert "Lovelace" not in page
    assert "reveal-contact" not in page, "no button without the permission"
    assert by_get.status_code == 405
    assert refused.status_code == 403
    assert EMAIL not in refused.content.decode()
    assert AuditLogEntry.objects.count() == before

    user.user_permissions.add(Permission.objects.get(codename="reveal_requester_contact"))
    client.force_login(user)
    offered = client.get(page_url).content.decode()
    revealed = client.post(reveal_url)

    assert "reveal-contact/" in offered
    assert revealed.status_code == 200
    assert EMAIL in revealed.content.decode()
    assert "Ada Lovelace" in revealed.content.decode()
    assert "no-store" in revealed["Cache-Control"]
    audit = AuditLogEntry.objects.get(action="dsar.requester_contact_revealed")
    assert (audit.actor, audit.object_id) == (f"user:{user.pk}", request.public_id)
    assert EMAIL not in str(audit.data)


# --- item 4: downloading an export from the admin --------------------------------------------------------------------


def test_downloading_an_export_from_the_admin_is_an_audited_post_with_its_own_permission(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    request = exported(organization)
    download_url = f"{CHANGELIST}{request.pk}/download-export/"
    user = staff(django_user_model, client, "view_datasubjectrequest")
    before = AuditLogEntry.objects.count()

    by_get = client.get(download_url)
    refused = client.post(download_url)

    assert by_get.status_code == 405
    assert refused.status_code == 403
    assert AuditLogEntry.objects.count() == before

    user.user_permissions.add(Permission.objects.get(codename="download_dsarexport"))
    client.force_login(user)
    response = client.post(download_url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response.content.startswith(b"PK")
    audit = AuditLogEntry.objects.get(action="dsar.export_downloaded")
    assert audit.actor == f"user:{user.pk}"
    assert audit.data["via"] == "admin"
    assert DsarExport.objects.get(request=request).link_issued_at is None, "no link is signed for it"


def test_connectors_admin_is_read_only_and_never_shows_the_secret(
    admin_client: Client, organization: Organization
) -> None:
    connector, secret = services.connector_create(
        organization=organization, key="crm", name="CRM", url="https://crm.example", actor="t"
    )

    page = admin_client.get(f"/admin/dsar/connector/{connector.pk}/change/").content.decode()

    assert connector.public_id in page
    assert secret.removeprefix("whsec_") not in page
    assert Connector.objects.get(pk=connector.pk).secret_sealed not in page
