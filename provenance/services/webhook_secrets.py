"""Recipients' webhook signing secrets: issue and rotate them (sealed under the master key), and sign with the
current one and, for PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS after a rotation, the one it replaced (Standard
Webhooks ``v1`` signatures, space-separated). Used by consent notices and DSAR erasure webhooks."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.crypto import CryptoError, key_owner, master_keyring
from core.enums import AuditAction
from core.services import audit_log
from provenance.models import Recipient

logger = logging.getLogger(__name__)

WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_SECRET_BYTES = 32  # a data-key-sized secret, so the master keyring can wrap it
WEBHOOK_SECRET_PURPOSE = "webhook-secret"


def webhook_secret_owner(recipient_pk: int) -> str:
    """What a recipient's sealed webhook secrets (current and previous) are bound to: that recipient's row. A
    sealed secret copied to another recipient does not open."""
    return key_owner(Recipient._meta.db_table, recipient_pk, WEBHOOK_SECRET_PURPOSE)


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks ``v1`` signature: base64 HMAC-SHA256 keyed with the base64-decoded secret."""
    key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# ---------------------------------------------------------------------------------------------------
# Webhook secrets


def webhook_secret_overlap() -> timedelta:
    """How long the secret replaced by a rotation still signs (PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS)."""
    return timedelta(hours=float(settings.PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS))


def previous_webhook_secret_valid_until(recipient: Recipient) -> datetime | None:
    """Until when notices are also signed with the secret the last rotation replaced; None if there is none."""
    if not recipient.previous_webhook_secret_sealed or recipient.webhook_secret_rotated_at is None:
        return None
    return recipient.webhook_secret_rotated_at + webhook_secret_overlap()


def recipient_webhook_secret_rotate(*, recipient: Recipient, actor: str, now: datetime | None = None) -> str:
    """Give the recipient a new signing secret and return it, the only time it is shown.

    Notices sent from now on are signed with it and, until ``previous_webhook_secret_valid_until``, also
    with the secret it replaces, so that receivers can switch without rejecting anything. Only the
    immediately previous secret is kept: one from two rotations ago never signs again. The swap is one
    UPDATE, so concurrent rotations chain instead of losing a secret."""
    now = now or timezone.now()
    raw = secrets.token_bytes(WEBHOOK_SECRET_BYTES)
    sealed = base64.b64encode(master_keyring().wrap(raw, owner=webhook_secret_owner(recipient.pk))).decode()
    with transaction.atomic():
        Recipient.objects.filter(pk=recipient.pk).update(
            previous_webhook_secret_sealed=F("webhook_secret_sealed"),
            webhook_secret_sealed=sealed,
            webhook_secret_rotated_at=now,
            updated_at=now,
        )
        previous = Recipient.objects.filter(pk=recipient.pk).values_list("previous_webhook_secret_sealed", flat=True)[0]
        recipient.webhook_secret_sealed = sealed
        recipient.previous_webhook_secret_sealed = previous
        recipient.webhook_secret_rotated_at = now
        valid_until = previous_webhook_secret_valid_until(recipient)
        audit_log(
            actor=actor,
            action=AuditAction.RECIPIENT_WEBHOOK_SECRET_ROTATED,
            object_type="recipient",
            object_id=recipient.pk,
            organization=recipient.organization,
            data={
                "key": recipient.key,
                "previous_secret_valid_until": valid_until.isoformat() if valid_until else None,
            },
        )
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(raw).decode()


def _unseal_webhook_secret(recipient: Recipient, sealed: str) -> str:
    try:
        raw = master_keyring().unwrap(base64.b64decode(sealed, validate=True), owner=webhook_secret_owner(recipient.pk))
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("the webhook secret is malformed") from exc
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(raw).decode()


def recipient_webhook_secret(recipient: Recipient) -> str | None:
    """The recipient's current ``whsec_`` secret, or None when none was issued."""
    if not recipient.webhook_secret_sealed:
        return None
    return _unseal_webhook_secret(recipient, recipient.webhook_secret_sealed)


def recipient_webhook_signing_secrets(recipient: Recipient, *, now: datetime | None = None) -> list[str]:
    """The secrets a webhook is signed with, newest first: the current one and, during the overlap after
    a rotation, the one it replaced. Empty when none was issued. An unreadable current secret raises
    CryptoError; an unreadable previous one is skipped (the current one still signs)."""
    current = recipient_webhook_secret(recipient)
    if current is None:
        return []
    valid_until = previous_webhook_secret_valid_until(recipient)
    if valid_until is None or (now or timezone.now()) >= valid_until:
        return [current]
    try:
        return [current, _unseal_webhook_secret(recipient, recipient.previous_webhook_secret_sealed)]
    except CryptoError:
        logger.warning(
            "recipient %s: the previous webhook secret cannot be opened; signing with the current one", recipient.pk
        )
        return [current]


def sign_webhook_with(secrets_newest_first: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1`` signature a secret, space-separated (Standard Webhooks)."""
    return " ".join(sign_webhook(secret, msg_id, timestamp, body) for secret in secrets_newest_first)
