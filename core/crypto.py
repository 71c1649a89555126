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
WRAP_FORMAT = b"pvk1"


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


@dataclass(frozen=True)
class MasterKeyring:
    current: bytes
    previous: tuple[bytes, ...] = ()

    def wrap(self, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        kid = key_id(self.current)
        return WRAP_FORMAT + kid + nonce + AESGCM(self.current).encrypt(nonce, data_key, WRAP_FORMAT + kid)

    def unwrap(self, wrapped: bytes) -> bytes:
        if not wrapped.startswith(WRAP_FORMAT):
            raise CryptoError("unknown wrapped-key format")
        kid = wrapped[4:8]
        nonce, sealed = wrapped[8 : 8 + NONCE_BYTES], wrapped[8 + NONCE_BYTES :]
        for key in (self.current, *self.previous):
            if key_id(key) == kid:
                try:
                    return AESGCM(key).decrypt(nonce, sealed, WRAP_FORMAT + kid)
                except InvalidTag as exc:
                    raise CryptoError("master key does not open this data key") from exc
        raise CryptoError("the master key that wrapped this data key is not configured")

    def needs_rewrap(self, wrapped: bytes) -> bool:
        return wrapped[4:8] != key_id(self.current)


@lru_cache(maxsize=4)
def _keyring(current: str, previous: tuple[str, ...]) -> MasterKeyring:
    return MasterKeyring(
        current=_decode_key(current, "PROVENANT_MASTER_KEY"),
        previous=tuple(_decode_key(k, "PROVENANT_PREVIOUS_MASTER_KEYS") for k in previous),
    )


def master_keyring() -> MasterKeyring:
    return _keyring(settings.PROVENANT_MASTER_KEY, tuple(settings.PROVENANT_PREVIOUS_MASTER_KEYS))


def new_data_key() -> tuple[bytes, bytes]:
    """A fresh data key and its wrapped form (what is stored)."""
    data_key = AESGCM.generate_key(bit_length=256)
    return data_key, master_keyring().wrap(data_key)


def unwrap_data_key(wrapped: bytes | memoryview | None) -> bytes:
    if wrapped is None:
        raise CryptoError("the data key was destroyed")
    return master_keyring().unwrap(bytes(wrapped))


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


@lru_cache(maxsize=4)
def _blind_index_key(encoded: str) -> bytes:
    return _decode_key(encoded, "PROVENANT_BLIND_INDEX_KEY")


def blind_index(value: str, *, namespace: str) -> str:
    """Keyed HMAC-SHA256 of a normalised identifier: equality look-ups without storing plaintext."""
    key = _blind_index_key(settings.PROVENANT_BLIND_INDEX_KEY)
    return hmac.new(key, f"{namespace}\x00{value}".encode(), hashlib.sha256).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()
