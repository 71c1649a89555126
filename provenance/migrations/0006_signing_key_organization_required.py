# Step 3 of 3: every key belongs to an organization, one current key per organization, kids unique within one;
# revoked keys are retired ones; alert ids are required and unique; the revoke and webhook-secret permissions.

import django.db.models.deletion
from django.db import migrations, models

import provenance.models


class Migration(migrations.Migration):
    dependencies = [("provenance", "0005_give_each_organization_a_signing_key")]

    operations = [
        migrations.AlterField(
            model_name="signingkey",
            name="organization",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.organization"),
        ),
        migrations.AddConstraint(
            model_name="signingkey",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_current", True)),
                fields=("organization",),
                name="one_current_signing_key_per_organization",
            ),
        ),
        migrations.AddConstraint(
            model_name="signingkey",
            constraint=models.UniqueConstraint(
                fields=("organization", "kid"), name="signing_key_kid_unique_per_organization"
            ),
        ),
        migrations.AddConstraint(
            model_name="signingkey",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("revoked_at__isnull", True), models.Q(("is_current", False), ("retired_at__isnull", False)), _connector="OR"
                ),
                name="signing_key_revoked_only_when_retired",
            ),
        ),
        migrations.AlterModelOptions(
            name="signingkey",
            options={
                "ordering": ["-activated_at"],
                "permissions": [("revoke_signingkey", "Can revoke retired signing keys")],
            },
        ),
        migrations.AlterModelOptions(
            name="recipient",
            options={
                "ordering": ["key"],
                "permissions": [("rotate_webhook_secret", "Can rotate recipients' webhook secrets")],
            },
        ),
        migrations.AlterField(
            model_name="provenancealert",
            name="public_id",
            field=models.CharField(
                default=provenance.models.new_public_id,
                editable=False,
                help_text="ULID, shown as alert_id",
                max_length=26,
                unique=True,
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="payload_sealed",
            field=models.TextField(
                help_text="<wrapped data key>.<sealed data and provenance>: a fresh data key per delivery, bound to it"
            ),
        ),
    ]
