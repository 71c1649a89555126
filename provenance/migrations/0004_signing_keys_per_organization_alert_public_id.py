# Per-organization signing keys (#11 item 8) and public alert ids (#11 item 12), step 1 of 3: the new columns,
# nullable until 0005 fills them; the global "one current key" rule and the global kid uniqueness go.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_more_audit_actions"),
        ("provenance", "0003_delivery_idempotency_webhook_secret_overlap"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="signingkey", name="one_current_signing_key"),
        migrations.AddField(
            model_name="signingkey",
            name="organization",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.organization"
            ),
        ),
        migrations.AddField(
            model_name="signingkey",
            name="revoked_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="signingkey",
            name="kid",
            field=models.CharField(editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="signingkey",
            name="private_key_sealed",
            field=models.BinaryField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="provenancealert",
            name="public_id",
            field=models.CharField(editable=False, max_length=26, null=True),
        ),
    ]
