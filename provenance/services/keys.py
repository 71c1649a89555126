"""Stamp signing keys: Ed25519, private part sealed under the master key, one current at a time."""

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

from core.crypto import master_keyring
from core.enums import AuditAction
from core.problems import Conflict
from core.services import audit_log
from provenance.models import SigningKey

CURRENT_KEY_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    private_key: Ed25519PrivateKey


_cache: dict[str, object] = {}
_lock = threading.Lock()


def _raw_public(private_key: Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def signing_key_rotate(*, actor: str) -> SigningKey:
    """Make a new current key. The previous one signs nothing new but stays published."""
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    now = timezone.now()
    with transaction.atomic():
        SigningKey.objects.select_for_update().filter(is_current=True).update(is_current=False)
        key = SigningKey.objects.create(
            kid=f"pvn-{ULID()}".lower(),
            public_key=_raw_public(private_key),
            private_key_sealed=master_keyring().wrap(raw),
            activated_at=now,
            is_current=True,
        )
        audit_log(actor=actor, action=AuditAction.SIGNING_KEY_ROTATED, object_type="signing_key", object_id=key.kid)
    _cache.clear()
    return key


def signing_key_retire(*, key: SigningKey, actor: str) -> SigningKey:
    """Retire a key that is no longer current. It stays in the JWKS so its stamps still verify."""
    with transaction.atomic():
        stored = SigningKey.objects.select_for_update().get(pk=key.pk)
        if stored.is_current:
            raise Conflict("Rotate first: the current key cannot be retired.")
        updated = SigningKey.objects.filter(pk=key.pk, retired_at__isnull=True).update(retired_at=timezone.now())
        if updated:
            audit_log(actor=actor, action=AuditAction.SIGNING_KEY_RETIRED, object_type="signing_key", object_id=key.kid)
    key.refresh_from_db()
    return key


def active_signing_key() -> ActiveKey:
    """The current key, unsealed, cached per process for a few seconds (a rotation takes effect
    everywhere within that time; stamps signed meanwhile with the previous key still verify)."""
    cached = _cache.get("current")
    if isinstance(cached, tuple) and time.monotonic() - cached[0] < CURRENT_KEY_CACHE_SECONDS:
        return cached[1]
    with _lock:
        key = SigningKey.objects.filter(is_current=True).first()
        created_here = key is None
        if key is None:
            try:
                key = signing_key_rotate(actor="system:first-use")
            except IntegrityError:  # another process made the first key at the same moment
                key = SigningKey.objects.get(is_current=True)
        raw = master_keyring().unwrap(bytes(key.private_key_sealed))
        active = ActiveKey(kid=key.kid, private_key=Ed25519PrivateKey.from_private_bytes(raw))
        if created_here and transaction.get_connection().in_atomic_block:
            # A key made inside the caller's transaction exists only if that commits: cache it then, never
            # before (a rolled-back key would sign stamps nobody can verify).
            transaction.on_commit(lambda: _cache.__setitem__("current", (time.monotonic(), active)))
        else:
            _cache["current"] = (time.monotonic(), active)
    return active
