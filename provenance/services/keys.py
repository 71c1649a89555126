"""Stamp signing keys: Ed25519, one current key per organization, private part sealed under the master key and
bound to its kid; rotated, retired and revoked per organization."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import IntegrityError, transaction
from django.utils import timezone
from ulid import ULID

from core.crypto import CryptoError, key_owner, master_keyring
from core.enums import AuditAction
from core.models import Organization
from core.problems import Conflict, DomainError
from core.services import audit_log
from provenance.models import SigningKey

CURRENT_KEY_CACHE_SECONDS = 10.0
SIGNING_KEY_PURPOSE = "stamp-signing-key"


class SigningKeyUnavailable(DomainError):
    """The organization's current signing key cannot be opened (a copied or damaged sealed key, or a master
    key that is not configured): nothing is signed until it is rotated."""

    status = 503
    slug = "signing-key-unavailable"
    title = "Signing key unavailable"


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    private_key: Ed25519PrivateKey


_cache: dict[int, tuple[float, ActiveKey]] = {}
_lock = threading.Lock()


def signing_key_owner(kid: str) -> str:
    """What a signing key's sealed private part is bound to: the row of that kid, for stamp signing."""
    return key_owner(SigningKey._meta.db_table, kid, SIGNING_KEY_PURPOSE)


def _raw_public(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def new_signing_key_fields() -> dict[str, object]:
    """A fresh key pair as the columns of a SigningKey row (kid, public key, bound sealed private key)."""
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    kid = f"pvn-{ULID()}".lower()
    return {
        "kid": kid,
        "public_key": _raw_public(private_key),
        "private_key_sealed": master_keyring().wrap(raw, owner=signing_key_owner(kid)),
    }


def provision_signing_key(sender: object, *, organization: Organization, actor: str, **kwargs: object) -> None:
    """``organization_created`` receiver: the new organization's first signing key."""
    signing_key_rotate(organization=organization, actor=actor)


def signing_key_rotate(*, organization: Organization, actor: str) -> SigningKey:
    """Make a new current key for the organization. Its previous one signs nothing new but stays published."""
    fields = new_signing_key_fields()
    now = timezone.now()
    with transaction.atomic():
        SigningKey.objects.select_for_update().filter(organization=organization, is_current=True).update(
            is_current=False
        )
        key = SigningKey.objects.create(organization=organization, activated_at=now, is_current=True, **fields)
        audit_log(
            actor=actor,
            action=AuditAction.SIGNING_KEY_ROTATED,
            object_type="signing_key",
            object_id=key.kid,
            organization=organization,
        )
    _cache.pop(organization.pk, None)
    return key


def signing_key_retire(*, key: SigningKey, actor: str) -> SigningKey:
    """Retire a key that is no longer current. It stays in the JWKS so its stamps still verify."""
    with transaction.atomic():
        stored = SigningKey.objects.select_for_update().select_related("organization").get(pk=key.pk)
        if stored.is_current:
            raise Conflict("Rotate first: the current key cannot be retired.")
        updated = SigningKey.objects.filter(pk=key.pk, retired_at__isnull=True).update(retired_at=timezone.now())
        if updated:
            audit_log(
                actor=actor,
                action=AuditAction.SIGNING_KEY_RETIRED,
                object_type="signing_key",
                object_id=key.kid,
                organization=stored.organization,
            )
    key.refresh_from_db()
    return key


def signing_key_revoke(*, key: SigningKey, actor: str) -> bool:
    """Revoke a retired key: it leaves the JWKS and the stamps, receipts and certificates it signed no longer
    verify (for a key that leaked). The current key must be rotated and retired first. Returns whether this
    call changed it (a repeat changes nothing)."""
    with transaction.atomic():
        stored = SigningKey.objects.select_for_update().select_related("organization").get(pk=key.pk)
        if stored.is_current or stored.retired_at is None:
            raise Conflict("Retire the key first: only a retired key can be revoked.")
        updated = SigningKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if updated:
            audit_log(
                actor=actor,
                action=AuditAction.SIGNING_KEY_REVOKED,
                object_type="signing_key",
                object_id=stored.kid,
                organization=stored.organization,
            )
    key.refresh_from_db()
    return bool(updated)


def active_signing_key(*, organization: Organization) -> ActiveKey:
    """The organization's current key, unsealed, cached per process for a few seconds (a rotation takes effect
    everywhere within that time; stamps signed meanwhile with the previous key still verify). The first use
    by an organization that has none makes one."""
    cached = _cache.get(organization.pk)
    if cached is not None and time.monotonic() - cached[0] < CURRENT_KEY_CACHE_SECONDS:
        return cached[1]
    with _lock:
        key = SigningKey.objects.filter(organization=organization, is_current=True).first()
        created_here = key is None
        if key is None:
            try:
                with transaction.atomic():
                    key = signing_key_rotate(organization=organization, actor="system:first-use")
            except IntegrityError:  # another process made the first key at the same moment
                key = SigningKey.objects.get(organization=organization, is_current=True)
        try:
            raw = master_keyring().unwrap(bytes(key.private_key_sealed), owner=signing_key_owner(key.kid))
        except CryptoError as exc:
            raise SigningKeyUnavailable(
                "The organization's signing key cannot be opened; a key administrator must rotate it."
            ) from exc
        active = ActiveKey(kid=key.kid, private_key=Ed25519PrivateKey.from_private_bytes(raw))
        entry = (time.monotonic(), active)
        if created_here and transaction.get_connection().in_atomic_block:
            # A key made inside the caller's transaction exists only if that commits: cache it then, never
            # before (a rolled-back key would sign stamps nobody can verify).
            transaction.on_commit(lambda: _cache.__setitem__(organization.pk, entry))
        else:
            _cache[organization.pk] = entry
    return active
