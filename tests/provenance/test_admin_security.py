"""Security audit items 2 and 7, the provenance part: every provenance admin action needs the permission its
effect needs (a view-only staff user runs each one and nothing changes), and a staff user limited to one
organization sees and touches nothing of another, in lists, filters, searches, object pages, forms and actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.utils import timezone

from consent import services as consent_services
from consent.enums import SourceKind
from consent.models import Purpose, Subject
from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from core.staff_roles import KEY_ADMINISTRATOR, PRIVACY_COUNSEL
from provenance.enums import AlertKind, DeliveryStatus, NoticeStatus, RecipientRole
from provenance.models import ConsentNotice, Delivery, ProvenanceAlert, Recipient, SigningKey, StampRecord
from provenance.services.alerts import alert_failures, provenance_alert_open
from provenance.services.keys import signing_key_retire, signing_key_rotate
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from provenance.services.webhook_secrets import recipient_webhook_secret_rotate
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

PROVENANCE_MODELS = (Recipient, SigningKey, StampRecord, Delivery, ConsentNotice, ProvenanceAlert)


@dataclass
class World:
    organization: Organization
    purpose: Purpose
    recipient: Recipient
    subject: Subject
    delivery: Delivery
    notice: ConsentNotice
    alert: ProvenanceAlert
    retired_key: SigningKey
    current_key: SigningKey
    stamp: StampRecord


def build_world(organization: Organization, tag: str) -> World:
    """One organization's provenance rows, each in a state every action can change."""
    consent_services.source_create(
        organization=organization, actor="test", key="web-signup", name="Signup", kind=SourceKind.WEB_FORM
    )
    purpose = consent_services.purpose_create(organization=organization, actor="test", key="marketing-email", name="M")
    recipient = recipient_create(
        organization=organization,
        actor="test",
        purposes=[purpose.key],
        key=f"crm-{tag}",
        name=f"CRM {tag}",
        role=RecipientRole.PROCESSOR,
        webhook_url=f"https://crm-{tag}.example.com/hooks",
    )
    recipient_webhook_secret_rotate(recipient=recipient, actor="test")
    consent_services.consent_record(organization=organization, item=event_input(subject_id=f"person-{tag}"))
    subject = Subject.objects.get(organization=organization)
    now = timezone.now()
    delivery = Delivery.objects.create(
        organization=organization,
        public_id=f"01DELIVERY{tag.upper():0>16}",
        recipient=recipient,
        subject_external_id=f"person-{tag}",
        purposes=[purpose.key],
        payload_sealed="SEALED",
        status=DeliveryStatus.DEAD,
        give_up_at=now - timedelta(hours=1),
    )
    notice = ConsentNotice.objects.create(
        organization=organization,
        public_id=f"01NOTICE{tag.upper():0>18}",
        recipient=recipient,
        subject_external_id=f"person-{tag}",
        purpose=purpose,
        event_id=f"01EVENT{tag.upper():0>19}",
        change="withdrawn",
        status=NoticeStatus.DEAD,
        give_up_at=now - timedelta(hours=1),
    )
    alert = provenance_alert_open(
        organization_id=organization.pk,
        kind=AlertKind.VALIDATION,
        subject_external_id=f"person-{tag}",
        failures=alert_failures(what="opt_in", problem="missing", detail="no opt-in"),
    )
    retired = signing_key_rotate(organization=organization, actor="test")
    current = signing_key_rotate(organization=organization, actor="test")
    signing_key_retire(key=retired, actor="test")
    [result] = stamp_many(
        organization=organization,
        requests=[StampRequest(recipient=recipient.key, purposes=(purpose.key,), subject_id=f"person-{tag}", data={})],
    )
    retired.refresh_from_db()
    return World(
        organization=organization,
        purpose=purpose,
        recipient=recipient,
        subject=subject,
        delivery=delivery,
        notice=notice,
        alert=alert,
        retired_key=retired,
        current_key=current,
        stamp=StampRecord.objects.get(stamp_id=result.stamp_id),
    )


@pytest.fixture
def ours(organization: Organization) -> World:
    return build_world(organization, "a")


@pytest.fixture
def theirs(other_organization: Organization) -> World:
    return build_world(other_organization, "b")


def snapshot(organization: Organization | None = None) -> dict[str, Any]:
    """Every field an admin action could change, and the audit trail."""

    def rows(model: type[Any], *fields: str) -> list[Any]:
        queryset = model.objects.order_by("pk")
        if organization is not None:
            queryset = queryset.filter(organization=organization)
        return list(queryset.values_list("pk", *fields))

    audit = AuditLogEntry.objects.all()
    if organization is not None:
        audit = audit.filter(organization=organization)
    return {
        "keys": rows(SigningKey, "is_current", "retired_at", "revoked_at"),
        "recipients": rows(
            Recipient, "webhook_secret_sealed", "previous_webhook_secret_sealed", "updated_at", "is_active"
        ),
        "deliveries": rows(Delivery, "status", "next_attempt_at", "give_up_at"),
        "notices": rows(ConsentNotice, "status", "next_attempt_at", "give_up_at"),
        "alerts": rows(ProvenanceAlert, "status", "note", "updated_at"),
        "stamps": rows(StampRecord),
        "audit": audit.count(),
    }


def staff(
    django_user_model: Any,
    client: Client,
    permissions: list[str],
    *,
    organizations: list[Organization] | None = None,
    groups: tuple[str, ...] = (),
) -> Any:
    user = django_user_model.objects.create_user(username="staffer", password="x", is_staff=True)
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    for group in groups:
        user.groups.add(Group.objects.get(name=group))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def provenance_admins() -> list[tuple[type[Any], admin.ModelAdmin]]:
    return [(model, model_admin) for model, model_admin in admin.site._registry.items() if model in PROVENANCE_MODELS]


def all_actions(model_admin: admin.ModelAdmin, superuser: Any) -> list[str]:
    request = RequestFactory().get("/")
    request.user = superuser
    return [name for name in model_admin.get_actions(request) if name != "delete_selected"]


def changelist(model: type[Any]) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


def run_action(client: Client, model: type[Any], action: str, pks: list[int]) -> Any:
    return client.post(
        changelist(model), {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0"}, follow=True
    )


ALL_VIEW = [f"provenance.view_{model._meta.model_name}" for model in PROVENANCE_MODELS]
EVERY_PROVENANCE_PERMISSION = [
    *ALL_VIEW,
    *(f"provenance.change_{model._meta.model_name}" for model in PROVENANCE_MODELS),
    "provenance.add_recipient",
    "provenance.revoke_signingkey",
    "provenance.rotate_webhook_secret",
]


# ---------------------------------------------------------------------------------------------
# Item 2: a view-only staff user runs every action, and nothing changes
# ---------------------------------------------------------------------------------------------


def test_every_provenance_admin_action_is_refused_to_a_view_only_staff_user(
    client: Client, django_user_model: Any, admin_user: Any, ours: World, theirs: World
) -> None:
    staff(django_user_model, client, ALL_VIEW)
    before = snapshot()
    tried: list[str] = []

    for model, model_admin in provenance_admins():
        pks = list(model.objects.values_list("pk", flat=True))
        page = client.get(changelist(model))
        assert page.status_code == 200
        for action in all_actions(model_admin, admin_user):
            response = run_action(client, model, action, pks)
            assert response.status_code in (200, 403), (model, action)
            assert f'value="{action}"' not in page.content.decode(), (model, action)
            tried.append(f"{model._meta.model_name}.{action}")
    refused_rotate = client.post("/admin/provenance/signingkey/rotate/", {"organization": str(ours.organization.pk)})

    assert refused_rotate.status_code == 403
    assert sorted(tried) == sorted(
        [
            "consentnotice.replay_notices",
            "delivery.replay_deliveries",
            "provenancealert.acknowledge_alerts",
            "provenancealert.resolve_alerts",
            "recipient.rotate_webhook_secrets",
            "signingkey.retire_keys",
            "signingkey.revoke_keys",
            "signingkey.rotate_now",
        ]
    ), "a new action needs its own refusal check here"
    assert snapshot() == before


def test_editing_recipients_does_not_rotate_their_webhook_secrets(
    client: Client, django_user_model: Any, ours: World
) -> None:
    """Privacy counsel edits recipients; a webhook secret is the key administrator's."""
    staff(django_user_model, client, [], groups=(PRIVACY_COUNSEL,))
    before = snapshot()

    response = run_action(client, Recipient, "rotate_webhook_secrets", [ours.recipient.pk])

    assert "whsec_" not in response.content.decode()
    assert snapshot() == before


def test_changing_signing_keys_does_not_revoke_them(client: Client, django_user_model: Any, ours: World) -> None:
    staff(django_user_model, client, ["provenance.view_signingkey", "provenance.change_signingkey"])
    before = snapshot()

    run_action(client, SigningKey, "revoke_keys", [ours.retired_key.pk])

    assert snapshot() == before


def test_the_key_administrator_revokes_a_retired_key_and_the_revocation_is_audited(
    client: Client, django_user_model: Any, ours: World
) -> None:
    user = staff(django_user_model, client, [], groups=(KEY_ADMINISTRATOR,))

    response = run_action(client, SigningKey, "revoke_keys", [ours.retired_key.pk, ours.current_key.pk])

    messages = [str(m) for m in response.context["messages"]]
    assert any(f"{ours.retired_key.kid}: revoked" in m for m in messages)
    assert any("Retire the key first" in m for m in messages)
    ours.retired_key.refresh_from_db()
    ours.current_key.refresh_from_db()
    assert ours.retired_key.revoked_at is not None
    assert ours.current_key.revoked_at is None
    entry = AuditLogEntry.objects.get(action="signing_key.revoked")
    assert (entry.actor, entry.object_id, entry.organization_id) == (
        f"user:{user.pk}",
        ours.retired_key.kid,
        ours.organization.pk,
    )


def test_the_key_administrator_rotates_webhook_secrets(client: Client, django_user_model: Any, ours: World) -> None:
    staff(django_user_model, client, [], groups=(KEY_ADMINISTRATOR,))
    sealed = ours.recipient.webhook_secret_sealed

    response = run_action(client, Recipient, "rotate_webhook_secrets", [ours.recipient.pk])

    assert "whsec_" in response.content.decode()
    ours.recipient.refresh_from_db()
    assert ours.recipient.webhook_secret_sealed != sealed


# ---------------------------------------------------------------------------------------------
# Item 7: a staff user limited to one organization
# ---------------------------------------------------------------------------------------------


def test_a_scoped_staff_user_lists_only_their_organizations_rows(
    client: Client, django_user_model: Any, ours: World, theirs: World
) -> None:
    staff(django_user_model, client, EVERY_PROVENANCE_PERMISSION, organizations=[ours.organization])

    for model, _model_admin in provenance_admins():
        response = client.get(changelist(model))
        assert response.status_code == 200, model
        listed = list(response.context["cl"].result_list)
        assert listed, model
        assert {row.organization_id for row in listed} == {ours.organization.pk}, model
        html = response.content.decode()
        assert theirs.organization.slug not in html, model
        assert theirs.recipient.key not in html, model


def test_a_scoped_staff_users_filters_and_searches_offer_nothing_of_another_organization(
    client: Client, django_user_model: Any, ours: World, theirs: World
) -> None:
    staff(django_user_model, client, EVERY_PROVENANCE_PERMISSION, organizations=[ours.organization])

    for model in (StampRecord, Delivery, ConsentNotice):
        html = client.get(changelist(model)).content.decode()
        assert f"recipient__id__exact={theirs.recipient.pk}" not in html, model
        assert f"organization__id__exact={theirs.organization.pk}" not in html, model
        searched = client.get(changelist(model), {"q": "person-b"})
        assert list(searched.context["cl"].result_list) == [], model
        about_them = client.get(changelist(model), {"subject": str(theirs.subject.pk)})
        assert list(about_them.context["cl"].result_list) == [], model
        assert "person-b" not in about_them.content.decode(), model
    for model, term in ((Delivery, theirs.delivery.public_id), (ProvenanceAlert, theirs.alert.public_id)):
        assert list(client.get(changelist(model), {"q": term}).context["cl"].result_list) == []
    add_page = client.get("/admin/provenance/recipient/add/")
    assert add_page.status_code == 200
    add_form = add_page.content.decode()
    assert f'value="{theirs.organization.pk}"' not in add_form
    assert f'value="{theirs.purpose.pk}"' not in add_form
    assert f'value="{ours.purpose.pk}"' in add_form


def test_a_scoped_staff_user_cannot_open_or_act_on_another_organizations_rows(
    client: Client, django_user_model: Any, ours: World, theirs: World
) -> None:
    staff(django_user_model, client, EVERY_PROVENANCE_PERMISSION, organizations=[ours.organization])
    their_rows = {
        Recipient: theirs.recipient,
        SigningKey: theirs.retired_key,
        StampRecord: theirs.stamp,
        Delivery: theirs.delivery,
        ConsentNotice: theirs.notice,
        ProvenanceAlert: theirs.alert,
    }
    before = snapshot(theirs.organization)

    for model, row in their_rows.items():
        page = client.get(f"{changelist(model)}{row.pk}/change/", follow=True)
        assert page.status_code == 200
        assert page.redirect_chain, model  # "doesn't exist": back to the admin index
        assert theirs.organization.slug not in page.content.decode(), model
    for model, model_admin in provenance_admins():
        for action in all_actions(model_admin, django_user_model(is_superuser=True)):
            run_action(client, model, action, [their_rows[model].pk])
    client.post("/admin/provenance/signingkey/rotate/", {"organization": str(theirs.organization.pk)})
    client.post(
        "/admin/provenance/provenancealert/",
        {
            "action": "resolve_alerts",
            "_selected_action": [str(theirs.alert.pk)],
            "apply": "1",
            "note": "closed by the wrong tenant",
        },
    )

    assert snapshot(theirs.organization) == before
