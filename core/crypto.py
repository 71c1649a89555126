"""Envelope encryption of PII and keyed blind indexes.

Each subject has its own 256-bit data key (DEK). PII is sealed with AES-256-GCM under the DEK, with
the subject and field bound as associated data so a ciphertext cannot be moved to another row. The
DEK is stored only wrapped (AES-GCM) by the master key from the environment. Destroying the wrapped
DEK makes every ciphertext of that subject unreadable (crypto-shredding) without touching the
append-only ledger.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

NONCE_BYTES = 12
WRAP_FORMAT = b"pvk1"  # legacy: the wrapped key is bound to the master key only
WRAP_FORMAT_BOUND = b"pvk2"  # the wrapped key is bound to its owner (table, row, purpose) as well


class CryptoError(Exception):
    """A key is missing, destroyed or does not open the ciphertext."""


def _decode_key(encoded: str, name: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError(f"{name} is not valid base64") from exc
    if len(key) != 32:
        raise CryptoError(f"{name} must decode to 32 bytes, got {len(key)}")
    return key


def key_id(key: bytes) -> bytes:
    """A short, stable, non-secret identifier of a master key (first 4 bytes of its SHA-256)."""
    return hashlib.sha256(b"provenant-kid:" + key).digest()[:4]


def key_owner(table: str, row: object, purpose: str) -> str:
    """The owner a wrapped key is bound to: ``consent_subject/<uuid>/data-key``. A wrapped key copied to
    another row, table or purpose no longer opens (it is authenticated as associated data)."""
    return f"{table}/{row}/{purpose}"


@dataclass(frozen=True)
class MasterKeyring:
    current: bytes
    previous: tuple[bytes, ...] = ()

    def wrap(self, data_key: bytes, *, owner: str | None = None) -> bytes:
        """``data_key`` wrapped by the current master key; bound to ``owner`` (see :func:`key_owner`)
        when given, which every holder of a wrapped key does."""
        nonce = os.urandom(NONCE_BYTES)
        kid = key_id(self.current)
        if owner is None:
            return WRAP_FORMAT + kid + nonce + AESGCM(self.current).encrypt(nonce, data_key, WRAP_FORMAT + kid)
        associated = WRAP_FORMAT_BOUND + kid + owner.encode()
        return WRAP_FORMAT_BOUND + kid + nonce + AESGCM(self.current).encrypt(nonce, data_key, associated)

    def unwrap(self, wrapped: bytes, *, owner: str | None = None) -> bytes:
        version = wrapped[:4]
        if version not in (WRAP_FORMAT, WRAP_FORMAT_BOUND):
            raise CryptoError("unknown wrapped-key format")
        kid = wrapped[4:8]
        nonce, sealed = wrapped[8 : 8 + NONCE_BYTES], wrapped[8 + NONCE_BYTES :]
        if version == WRAP_FORMAT_BOUND:
            if owner is None:
                raise CryptoError("this data key is bound to its owner: name the owner to unwrap it")
            associated = WRAP_FORMAT_BOUND + kid + owner.encode()
        else:
            associated = WRAP_FORMAT + kid  # written before keys were bound; rewrap_keys binds it
        for key in (self.current, *self.previous):
            if key_id(key) == kid:
                try:
                    return AESGCM(key).decrypt(nonce, sealed, associated)
                except InvalidTag as exc:
                    raise CryptoError("master key does not open this data key (or it belongs elsewhere)") from exc
        raise CryptoError("the master key that wrapped this data key is not configured")

    def needs_rewrap(self, wrapped: bytes) -> bool:
        """Wrapped by a previous master key, or not yet bound to its owner."""
        return wrapped[:4] != WRAP_FORMAT_BOUND or wrapped[4:8] != key_id(self.current)

    def rewrap(self, wrapped: bytes, *, owner: str) -> bytes:
        """``wrapped`` opened (with whichever configured key wrapped it, bound or legacy) and wrapped again by
        the current master key, bound to ``owner``. What ``manage.py rewrap_keys`` does to every row, so a
        previous master key can be retired."""
        legacy_owner = None if wrapped[:4] == WRAP_FORMAT else owner
        return self.wrap(self.unwrap(wrapped, owner=legacy_owner), owner=owner)


@lru_cache(maxsize=4)
def _keyring(current: str, previous: tuple[str, ...]) -> MasterKeyring:
    return MasterKeyring(
        current=_decode_key(current, "PROVENANT_MASTER_KEY"),
        previous=tuple(_decode_key(k, "PROVENANT_PREVIOUS_MASTER_KEYS") for k in previous),
    )


def master_keyring() -> MasterKeyring:
    return _keyring(settings.PROVENANT_MASTER_KEY, tuple(settings.PROVENANT_PREVIOUS_MASTER_KEYS))


def new_data_key(*, owner: str | None = None) -> tuple[bytes, bytes]:
    """A fresh data key and its wrapped form (what is stored), bound to ``owner`` (:func:`key_owner`)."""
    data_key = AESGCM.generate_key(bit_length=256)
    return data_key, master_keyring().wrap(data_key, owner=owner)


def unwrap_data_key(wrapped: bytes | memoryview | None, *, owner: str | None = None) -> bytes:
    if wrapped is None:
        raise CryptoError("the data key was destroyed")
    return master_keyring().unwrap(bytes(wrapped), owner=owner)


def seal(data_key: bytes, plaintext: str, *, context: str) -> str:
    """AES-256-GCM; returns base64(nonce || ciphertext+tag). ``context`` is bound as associated data."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key).encrypt(nonce, plaintext.encode(), context.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(data_key: bytes, token: str, *, context: str) -> str:
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("ciphertext is not valid base64") from exc
    if len(raw) < NONCE_BYTES + 16:
        raise CryptoError("ciphertext is too short to hold a nonce and a tag")
    try:
        return AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
    except InvalidTag as exc:
        raise CryptoError("ciphertext does not open under this key and context") from exc


@lru_cache(maxsize=8)
def _blind_index_key(encoded: str) -> bytes:
    return _decode_key(encoded, "PROVENANT_BLIND_INDEX_KEY")


@lru_cache(maxsize=1024)
def _tenant_key(key: bytes, tenant: str) -> bytes:
    # Each organization indexes under its own key: the same email gives unrelated indexes in two tenants.
    return hmac.digest(key, f"provenant-tenant\x00{tenant}".encode(), "sha256")


def _blind_index_with(key: bytes, value: str, namespace: str, tenant: str | None) -> str:
    if tenant is not None:
        key = _tenant_key(key, tenant)
    return hmac.digest(key, f"{namespace}\x00{value}".encode(), "sha256").hex()


def blind_index(value: str, *, namespace: str, tenant: str | None = None) -> str:
    """Keyed HMAC-SHA256 of a normalised identifier: equality look-ups without storing plaintext.
    ``tenant`` (the organization's uuid) keys it per organization."""
    key = _blind_index_key(settings.PROVENANT_BLIND_INDEX_KEY)
    return _blind_index_with(key, value, namespace, tenant)


def blind_index_candidates(value: str, *, namespace: str, tenant: str | None = None) -> list[str]:
    """Every index ``value`` may be stored under: the current key first, then each previous blind-index
    key (PROVENANT_PREVIOUS_BLIND_INDEX_KEYS), each per tenant and in the untenanted form rows written
    before per-tenant keys carry. Look-ups match any of them, so rotating the key re-admits nobody (an
    erased person's suppression entry can't be re-indexed: its plaintext is gone)."""
    keys = [settings.PROVENANT_BLIND_INDEX_KEY, *settings.PROVENANT_PREVIOUS_BLIND_INDEX_KEYS]
    candidates: list[str] = []
    for encoded in keys:
        key = _blind_index_key(encoded)
        for scope in [tenant, None] if tenant is not None else [None]:
            index = _blind_index_with(key, value, namespace, scope)
            if index not in candidates:
                candidates.append(index)
    return candidates


def normalize_email(email: str) -> str:
    return email.strip().lower()
