"""Security audit item 10, the provenance part: signing keys, recipients' webhook secrets and delivery payload keys
are wrapped bound to their owner (table, stable id, purpose) and registered with core.key_custody, so
``rewrap_keys`` re-wraps them; a wrapped key copied to another row is refused with a clear error, never a 500.
Keys wrapped before #11 (bound to the master key only) keep opening until ``rewrap_keys`` binds them."""

from __future__ import annotations

import base64
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from consent.models import Purpose
from core.crypto import WRAP_FORMAT_BOUND, CryptoError, master_keyring
from core.key_custody import wrapped_key_columns
from core.models import Organization
from provenance.enums import DeliveryStatus, NoticeStatus, RecipientRole
from provenance.models import ConsentNotice, Delivery, ProvenanceAlert, Recipient, SigningKey
from provenance.services import keys
from provenance.services.deliveries import delivery_attempt, seal_payload, unseal_payload
from provenance.services.keys import active_signing_key, signing_key_rotate
from provenance.services.notices import consent_notice_send
from provenance.services.recipients import recipient_create
from provenance.services.webhook_secrets import (
    recipient_webhook_secret,
    recipient_webhook_secret_rotate,
    recipient_webhook_signing_secrets,
)

pytestmark = pytest.mark.django_db

PAYLOAD = {"data": {"plan": "pro"}, "provenance": None, "jurisdiction": "DE"}


def hooked(organization: Organization, key: str, purpose: Purpose) -> Recipient:
    recipient = recipient_create(
        organization=organization,
        actor="test",
        purposes=[purpose.key],
        key=key,
        name=key,
        role=RecipientRole.PROCESSOR,
        webhook_url=f"https://{key}.example.com/hooks",
        endpoint_url=f"https://{key}.example.com/in",
    )
    recipient_webhook_secret_rotate(recipient=recipient, actor="test")
    recipient.refresh_from_db()
    return recipient


def delivery_of(recipient: Recipient, public_id: str, payload_sealed: str) -> Delivery:
    return Delivery.objects.create(
        organization=recipient.organization,
        public_id=public_id,
        recipient=recipient,
        subject_external_id="cust-1",
        purposes=["marketing-email"],
        payload_sealed=payload_sealed,
        give_up_at=timezone.now() + timedelta(hours=1),
    )


def rewrap() -> str:
    out = StringIO()
    call_command("rewrap_keys", stdout=out)
    return out.getvalue()


def test_every_provenance_wrapped_key_column_is_registered_for_rewrap() -> None:
    labels = {column.label for column in wrapped_key_columns()}

    assert {
        "provenance.SigningKey.private_key_sealed",
        "provenance.Recipient.webhook_secret_sealed",
        "provenance.Recipient.previous_webhook_secret_sealed",
        "provenance.Delivery.payload_sealed",
    } <= labels


def test_new_keys_are_bound_to_their_owner(organization: Organization, purpose: Purpose) -> None:
    key = signing_key_rotate(organization=organization, actor="test")
    recipient = hooked(organization, "crm", purpose)
    token = seal_payload("01DELIVERY0000000000000001", PAYLOAD)

    assert bytes(key.private_key_sealed)[:4] == WRAP_FORMAT_BOUND
    assert base64.b64decode(recipient.webhook_secret_sealed)[:4] == WRAP_FORMAT_BOUND
    assert base64.b64decode(token.partition(".")[0])[:4] == WRAP_FORMAT_BOUND


# ---------------------------------------------------------------------------------------------
# The attack: a wrapped key copied to another row
# ---------------------------------------------------------------------------------------------


def test_a_webhook_secret_copied_to_another_recipient_is_refused_and_the_notice_dead_letters(
    organization: Organization, purpose: Purpose
) -> None:
    ours = hooked(organization, "crm", purpose)
    theirs = hooked(organization, "ads", purpose)
    Recipient.objects.filter(pk=theirs.pk).update(webhook_secret_sealed=ours.webhook_secret_sealed)
    theirs.refresh_from_db()
    notice = ConsentNotice.objects.create(
        organization=organization,
        public_id="01NOTICE000000000000000001",
        recipient=theirs,
        subject_external_id="cust-1",
        purpose=purpose,
        event_id="01EVENT0000000000000000001",
        change="withdrawn",
        give_up_at=timezone.now() + timedelta(days=1),
    )

    with pytest.raises(CryptoError, match="does not open"):
        recipient_webhook_secret(theirs)
    outcome = consent_notice_send(notice_id=notice.pk)

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DEAD
    assert "webhook secret cannot be opened" in notice.last_error
    assert outcome["notice"] == notice.pk
    assert recipient_webhook_secret(ours) is not None  # the owner's secret still opens


def test_a_payload_copied_to_another_delivery_is_refused_and_dead_letters(
    organization: Organization, purpose: Purpose
) -> None:
    recipient = hooked(organization, "crm", purpose)
    original = delivery_of(recipient, "01DELIVERY0000000000000001", seal_payload("01DELIVERY0000000000000001", PAYLOAD))
    copy = delivery_of(recipient, "01DELIVERY0000000000000002", original.payload_sealed)

    with pytest.raises(CryptoError):
        unseal_payload(copy.public_id, copy.payload_sealed)
    delivery_attempt(delivery_id=copy.pk)

    copy.refresh_from_db()
    assert copy.status == DeliveryStatus.DEAD
    assert "cannot be opened" in copy.last_error
    assert ProvenanceAlert.objects.filter(kind="delivery_dead").count() == 1
    assert unseal_payload(original.public_id, original.payload_sealed) == PAYLOAD


# ---------------------------------------------------------------------------------------------
# Keys wrapped before #11: lazy, then bound by rewrap_keys
# ---------------------------------------------------------------------------------------------


def _legacy_wrap(raw: bytes) -> bytes:
    return master_keyring().wrap(raw)  # no owner: the pvk1 format of before #11


def test_legacy_unbound_keys_open_until_rewrap_keys_binds_them(organization: Organization, purpose: Purpose) -> None:
    key = signing_key_rotate(organization=organization, actor="test")
    raw_private = master_keyring().unwrap(bytes(key.private_key_sealed), owner=keys.signing_key_owner(key.kid))
    SigningKey.objects.filter(pk=key.pk).update(private_key_sealed=_legacy_wrap(raw_private))
    recipient = hooked(organization, "crm", purpose)
    secret = recipient_webhook_secret(recipient)
    assert secret is not None
    raw_secret = base64.b64decode(secret.removeprefix("whsec_"))
    legacy_secret = base64.b64encode(_legacy_wrap(raw_secret)).decode()
    Recipient.objects.filter(pk=recipient.pk).update(
        webhook_secret_sealed=legacy_secret,
        previous_webhook_secret_sealed=legacy_secret,
        webhook_secret_rotated_at=timezone.now(),
    )
    data_key_token = seal_payload("01DELIVERY0000000000000001", PAYLOAD)
    sealed_tail = data_key_token.partition(".")[2]
    # A legacy payload: its data key wrapped without an owner, the same sealed payload.
    data_key = master_keyring().unwrap(
        base64.b64decode(data_key_token.partition(".")[0]),
        owner="provenance_delivery/01DELIVERY0000000000000001/payload-key",
    )
    legacy_token = f"{base64.b64encode(_legacy_wrap(data_key)).decode()}.{sealed_tail}"
    delivery = delivery_of(recipient, "01DELIVERY0000000000000001", legacy_token)
    keys._cache.clear()
    recipient.refresh_from_db()

    assert active_signing_key(organization=organization).kid == key.kid  # lazy: still opens
    assert recipient_webhook_signing_secrets(recipient) == [secret, secret]
    assert unseal_payload(delivery.public_id, delivery.payload_sealed) == PAYLOAD

    report = rewrap()

    assert "provenance.SigningKey.private_key_sealed: 1 re-wrapped" in report
    assert "provenance.Recipient.webhook_secret_sealed: 1 re-wrapped" in report
    assert "provenance.Recipient.previous_webhook_secret_sealed: 1 re-wrapped" in report
    assert "provenance.Delivery.payload_sealed: 1 re-wrapped" in report
    key.refresh_from_db()
    recipient.refresh_from_db()
    delivery.refresh_from_db()
    assert bytes(key.private_key_sealed)[:4] == WRAP_FORMAT_BOUND
    assert base64.b64decode(recipient.webhook_secret_sealed)[:4] == WRAP_FORMAT_BOUND
    assert base64.b64decode(recipient.previous_webhook_secret_sealed)[:4] == WRAP_FORMAT_BOUND
    wrapped, _, tail = delivery.payload_sealed.partition(".")
    assert base64.b64decode(wrapped)[:4] == WRAP_FORMAT_BOUND
    assert tail == sealed_tail
    keys._cache.clear()
    assert active_signing_key(organization=organization).kid == key.kid
    assert recipient_webhook_signing_secrets(recipient) == [secret, secret]
    assert unseal_payload(delivery.public_id, delivery.payload_sealed) == PAYLOAD
    again = [line for line in rewrap().splitlines() if line.startswith("provenance.")]
    assert len(again) == 4
    assert all(": 0 re-wrapped" in line for line in again)  # a second run changes nothing


def test_rewrap_keys_leaves_purged_payloads_and_the_private_less_copies_of_old_keys_alone(
    organization: Organization, purpose: Purpose
) -> None:
    recipient = hooked(organization, "crm", purpose)
    delivery_of(recipient, "01DELIVERY0000000000000001", "")
    SigningKey.objects.create(
        organization=organization,
        kid="pvn-legacy",
        public_key="A" * 43,
        private_key_sealed=b"",
        retired_at=timezone.now(),
    )

    report: dict[str, Any] = {line.split(":")[0]: line for line in rewrap().splitlines()}

    assert "1 destroyed" in report["provenance.Delivery.payload_sealed"]
    assert "1 destroyed" in report["provenance.SigningKey.private_key_sealed"]
    assert Delivery.objects.get().payload_sealed == ""
