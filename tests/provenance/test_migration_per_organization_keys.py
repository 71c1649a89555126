"""Migrations 0004-0006: every existing organization gets its own current signing key; the deployment-wide key(s)
of before become retired, private-less copies in each organization so that what they signed still verifies,
bound to its issuer; every provenance alert gets a ULID public id."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone

from core.crypto import WRAP_FORMAT_BOUND, master_keyring
from core.models import Organization
from provenance import selectors
from provenance.models import ProvenanceAlert, SigningKey
from provenance.services.keys import signing_key_owner
from provenance.verify import Reason, data_digest, sign_stamp, verify_stamp
from tests.migration_steps import migrate

BEFORE = [("provenance", "0003_delivery_idempotency_webhook_secret_overlap")]
AFTER = [("provenance", "0006_signing_key_organization_required")]


def legacy_key(apps: Any, kid: str, *, current: bool) -> tuple[Any, Ed25519PrivateKey]:
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    row = apps.get_model("provenance", "SigningKey").objects.create(
        kid=kid,
        public_key=base64.urlsafe_b64encode(public).decode().rstrip("="),
        private_key_sealed=master_keyring().wrap(raw),
        is_current=current,
        retired_at=None if current else timezone.now(),
    )
    return row, private_key


def stamped(issuer: str) -> dict[str, Any]:
    data = {"plan": "pro"}
    return {"data": data, "privacy": {"issuer": issuer, "recipient": {"key": "crm"}, "data_digest": data_digest(data)}}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("migrations_restored")
def test_existing_organizations_get_their_own_key_and_old_stamps_still_verify_bound_to_their_issuer() -> None:
    old = migrate(BEFORE)
    old_organization = old.get_model("core", "Organization")
    acme = old_organization.objects.create(slug="acme", name="Acme")
    globex = old_organization.objects.create(slug="globex", name="Globex")
    _older, older_private = legacy_key(old, "pvn-older", current=False)
    _shared, shared_private = legacy_key(old, "pvn-shared", current=True)
    alert_model = old.get_model("provenance", "ProvenanceAlert")
    for organization in (acme, globex):
        alert_model.objects.create(organization=organization, kind="validation", failures=[])
    acme_body, globex_body = stamped("acme"), stamped("globex")
    acme_stamp = sign_stamp(acme_body, shared_private, "pvn-shared")
    older_stamp = sign_stamp(globex_body, older_private, "pvn-older")

    migrate(AFTER)

    assert not SigningKey.objects.filter(organization__isnull=True).exists()
    for slug in ("acme", "globex"):
        keys = SigningKey.objects.filter(organization__slug=slug)
        current = keys.get(is_current=True)
        assert current.kid not in ("pvn-older", "pvn-shared")
        assert bytes(current.private_key_sealed)[:4] == WRAP_FORMAT_BOUND
        assert (
            len(master_keyring().unwrap(bytes(current.private_key_sealed), owner=signing_key_owner(current.kid))) == 32
        )
        copies = keys.exclude(pk=current.pk)
        assert sorted(copies.values_list("kid", flat=True)) == ["pvn-older", "pvn-shared"]
        assert all(bytes(k.private_key_sealed) == b"" and k.retired_at and not k.is_current for k in copies)
    assert SigningKey.objects.filter(is_current=True).values("kid").distinct().count() == 2
    acme_jwks = selectors.jwks(organization=Organization.objects.get(slug="acme"))
    assert verify_stamp(acme_body, acme_stamp, acme_jwks, expected_issuer="acme").valid
    globex_jwks = selectors.jwks(organization=Organization.objects.get(slug="globex"))
    assert verify_stamp(globex_body, older_stamp, globex_jwks, expected_issuer="globex").valid
    refused = verify_stamp(acme_body, acme_stamp, globex_jwks, expected_issuer="globex")
    assert refused.reason == Reason.ISSUER_MISMATCH
    public_ids = list(ProvenanceAlert.objects.values_list("public_id", flat=True))
    assert len(public_ids) == 2
    assert len(set(public_ids)) == 2
    assert all(len(public_id) == 26 for public_id in public_ids)
