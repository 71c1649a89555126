"""The provenance admin, driven through Django's test client as a staff superuser on PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractUser
from django.test import Client
from django.utils import timezone

from consent import services as consent_services
from consent.models import Purpose, Source, Subject
from consent.services import consent_record
from core.crypto import master_keyring
from core.models import AuditLogEntry, Organization
from provenance.enums import AlertKind, AlertStatus, DeliveryStatus, NoticeStatus, RecipientRole
from provenance.models import (
    ConsentNotice,
    Delivery,
    DeliveryAttempt,
    ProvenanceAlert,
    Recipient,
    SigningKey,
    StampRecord,
)
from provenance.services.keys import signing_key_owner, signing_key_rotate
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

# An admin changelist costs a fixed number of queries (session, user, counts, filter choices, the
# page: 5 to 9 here); the fixtures put at least ten rows in each list, so a query per row exceeds it.
CHANGELIST_MAX_QUERIES = 10


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _listed(response: Any) -> list[Any]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def _action(admin_client: Client, url: str, action: str, pks: list[int], **extra: str) -> Any:
    return admin_client.post(
        url, {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0", **extra}, follow=True
    )


@pytest.fixture
def analytics(organization: Organization) -> Purpose:
    return consent_services.purpose_create(organization=organization, actor="test", key="analytics", name="Analytics")


@pytest.fixture
def crm(organization: Organization, purpose: Purpose) -> Recipient:
    return recipient_create(
        organization=organization,
        actor="test",
        purposes=[purpose.key],
        key="crm",
        name="CRM",
        role=RecipientRole.PROCESSOR,
        endpoint_url="https://crm.example.com/in",
        webhook_url="https://crm.example.com/hooks",
    )


@pytest.fixture
def stamps(
    organization: Organization, source: Source, purpose: Purpose, analytics: Purpose, crm: Recipient
) -> dict[str, StampRecord]:
    """One stamp per decision and reason: allowed, NO_CONSENT, CONSENT_WITHDRAWN, PURPOSE_NOT_REGISTERED."""
    now = timezone.now()
    consent_record(organization=organization, item=event_input(subject_id="cust-1"))
    consent_record(organization=organization, item=event_input(subject_id="cust-3"))
    consent_record(
        organization=organization,
        item=event_input(subject_id="cust-3", action="withdraw", occurred_at=now - timedelta(seconds=10)),
    )
    requests = {
        "allowed": StampRequest(recipient="crm", purposes=(purpose.key,), subject_id="cust-1", data={"n": 1}),
        "no_consent": StampRequest(
            recipient="crm", purposes=(purpose.key,), subject_id="cust-2", data={"n": 2}, jurisdiction="DE"
        ),
        "withdrawn": StampRequest(recipient="crm", purposes=(purpose.key,), subject_id="cust-3", data={"n": 3}),
        "not_registered": StampRequest(recipient="crm", purposes=(analytics.key,), subject_id="cust-1", data={}),
    }
    results = stamp_many(organization=organization, requests=list(requests.values()))
    records = {r.stamp_id: r for r in StampRecord.objects.all()}
    return {name: records[result.stamp_id] for name, result in zip(requests, results, strict=True)}


# --------------------------------------------------------------------------------------------
# Recipients
# --------------------------------------------------------------------------------------------


def _recipient_form(organization: Organization, purposes: list[Purpose], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "organization": str(organization.pk),
        "key": "mailer",
        "name": "Mailer",
        "role": RecipientRole.SERVICE_PROVIDER,
        "purposes": [str(p.pk) for p in purposes],
        "data_categories": '["contact"]',
        "endpoint_url": "https://mailer.example.com/in",
        "webhook_url": "",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_recipient_created_through_the_admin_writes_an_audit_entry(
    admin_client: Client, admin_user: AbstractUser, organization: Organization, purpose: Purpose, analytics: Purpose
) -> None:
    response = admin_client.post(
        "/admin/provenance/recipient/add/", _recipient_form(organization, [purpose, analytics])
    )

    assert response.status_code == 302
    recipient = Recipient.objects.get(organization=organization, key="mailer")
    assert sorted(p.key for p in recipient.purposes.all()) == ["analytics", "marketing-email"]
    assert recipient.data_categories == ["contact"]
    entry = AuditLogEntry.objects.get(action="recipient.created", object_id=str(recipient.pk))
    assert entry.actor == f"user:{admin_user.pk}"
    assert entry.organization_id == organization.pk


def test_recipient_data_categories_must_be_a_list_of_names(
    admin_client: Client, organization: Organization, purpose: Purpose
) -> None:
    url = "/admin/provenance/recipient/add/"

    refused = admin_client.post(url, _recipient_form(organization, [purpose], data_categories='{"contact": 1}'))
    emptied = admin_client.post(url, _recipient_form(organization, [purpose], data_categories=""))

    assert refused.status_code == 200
    assert "A JSON list of category names" in refused.content.decode()
    assert emptied.status_code == 302
    assert Recipient.objects.get(key="mailer").data_categories == []


def test_recipient_add_refuses_purposes_of_another_organization(
    admin_client: Client, organization: Organization, other_organization: Organization, purpose: Purpose
) -> None:
    foreign = consent_services.purpose_create(
        organization=other_organization, actor="test", key="marketing-email", name="Their marketing"
    )

    response = admin_client.post("/admin/provenance/recipient/add/", _recipient_form(organization, [foreign]))

    assert response.status_code == 200
    assert "Not purposes of acme: marketing-email." in response.content.decode()
    assert not Recipient.objects.filter(key="mailer").exists()
    assert not AuditLogEntry.objects.filter(action="recipient.created").exclude(actor="test").exists()


def test_recipient_add_with_a_taken_key_shows_the_service_error(
    admin_client: Client, organization: Organization, purpose: Purpose, crm: Recipient
) -> None:
    response = admin_client.post(
        "/admin/provenance/recipient/add/", _recipient_form(organization, [purpose], key="crm")
    )

    assert response.status_code == 200
    assert "already exists" in " ".join(_messages(response)) + response.content.decode()
    assert Recipient.objects.filter(key="crm").count() == 1


def test_recipient_change_goes_through_the_service_and_keeps_the_key(
    admin_client: Client, admin_user: AbstractUser, organization: Organization, analytics: Purpose, crm: Recipient
) -> None:
    url = f"/admin/provenance/recipient/{crm.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    offered = {choice.pk for choice in page.context["adminform"].form.fields["purposes"].queryset}
    assert offered == set(Purpose.objects.filter(organization=organization).values_list("pk", flat=True))

    data = _recipient_form(organization, [analytics], name="CRM (EU)", key="renamed")
    del data["organization"]
    response = admin_client.post(url, data)

    assert response.status_code == 302
    crm.refresh_from_db()
    assert crm.key == "crm"
    assert crm.name == "CRM (EU)"
    assert [p.key for p in crm.purposes.all()] == ["analytics"]
    entry = AuditLogEntry.objects.get(action="recipient.updated", object_id=str(crm.pk))
    assert entry.actor == f"user:{admin_user.pk}"


def test_recipients_cannot_be_deleted(admin_client: Client, crm: Recipient) -> None:
    assert admin_client.post(f"/admin/provenance/recipient/{crm.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Recipient.objects.filter(pk=crm.pk).exists()


def test_webhook_secret_rotation_shows_the_secret_once(
    admin_client: Client, organization: Organization, purpose: Purpose, crm: Recipient
) -> None:
    silent = recipient_create(
        organization=organization, actor="test", purposes=[], key="silent", name="No webhook", role="processor"
    )

    response = _action(admin_client, "/admin/provenance/recipient/", "rotate_webhook_secrets", [crm.pk, silent.pk])

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "whsec_" in html.split('id="webhook-secrets"')[1]
    assert "acme / silent: no webhook URL" in " ".join(_messages(response))
    crm.refresh_from_db()
    silent.refresh_from_db()
    assert crm.webhook_secret_sealed
    assert not silent.webhook_secret_sealed
    assert AuditLogEntry.objects.filter(action="recipient.webhook_secret_rotated", object_id=str(crm.pk)).exists()
    # The change page says a secret exists but never shows it.
    change = admin_client.get(f"/admin/provenance/recipient/{crm.pk}/change/").content.decode()
    assert "whsec_" not in change
    assert crm.webhook_secret_sealed not in change


def test_rotating_again_in_the_admin_says_until_when_the_replaced_secret_still_signs(
    admin_client: Client, crm: Recipient
) -> None:
    first = _action(admin_client, "/admin/provenance/recipient/", "rotate_webhook_secrets", [crm.pk])
    second = _action(admin_client, "/admin/provenance/recipient/", "rotate_webhook_secrets", [crm.pk])

    first_row = first.content.decode().split('id="webhook-secrets"')[1]
    second_row = second.content.decode().split('id="webhook-secrets"')[1]
    crm.refresh_from_db()
    assert crm.webhook_secret_rotated_at is not None
    until = timezone.localtime(crm.webhook_secret_rotated_at + timedelta(hours=24))
    assert until.strftime("%Y-%m-%d %H:%M") not in first_row, "the first secret replaced nothing"
    assert until.strftime("%Y-%m-%d %H:%M") in second_row
    assert crm.previous_webhook_secret_sealed


# --------------------------------------------------------------------------------------------
# The stamp log
# --------------------------------------------------------------------------------------------


def test_stamp_log_filters_by_decision_narrow_the_list(admin_client: Client, stamps: dict[str, StampRecord]) -> None:
    blocked = _listed(admin_client.get("/admin/provenance/stamprecord/?decision__exact=block"))
    allowed = _listed(admin_client.get("/admin/provenance/stamprecord/?decision__exact=allow"))

    assert {r.stamp_id for r in blocked} == {
        stamps[name].stamp_id for name in ("no_consent", "withdrawn", "not_registered")
    }
    assert [r.stamp_id for r in allowed] == [stamps["allowed"].stamp_id]


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("NO_CONSENT", "no_consent"),
        ("CONSENT_WITHDRAWN", "withdrawn"),
        ("PURPOSE_NOT_REGISTERED_FOR_RECIPIENT", "not_registered"),
    ],
)
def test_stamp_log_filter_by_reason_narrows_the_list(
    admin_client: Client, stamps: dict[str, StampRecord], reason: str, expected: str
) -> None:
    listed = _listed(admin_client.get(f"/admin/provenance/stamprecord/?reason={reason}"))

    assert [r.stamp_id for r in listed] == [stamps[expected].stamp_id]


def test_stamp_log_reason_filter_ignores_unknown_reasons_and_combines_with_others(
    admin_client: Client, stamps: dict[str, StampRecord], crm: Recipient
) -> None:
    assert _listed(admin_client.get("/admin/provenance/stamprecord/?reason=SOMETHING_ELSE")) == []
    assert _listed(admin_client.get("/admin/provenance/stamprecord/?reason=POLICY_STALE")) == []
    combined = _listed(
        admin_client.get(f"/admin/provenance/stamprecord/?reason=NO_CONSENT&recipient__id__exact={crm.pk}")
    )
    assert [r.stamp_id for r in combined] == [stamps["no_consent"].stamp_id]


def test_stamp_log_searches_by_subject_id_and_stamp_id(admin_client: Client, stamps: dict[str, StampRecord]) -> None:
    by_subject = _listed(admin_client.get("/admin/provenance/stamprecord/?q=cust-1"))
    by_stamp = _listed(admin_client.get(f"/admin/provenance/stamprecord/?q={stamps['withdrawn'].stamp_id}"))

    assert {r.stamp_id for r in by_subject} == {stamps["allowed"].stamp_id, stamps["not_registered"].stamp_id}
    assert [r.stamp_id for r in by_stamp] == [stamps["withdrawn"].stamp_id]


def test_everything_sent_about_a_subject_from_its_page(
    admin_client: Client, organization: Organization, stamps: dict[str, StampRecord]
) -> None:
    subject = Subject.objects.get(organization=organization, external_id="cust-1")

    page = admin_client.get(f"/admin/consent/subject/{subject.pk}/change/").content.decode()
    by_pk = _listed(admin_client.get(f"/admin/provenance/stamprecord/?subject={subject.pk}"))
    by_external_id = _listed(admin_client.get("/admin/provenance/stamprecord/?subject_external_id=cust-2"))

    assert f"/admin/provenance/stamprecord/?subject={subject.pk}" in page
    assert f"/admin/provenance/delivery/?subject={subject.pk}" in page
    assert {r.stamp_id for r in by_pk} == {stamps["allowed"].stamp_id, stamps["not_registered"].stamp_id}
    assert [r.stamp_id for r in by_external_id] == [stamps["no_consent"].stamp_id]
    assert _listed(admin_client.get("/admin/provenance/stamprecord/?subject=999999")) == []


def test_stamp_log_is_read_only(admin_client: Client, stamps: dict[str, StampRecord]) -> None:
    record = stamps["allowed"]

    assert admin_client.get("/admin/provenance/stamprecord/add/").status_code == 403
    assert admin_client.post(f"/admin/provenance/stamprecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    detail = admin_client.get(f"/admin/provenance/stamprecord/{record.pk}/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    blocked = admin_client.get(f"/admin/provenance/stamprecord/{stamps['no_consent'].pk}/change/").content.decode()
    assert "No consent on record where the jurisdiction requires opt-in" in blocked


# --------------------------------------------------------------------------------------------
# Signing keys
# --------------------------------------------------------------------------------------------


def test_rotate_action_makes_a_new_current_key(
    admin_client: Client, admin_user: AbstractUser, organization: Organization
) -> None:
    old = signing_key_rotate(organization=organization, actor="test")

    response = _action(admin_client, "/admin/provenance/signingkey/", "rotate_now", [old.pk])

    assert response.status_code == 200
    new = SigningKey.objects.get(is_current=True)
    assert new.pk != old.pk
    old.refresh_from_db()
    assert not old.is_current
    assert old.retired_at is None  # still published, still verifies
    assert any(new.kid in message for message in _messages(response))
    assert AuditLogEntry.objects.filter(action="signing_key.rotated", actor=f"user:{admin_user.pk}").count() == 1


def test_rotate_button_works_with_no_key_yet(admin_client: Client, organization: Organization) -> None:
    assert admin_client.get("/admin/provenance/signingkey/rotate/").status_code == 405
    assert 'id="signing-key-rotate"' in admin_client.get("/admin/provenance/signingkey/").content.decode()

    response = admin_client.post("/admin/provenance/signingkey/rotate/", {"organization": str(organization.pk)})

    assert response.status_code == 302
    assert SigningKey.objects.filter(organization=organization, is_current=True).count() == 1


def test_retire_action_refuses_the_current_key_and_retires_others(
    admin_client: Client, organization: Organization
) -> None:
    old = signing_key_rotate(organization=organization, actor="test")
    current = signing_key_rotate(organization=organization, actor="test")

    refused = _action(admin_client, "/admin/provenance/signingkey/", "retire_keys", [current.pk])
    retired = _action(admin_client, "/admin/provenance/signingkey/", "retire_keys", [old.pk])

    assert any("Rotate first" in message for message in _messages(refused))
    current.refresh_from_db()
    old.refresh_from_db()
    assert current.retired_at is None
    assert current.is_current
    assert old.retired_at is not None
    assert any(f"{old.kid}: retired" in message for message in _messages(retired))


def test_signing_key_pages_never_show_the_private_key(admin_client: Client, organization: Organization) -> None:
    key = signing_key_rotate(organization=organization, actor="test")
    sealed = bytes(key.private_key_sealed)
    raw = master_keyring().unwrap(sealed, owner=signing_key_owner(key.kid))
    secrets = [
        sealed.hex(),
        base64.b64encode(sealed).decode(),
        base64.urlsafe_b64encode(sealed).decode().rstrip("="),
        raw.hex(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]

    pages = [
        admin_client.get("/admin/provenance/signingkey/"),
        admin_client.get(f"/admin/provenance/signingkey/{key.pk}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert key.kid in html
        assert "private_key" not in html
        for secret in secrets:
            assert secret[:24] not in html
    assert admin_client.get("/admin/provenance/signingkey/add/").status_code == 403
    assert admin_client.post(f"/admin/provenance/signingkey/{key.pk}/delete/", {"post": "yes"}).status_code == 403


# --------------------------------------------------------------------------------------------
# Deliveries and consent notices
# --------------------------------------------------------------------------------------------


def _delivery(organization: Organization, recipient: Recipient, n: int, **values: Any) -> Delivery:
    now = timezone.now()
    delivery = Delivery.objects.create(
        organization=organization,
        public_id=f"01DELIVERY{n:016d}",
        recipient=recipient,
        subject_external_id=f"cust-{n}",
        purposes=["marketing-email"],
        payload_sealed=f"SEALED-PAYLOAD-{n}",
        give_up_at=now + timedelta(hours=24),
        **values,
    )
    DeliveryAttempt.objects.create(delivery=delivery, outcome="retryable_error", http_status=503, detail="HTTP 503")
    return delivery


def _notice(organization: Organization, recipient: Recipient, purpose: Purpose, n: int, **values: Any) -> ConsentNotice:
    notice = ConsentNotice.objects.create(
        organization=organization,
        public_id=f"01NOTICE{n:018d}",
        recipient=recipient,
        subject_external_id=f"cust-{n}",
        purpose=purpose,
        event_id=f"01EVENT{n:019d}",
        change="withdrawn",
        give_up_at=timezone.now() + timedelta(days=3),
        **values,
    )
    DeliveryAttempt.objects.create(notice=notice, outcome="network_error", detail="timeout (ConnectTimeout)")
    return notice


def test_delivery_page_shows_its_attempt_log_and_never_the_payload(
    admin_client: Client, organization: Organization, crm: Recipient
) -> None:
    delivery = _delivery(organization, crm, 1, status=DeliveryStatus.RETRYING, attempts=1)

    response = admin_client.get(f"/admin/provenance/delivery/{delivery.pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "HTTP 503" in html
    assert "retryable_error" in html
    assert "SEALED-PAYLOAD" not in html
    dead = _listed(admin_client.get("/admin/provenance/delivery/?status__exact=dead"))
    retrying = _listed(admin_client.get("/admin/provenance/delivery/?status__exact=retrying"))
    assert dead == []
    assert [d.pk for d in retrying] == [delivery.pk]


def test_notice_page_shows_its_attempt_log(
    admin_client: Client, organization: Organization, crm: Recipient, purpose: Purpose
) -> None:
    notice = _notice(organization, crm, purpose, 1, status=NoticeStatus.DEAD)

    response = admin_client.get(f"/admin/provenance/consentnotice/{notice.pk}/change/")

    assert response.status_code == 200
    assert "timeout (ConnectTimeout)" in response.content.decode()
    assert [n.pk for n in _listed(admin_client.get("/admin/provenance/consentnotice/?status__exact=dead"))] == [
        notice.pk
    ]
    assert _listed(admin_client.get("/admin/provenance/consentnotice/?status__exact=pending")) == []


# --------------------------------------------------------------------------------------------
# Provenance alerts
# --------------------------------------------------------------------------------------------


def _alert(organization: Organization, n: int = 1) -> ProvenanceAlert:
    return ProvenanceAlert.objects.create(
        organization=organization,
        kind=AlertKind.VALIDATION,
        subject_external_id=f"cust-{n}",
        source_key="partner-feed",
        failures=[
            {"field": "consent_timestamp", "problem": "missing", "detail": "The record carries no consent timestamp."}
        ],
    )


def test_alert_page_shows_its_failures(admin_client: Client, organization: Organization) -> None:
    alert = _alert(organization)

    html = admin_client.get(f"/admin/provenance/provenancealert/{alert.pk}/change/").content.decode()

    failures = html.split('id="alert-failures"')[1]
    assert "consent_timestamp" in failures
    assert "The record carries no consent timestamp." in failures


def test_acknowledge_then_resolve_alerts_with_a_note(
    admin_client: Client, admin_user: AbstractUser, organization: Organization
) -> None:
    alert = _alert(organization)
    url = "/admin/provenance/provenancealert/"

    _action(admin_client, url, "acknowledge_alerts", [alert.pk])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED

    asked = _action(admin_client, url, "resolve_alerts", [alert.pk])
    assert asked.status_code == 200
    assert 'name="note"' in asked.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED  # nothing happens before the note

    admin_client.post(
        url, {"action": "resolve_alerts", "_selected_action": [str(alert.pk)], "apply": "yes", "note": "Partner fixed"}
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.note == "Partner fixed"
    assert alert.resolved_by == f"user:{admin_user.pk}"
    assert list(
        AuditLogEntry.objects.filter(object_type="provenance_alert", object_id=alert.public_id)
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["provenance_alert.acknowledged", "provenance_alert.resolved"]


def test_resolve_without_a_note_changes_nothing(admin_client: Client, organization: Organization) -> None:
    alert = _alert(organization)

    response = admin_client.post(
        "/admin/provenance/provenancealert/",
        {"action": "resolve_alerts", "_selected_action": [str(alert.pk)], "apply": "yes", "note": "   "},
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN
    assert _listed(admin_client.get("/admin/provenance/provenancealert/?status__exact=open"))[0].pk == alert.pk


# --------------------------------------------------------------------------------------------
# Changelists: 200, and a fixed number of queries however many rows
# --------------------------------------------------------------------------------------------


@pytest.fixture
def many_rows(
    organization: Organization,
    other_organization: Organization,
    purpose: Purpose,
    crm: Recipient,
    stamps: dict[str, StampRecord],
) -> None:
    for n in range(10):
        recipient_create(
            organization=organization,
            actor="test",
            purposes=[purpose.key],
            key=f"extra-{n}",
            name=f"Extra {n}",
            role=RecipientRole.THIRD_PARTY,
        )
        _delivery(organization, crm, n, status=DeliveryStatus.DEAD)
        _notice(organization, crm, purpose, n)
        _alert(organization, n)
        signing_key_rotate(organization=organization, actor="test")
    stamp_many(
        organization=organization,
        requests=[
            StampRequest(recipient=f"extra-{n}", purposes=(purpose.key,), subject_id=f"cust-{n}", data={})
            for n in range(10)
        ],
    )


@pytest.mark.parametrize(
    ("url", "rows"),
    [
        ("/admin/provenance/recipient/", 10),
        ("/admin/provenance/stamprecord/", 10),
        ("/admin/provenance/stamprecord/?decision__exact=block&reason=NO_CONSENT", 1),
        ("/admin/provenance/stamprecord/?subject_external_id=cust-1", 2),
        ("/admin/provenance/delivery/", 10),
        ("/admin/provenance/consentnotice/", 10),
        ("/admin/provenance/signingkey/", 10),
        ("/admin/provenance/provenancealert/", 10),
    ],
)
def test_changelists_answer_without_a_query_per_row(
    admin_client: Client, many_rows: None, django_assert_max_num_queries: Callable[..., Any], url: str, rows: int
) -> None:
    admin_client.get(url)  # warm the session and the content types

    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
        response = admin_client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= rows
