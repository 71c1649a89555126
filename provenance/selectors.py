"""Reads of the provenance app, scoped by organization."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from core.models import Organization
from provenance.models import Recipient, SigningKey
from provenance.verify import public_jwk


def recipient_list(*, organization: Organization) -> QuerySet[Recipient]:
    return Recipient.objects.filter(organization=organization).prefetch_related("purposes").order_by("key")


def recipient_by_key(*, organization: Organization, key: str) -> Recipient | None:
    return Recipient.objects.filter(organization=organization, key=key).prefetch_related("purposes").first()


def jwks() -> dict[str, Any]:
    """Every signing key's public part: current and earlier ones, so every stamp still verifies."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = []
    for key in SigningKey.objects.order_by("-activated_at"):
        raw = base64.urlsafe_b64decode(key.public_key + "=" * (-len(key.public_key) % 4))
        keys.append(public_jwk(Ed25519PublicKey.from_public_bytes(raw), key.kid))
    return {"keys": keys}
