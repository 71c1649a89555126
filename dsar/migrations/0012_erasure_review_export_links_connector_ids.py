"""Issue #11: the erasure review of deletion requests, the export's one download link and its purge reason, and a
public id for connectors (the owner their wrapped secret is bound to)."""

from typing import Any

from django.db import migrations, models
from ulid import ULID


def give_connectors_public_ids(apps: Any, schema_editor: Any) -> None:
    Connector = apps.get_model("dsar", "Connector")
    for connector in Connector.objects.filter(public_id="").only("pk"):
        Connector.objects.filter(pk=connector.pk).update(public_id=str(ULID()))


class Migration(migrations.Migration):
    dependencies = [
        ("dsar", "0011_deadline_settings"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="datasubjectrequest",
            options={
                "ordering": ["-received_at", "-id"],
                "permissions": [
                    ("reveal_requester_contact", "Can reveal a requester's contact data (each reveal is audited)"),
                    ("approve_erasure", "Can approve the erasure of a verified deletion request (audited)"),
                    ("cancel_erasure", "Can cancel the erasure of a deletion request before it runs (audited)"),
                ],
            },
        ),
        migrations.AddField(
            model_name="datasubjectrequest",
            name="erasure_review",
            field=models.CharField(blank=True, editable=False, max_length=10),
        ),
        migrations.AddField(
            model_name="datasubjectrequest",
            name="erasure_not_before",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="datasubjectrequest",
            name="erasure_approved_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="datasubjectrequest",
            name="erasure_approved_by",
            field=models.CharField(blank=True, editable=False, max_length=200),
        ),
        migrations.AddField(
            model_name="datasubjectrequest",
            name="erasure_cancelled_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="dsarexport",
            name="purge_reason",
            field=models.CharField(
                blank=True,
                help_text="retention (its period ran out) or erasure (the subject was erased)",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="dsarexport",
            name="link_issued_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the one download link was signed (at approval); it names this time",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="dsarexport",
            name="link_expires_at",
            field=models.DateTimeField(blank=True, help_text="The download link works until then", null=True),
        ),
        migrations.AddField(
            model_name="connector",
            name="public_id",
            field=models.CharField(default="", editable=False, max_length=26),
            preserve_default=False,
        ),
        migrations.RunPython(give_connectors_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="connector",
            name="public_id",
            field=models.CharField(
                editable=False,
                help_text="ULID; the owner its wrapped secret is bound to",
                max_length=26,
                unique=True,
            ),
        ),
    ]
