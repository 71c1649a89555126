"""Envelope encryption and blind indexes (core/crypto.py), without a database."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from core.crypto import (
    CryptoError,
    MasterKeyring,
    blind_index,
    blind_index_candidates,
    master_keyring,
    new_data_key,
    normalize_email,
    seal,
    unseal,
    unwrap_data_key,
)


def random_key() -> bytes:
    return os.urandom(32)


def encoded(key: bytes) -> str:
    return base64.b64encode(key).decode()


# --------------------------------------------------------------------------------------------
# Sealing
# --------------------------------------------------------------------------------------------


def test_sealed_value_opens_with_the_same_key_and_context() -> None:
    key = random_key()

    token = seal(key, "ana@example.org ✓", context="email:subject-1")

    assert "ana@example.org" not in token
    assert unseal(key, token, context="email:subject-1") == "ana@example.org ✓"


def test_sealing_twice_gives_different_ciphertexts() -> None:
    key = random_key()

    assert seal(key, "same", context="c") != seal(key, "same", context="c")


def test_sealed_value_does_not_open_in_another_context() -> None:
    """The context binds a ciphertext to its row and field: it cannot be moved elsewhere."""
    key = random_key()
    token = seal(key, "secret", context="evidence:EV1")

    with pytest.raises(CryptoError):
        unseal(key, token, context="evidence:EV2")


def test_sealed_value_does_not_open_with_another_key() -> None:
    token = seal(random_key(), "secret", context="c")

    with pytest.raises(CryptoError):
        unseal(random_key(), token, context="c")


def test_tampered_ciphertext_does_not_open() -> None:
    key = random_key()
    raw = bytearray(base64.b64decode(seal(key, "secret", context="c")))
    raw[-1] ^= 0x01

    with pytest.raises(CryptoError):
        unseal(key, base64.b64encode(bytes(raw)).decode(), context="c")


@pytest.mark.parametrize("token", ["", "AAAA", "!!!", "not base64"])
def test_malformed_ciphertext_is_a_crypto_error(token: str) -> None:
    """Callers (e.g. the evidence selector) treat CryptoError as "unreadable"; a damaged token must
    not escape as another exception type."""
    with pytest.raises(CryptoError):
        unseal(random_key(), token, context="c")


# --------------------------------------------------------------------------------------------
# Data keys and master key rotation
# --------------------------------------------------------------------------------------------


def test_data_key_round_trips_through_its_wrapped_form() -> None:
    data_key, wrapped = new_data_key()

    assert len(data_key) == 32
    assert data_key not in wrapped
    assert unwrap_data_key(wrapped) == data_key
    assert unwrap_data_key(memoryview(wrapped)) == data_key


def test_destroyed_data_key_cannot_be_unwrapped() -> None:
    with pytest.raises(CryptoError):
        unwrap_data_key(None)


def test_key_wrapped_with_an_old_master_key_unwraps_when_it_is_a_previous_key() -> None:
    old, new, data_key = random_key(), random_key(), random_key()
    wrapped = MasterKeyring(current=old).wrap(data_key)

    rotated = MasterKeyring(current=new, previous=(old,))

    assert rotated.unwrap(wrapped) == data_key
    assert rotated.needs_rewrap(wrapped)
    rewrapped = rotated.wrap(data_key, owner="t/1/p")  # a current key is bound to its owner
    assert not rotated.needs_rewrap(rewrapped)
    assert MasterKeyring(current=new).unwrap(rewrapped, owner="t/1/p") == data_key


def test_key_wrapped_with_an_old_master_key_fails_once_the_old_key_is_dropped() -> None:
    old, new, data_key = random_key(), random_key(), random_key()
    wrapped = MasterKeyring(current=old).wrap(data_key)

    with pytest.raises(CryptoError):
        MasterKeyring(current=new).unwrap(wrapped)
    with pytest.raises(CryptoError):
        MasterKeyring(current=new, previous=(random_key(),)).unwrap(wrapped)


def test_tampered_or_foreign_wrapped_key_is_refused() -> None:
    master = random_key()
    wrapped = bytearray(MasterKeyring(current=master).wrap(random_key()))
    wrapped[-1] ^= 0x01

    with pytest.raises(CryptoError):
        MasterKeyring(current=master).unwrap(bytes(wrapped))
    with pytest.raises(CryptoError):
        MasterKeyring(current=master).unwrap(b"xxxx" + bytes(wrapped[4:]))


def test_rotation_through_settings_keeps_existing_data_keys_readable(settings: Any) -> None:
    old, new = random_key(), random_key()
    settings.PROVENANT_MASTER_KEY = encoded(old)
    settings.PROVENANT_PREVIOUS_MASTER_KEYS = []
    data_key, wrapped = new_data_key()

    settings.PROVENANT_MASTER_KEY = encoded(new)
    settings.PROVENANT_PREVIOUS_MASTER_KEYS = [encoded(old)]
    assert unwrap_data_key(wrapped) == data_key
    assert master_keyring().needs_rewrap(wrapped)

    settings.PROVENANT_PREVIOUS_MASTER_KEYS = []
    with pytest.raises(CryptoError):
        unwrap_data_key(wrapped)


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"too short").decode()])
def test_malformed_master_key_is_refused(settings: Any, bad: str) -> None:
    settings.PROVENANT_MASTER_KEY = bad

    with pytest.raises(CryptoError):
        master_keyring()


# --------------------------------------------------------------------------------------------
# Blind index
# --------------------------------------------------------------------------------------------


def test_blind_index_is_stable_for_the_same_normalized_value() -> None:
    first = blind_index(normalize_email("  Ana@Example.ORG "), namespace="email")

    assert first == blind_index(normalize_email("ana@example.org"), namespace="email")
    assert len(first) == 64
    assert "ana" not in first


def test_blind_index_differs_by_value_and_namespace() -> None:
    assert blind_index("ana@example.org", namespace="email") != blind_index("bob@example.org", namespace="email")
    assert blind_index("ana@example.org", namespace="email") != blind_index("ana@example.org", namespace="phone")


def test_blind_index_is_keyed(settings: Any) -> None:
    """Without the index key nobody can test a guessed email against the stored index."""
    settings.PROVENANT_BLIND_INDEX_KEY = encoded(random_key())
    under_first_key = blind_index("ana@example.org", namespace="email")

    settings.PROVENANT_BLIND_INDEX_KEY = encoded(random_key())
    under_second_key = blind_index("ana@example.org", namespace="email")

    assert under_first_key != under_second_key


# --------------------------------------------------------------------------------------------
# Keys bound to their owner; rewrapping; blind-index rotation and tenants (security audit items 4, 10)
# --------------------------------------------------------------------------------------------


def test_a_bound_data_key_opens_only_for_its_owner() -> None:
    ring = MasterKeyring(current=random_key())
    data_key = random_key()

    wrapped = ring.wrap(data_key, owner="consent_subject/uuid-1/data-key")

    assert ring.unwrap(wrapped, owner="consent_subject/uuid-1/data-key") == data_key
    for elsewhere in ("consent_subject/uuid-2/data-key", "dsar_dsarexport/uuid-1/data-key", None):
        with pytest.raises(CryptoError):
            ring.unwrap(wrapped, owner=elsewhere)


def test_rewrap_moves_a_key_to_the_current_master_key_and_binds_it() -> None:
    old, new = random_key(), random_key()
    data_key = random_key()
    legacy = MasterKeyring(current=old).wrap(data_key)  # written before keys were bound
    ring = MasterKeyring(current=new, previous=(old,))

    assert ring.needs_rewrap(legacy)
    rewrapped = ring.rewrap(legacy, owner="t/1/p")

    assert not ring.needs_rewrap(rewrapped)
    assert MasterKeyring(current=new).unwrap(rewrapped, owner="t/1/p") == data_key  # the old key can go
    assert ring.rewrap(rewrapped, owner="t/1/p") != rewrapped  # idempotent in effect, fresh nonce


def test_blind_indexes_differ_per_tenant_and_match_through_previous_keys(settings: Any) -> None:
    old, new = encoded(random_key()), encoded(random_key())
    settings.PROVENANT_BLIND_INDEX_KEY = old
    settings.PROVENANT_PREVIOUS_BLIND_INDEX_KEYS = []
    stored_before_rotation = blind_index("ana@example.org", namespace="email", tenant="org-a")
    untenanted = blind_index("ana@example.org", namespace="email")

    assert blind_index("ana@example.org", namespace="email", tenant="org-b") != stored_before_rotation

    settings.PROVENANT_BLIND_INDEX_KEY = new
    settings.PROVENANT_PREVIOUS_BLIND_INDEX_KEYS = [old]
    candidates = blind_index_candidates("ana@example.org", namespace="email", tenant="org-a")

    assert candidates[0] == blind_index("ana@example.org", namespace="email", tenant="org-a")
    assert stored_before_rotation in candidates
    assert untenanted in candidates
    assert blind_index("ana@example.org", namespace="email", tenant="org-b") not in candidates
