# Step 2 of 3. Every organization gets its own current signing key. The deployment-wide key(s) of before signed
# stamps, receipts and certificates for every organization, so each organization keeps a retired copy of each
# (same kid and public key, no private part: it never signs again) and everything they signed still verifies
# with the organization's own JWKS; the shared rows go. Every provenance alert gets a ULID public id.

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import migrations
from django.utils import timezone
from ulid import ULID

from core.crypto import key_owner, master_keyring

SIGNING_KEY_TABLE = "provenance_signingkey"
SIGNING_KEY_PURPOSE = "stamp-signing-key"  # provenance.services.keys.SIGNING_KEY_PURPOSE


def _new_key_fields() -> dict[str, Any]:
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = f"pvn-{ULID()}".lower()
    return {
        "kid": kid,
        "public_key": base64.urlsafe_b64encode(public).decode().rstrip("="),
        "private_key_sealed": master_keyring().wrap(raw, owner=key_owner(SIGNING_KEY_TABLE, kid, SIGNING_KEY_PURPOSE)),
    }


def per_organization_keys(apps: Any, schema_editor: Any) -> None:
    Organization = apps.get_model("core", "Organization")
    SigningKey = apps.get_model("provenance", "SigningKey")
    now = timezone.now()
    shared = list(SigningKey.objects.filter(organization__isnull=True).order_by("activated_at", "pk"))
    for organization in Organization.objects.order_by("pk"):
        for old in shared:
            SigningKey.objects.create(
                organization=organization,
                kid=old.kid,
                public_key=old.public_key,
                private_key_sealed=b"",
                created_at=old.created_at,
                activated_at=old.activated_at,
                retired_at=old.retired_at or now,
                is_current=False,
            )
        SigningKey.objects.create(organization=organization, activated_at=now, is_current=True, **_new_key_fields())
    SigningKey.objects.filter(organization__isnull=True).delete()


def alert_public_ids(apps: Any, schema_editor: Any) -> None:
    ProvenanceAlert = apps.get_model("provenance", "ProvenanceAlert")
    for alert in ProvenanceAlert.objects.filter(public_id__isnull=True).only("pk", "created_at").iterator():
        ProvenanceAlert.objects.filter(pk=alert.pk).update(public_id=str(ULID.from_datetime(alert.created_at)))


class Migration(migrations.Migration):
    dependencies = [("provenance", "0004_signing_keys_per_organization_alert_public_id")]

    operations = [
        migrations.RunPython(per_organization_keys, migrations.RunPython.noop),
        migrations.RunPython(alert_public_ids, migrations.RunPython.noop),
    ]
