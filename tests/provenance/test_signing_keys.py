"""Stamp signing keys: Ed25519, stored sealed, one current at a time per organization, rotated without breaking any
stamp made earlier (the JWKS keeps every public key), retired keys still verifying."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from core.crypto import master_keyring
from core.models import AuditLogEntry, Organization
from core.problems import Conflict
from core.signals import organization_created
from provenance import selectors
from provenance.models import Recipient, SigningKey
from provenance.services import keys
from provenance.services.keys import active_signing_key, provision_signing_key, signing_key_retire, signing_key_rotate
from provenance.verify import verify_stamp
from tests.provenance.conftest import record

KID = re.compile(r"^pvn-[0-9a-z]{26}$")


@pytest.fixture(autouse=True)
def organizations_without_keys() -> Iterator[None]:
    """These tests start from organizations that have no signing key yet (as those created before keys were
    provisioned with the organization), to show first use, rotation and revocation from the beginning."""
    organization_created.disconnect(dispatch_uid="provenance-signing-key")
    yield
    organization_created.connect(provision_signing_key, dispatch_uid="provenance-signing-key")


def stamp(client: APIClient) -> dict[str, Any]:
    response = client.post(
        "/api/v1/stamps",
        {"recipient": "crm", "purpose": "marketing-email", "subject_id": "cust-1", "data": {"plan": "pro"}},
        format="json",
    )
    assert response.status_code == 200, response.content[:1000]
    result: dict[str, Any] = response.json()
    assert result["decision"] == "allow", result["reasons"]
    return result


def stamp_kid(result: dict[str, Any]) -> str:
    header_segment = result["headers"]["Privacy-Stamp"].split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=" * (-len(header_segment) % 4)))
    assert (header["alg"], header["typ"]) == ("EdDSA", "privacy-stamp+jws")
    kid: str = header["kid"]
    return kid


def verify_api(client: APIClient, result: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/stamps/verify",
        {
            "body": result["body"],
            "privacy_stamp": result["headers"]["Privacy-Stamp"],
            "content_digest": result["headers"]["Content-Digest"],
        },
        format="json",
    )
    assert response.status_code == 200, response.content[:1000]
    verdict: dict[str, Any] = response.json()
    return verdict


def published_kids() -> list[str]:
    response = APIClient().get("/.well-known/jwks.json")
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


@pytest.fixture
def consenting(organization: Organization, recipients: dict[str, Recipient]) -> None:
    record(organization, "cust-1", "marketing-email")


# ---------------------------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------------------------


def test_private_key_is_stored_sealed_under_the_master_key(organization: Organization) -> None:
    key = signing_key_rotate(organization=organization, actor="test")

    sealed = bytes(SigningKey.objects.get(pk=key.pk).private_key_sealed)
    raw = master_keyring().unwrap(sealed, owner=keys.signing_key_owner(key.kid))
    private_key = Ed25519PrivateKey.from_private_bytes(raw)
    public_raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    assert len(raw) == 32
    assert raw not in sealed
    assert base64.b64encode(raw) not in sealed
    assert base64.urlsafe_b64encode(raw).rstrip(b"=") not in sealed
    assert raw.hex().encode() not in sealed
    assert base64.urlsafe_b64encode(public_raw).decode().rstrip("=") == key.public_key


def test_published_keys_hold_only_public_parts(organization: Organization) -> None:
    key = signing_key_rotate(organization=organization, actor="test")

    response = APIClient().get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    [jwk] = response.json()["keys"]
    assert jwk == {"kty": "OKP", "crv": "Ed25519", "x": key.public_key, "kid": key.kid, "use": "sig", "alg": "EdDSA"}


def test_first_stamp_creates_the_first_key_when_none_exists(consenting: None, stamp_client: APIClient) -> None:
    assert not SigningKey.objects.exists()

    result = stamp(stamp_client)

    current = SigningKey.objects.get(is_current=True)
    assert stamp_kid(result) == current.kid
    assert KID.match(current.kid)
    assert AuditLogEntry.objects.filter(action="signing_key.rotated", actor="system:first-use").count() == 1


def test_only_one_key_is_ever_current(organization: Organization) -> None:
    for _ in range(3):
        signing_key_rotate(organization=organization, actor="test")

    assert SigningKey.objects.count() == 3
    assert SigningKey.objects.filter(is_current=True).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.filter(is_current=False).update(is_current=True)


# ---------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------


def test_after_rotation_new_stamps_use_the_new_key_and_old_stamps_still_verify(
    organization: Organization, consenting: None, stamp_client: APIClient
) -> None:
    first = signing_key_rotate(organization=organization, actor="test")
    old_stamp = stamp(stamp_client)

    second = signing_key_rotate(organization=organization, actor="test")
    keys._cache.clear()
    new_stamp = stamp(stamp_client)

    assert stamp_kid(old_stamp) == first.kid
    assert stamp_kid(new_stamp) == second.kid
    assert first.kid != second.kid
    old_verdict = verify_api(stamp_client, old_stamp)
    assert (old_verdict["valid"], old_verdict["kid"], old_verdict["reason"]) == (True, first.kid, None)
    assert verify_api(stamp_client, new_stamp)["valid"] is True
    assert published_kids() == [second.kid, first.kid]
    first.refresh_from_db()
    assert (first.is_current, first.retired_at) == (False, None)
    assert set(AuditLogEntry.objects.filter(action="signing_key.rotated").values_list("object_id", flat=True)) == {
        first.kid,
        second.kid,
    }


def test_rotation_takes_effect_in_this_process_without_waiting_for_the_cache(
    organization: Organization, consenting: None, stamp_client: APIClient
) -> None:
    signing_key_rotate(organization=organization, actor="test")
    assert active_signing_key(organization=organization).kid == SigningKey.objects.get(is_current=True).kid

    second = signing_key_rotate(organization=organization, actor="test")

    assert stamp_kid(stamp(stamp_client)) == second.kid


def test_retired_key_still_verifies_its_stamps(
    organization: Organization, consenting: None, stamp_client: APIClient
) -> None:
    first = signing_key_rotate(organization=organization, actor="test")
    old_stamp = stamp(stamp_client)
    signing_key_rotate(organization=organization, actor="test")
    first.refresh_from_db()

    retired = signing_key_retire(key=first, actor="test")

    assert retired.retired_at is not None
    assert first.kid in published_kids()
    verdict = verify_api(stamp_client, old_stamp)
    assert (verdict["valid"], verdict["kid"], verdict["consent_still_holds"]) == (True, first.kid, True)
    assert verify_stamp(old_stamp["body"], old_stamp["headers"]["Privacy-Stamp"], selectors.jwks()).valid
    assert AuditLogEntry.objects.filter(action="signing_key.retired", object_id=first.kid).count() == 1


def test_retiring_twice_changes_nothing_the_second_time(organization: Organization) -> None:
    first = signing_key_rotate(organization=organization, actor="test")
    signing_key_rotate(organization=organization, actor="test")
    first.refresh_from_db()
    retired_at = signing_key_retire(key=first, actor="test").retired_at

    again = signing_key_retire(key=first, actor="test")

    assert again.retired_at == retired_at
    assert AuditLogEntry.objects.filter(action="signing_key.retired").count() == 1


def test_retire_decides_from_the_stored_key_not_the_callers_copy(organization: Organization) -> None:
    """The copy returned by the rotation that made it current is stale once a later rotation ran."""
    first = signing_key_rotate(organization=organization, actor="test")
    signing_key_rotate(organization=organization, actor="test")

    retired = signing_key_retire(key=first, actor="test")

    assert retired.retired_at is not None
    assert AuditLogEntry.objects.filter(action="signing_key.retired", object_id=first.kid).count() == 1


def test_the_current_key_cannot_be_retired(organization: Organization) -> None:
    current = signing_key_rotate(organization=organization, actor="test")

    with pytest.raises(Conflict):
        signing_key_retire(key=current, actor="test")

    current.refresh_from_db()
    assert (current.is_current, current.retired_at) == (True, None)
    assert not AuditLogEntry.objects.filter(action="signing_key.retired").exists()


def test_rotate_signing_key_command_prints_the_new_kid(organization: Organization) -> None:
    previous = signing_key_rotate(organization=organization, actor="test")
    out = StringIO()

    call_command("rotate_signing_key", "--organization", organization.slug, stdout=out)

    slug, printed = out.getvalue().split()
    assert slug == organization.slug
    assert KID.match(printed)
    assert printed != previous.kid
    assert SigningKey.objects.get(is_current=True).kid == printed
    assert AuditLogEntry.objects.get(action="signing_key.rotated", object_id=printed).actor == "cli:rotate_signing_key"
    assert set(published_kids()) == {previous.kid, printed}


def test_rotate_signing_key_command_prints_a_different_kid_each_run(organization: Organization) -> None:
    outputs = []
    for _ in range(2):
        out = StringIO()
        call_command("rotate_signing_key", "--organization", organization.slug, stdout=out)
        outputs.append(out.getvalue().split()[1])

    assert len(set(outputs)) == 2
    assert all(KID.match(kid) for kid in outputs)


class _RolledBack(Exception):
    pass


def _first_key_in_a_transaction_that_fails(organization: Organization, seen: list[str]) -> None:
    with transaction.atomic():
        seen.append(active_signing_key(organization=organization).kid)
        raise _RolledBack


def test_a_first_key_made_in_a_transaction_that_rolls_back_is_never_used_to_sign(organization: Organization) -> None:
    seen: list[str] = []
    with pytest.raises(_RolledBack):
        _first_key_in_a_transaction_that_fails(organization, seen)
    [doomed_kid] = seen

    active = active_signing_key(organization=organization)

    assert not SigningKey.objects.filter(kid=doomed_kid).exists()
    assert active.kid != doomed_kid
    assert SigningKey.objects.filter(kid=active.kid, is_current=True).exists()
    assert active_signing_key(organization=organization).kid == active.kid  # cached from now on
