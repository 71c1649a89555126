"""The ledger's checkpoints are signed with the organization's current Ed25519 key, the one its JWKS publishes
(``/.well-known/jwks/{issuer}.json``; issue #12): registered with the consent ledger at start-up, so the ledger never
imports the keys' app."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization

from consent.services import CheckpointKey, ledger_origin
from core.models import Organization
from provenance.models import SigningKey
from provenance.services.keys import active_signing_key


def checkpoint_key(organization: Organization) -> CheckpointKey:
    """The current signing key as a signed-note signer named after the organization's log."""
    active = active_signing_key(organization=organization)
    public = active.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return CheckpointKey(name=ledger_origin(organization), public_key=public, sign=active.private_key.sign)


def checkpoint_verifier_keys(organization: Organization) -> list[tuple[str, bytes]]:
    """Every key that may have signed the organization's checkpoints (its published, unrevoked keys), under the
    log's name."""
    name = ledger_origin(organization)
    published = SigningKey.objects.filter(organization=organization, revoked_at__isnull=True)
    return [
        (name, base64.urlsafe_b64decode(public + "=" * (-len(public) % 4)))
        for public in published.values_list("public_key", flat=True)
    ]
