"""Several legal contacts per organization, each with what it receives (the one contact an organization had is
kept and receives both); deadline claims record when their mail was accepted (notices already recorded count as
sent when they were recorded)."""

import django.db.models.deletion
import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models
from ulid import ULID


def give_public_ids(apps, schema_editor):  # type: ignore[no-untyped-def]
    contacts = apps.get_model("dsar", "DsarLegalContact")
    for contact in contacts.objects.filter(public_id__isnull=True):
        contact.public_id = str(ULID())
        contact.save(update_fields=["public_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("dsar", "0013_messages_to_requesters"),
    ]

    operations = [
        migrations.AlterField(
            model_name="dsarlegalcontact",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="core.organization"
            ),
        ),
        migrations.AlterField(
            model_name="dsarlegalcontact",
            name="email",
            field=models.EmailField(help_text="A work address of the legal team (not a requester's)", max_length=254),
        ),
        migrations.AddField(
            model_name="dsarlegalcontact",
            name="public_id",
            field=models.CharField(editable=False, max_length=26, null=True),
        ),
        migrations.RunPython(give_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="dsarlegalcontact",
            name="public_id",
            field=models.CharField(editable=False, help_text="ULID; the id the API shows", max_length=26, unique=True),
        ),
        migrations.AddField(
            model_name="dsarlegalcontact",
            name="name",
            field=models.CharField(blank=True, default="", max_length=200),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="dsarlegalcontact",
            name="receives",
            field=models.CharField(
                choices=[
                    ("digest", "Daily digest"),
                    ("escalation", "Overdue escalation"),
                    ("both", "Digest and escalation"),
                ],
                default="both",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="dsarlegalcontact",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AddField(
            model_name="dsarlegalcontact",
            name="updated_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.AlterModelOptions(
            name="dsarlegalcontact",
            options={"ordering": ["organization_id", "email"], "verbose_name": "legal contact"},
        ),
        migrations.AddConstraint(
            model_name="dsarlegalcontact",
            constraint=models.UniqueConstraint(fields=("organization", "email"), name="dsar_legal_contact_once"),
        ),
        migrations.AddField(
            model_name="requestnotice",
            name="sent_at",
            field=models.DateTimeField(
                blank=True,
                db_default=django.db.models.functions.datetime.Now(),
                help_text="When the mail carrying it was accepted; empty: owed",
                null=True,
            ),
        ),
        migrations.RunSQL("UPDATE dsar_requestnotice SET sent_at = created_at", migrations.RunSQL.noop),
        migrations.AddField(
            model_name="requestnotice",
            name="attempts",
            field=models.PositiveIntegerField(db_default=0, help_text="Sends tried for a deadline claim"),
        ),
        migrations.AddField(
            model_name="requestnotice",
            name="last_error",
            field=models.CharField(blank=True, db_default="", help_text="Why the last try failed", max_length=200),
        ),
        migrations.AddIndex(
            model_name="requestnotice",
            index=models.Index(
                condition=models.Q(("sent_at__isnull", True)), fields=["request"], name="dsar_notice_unsent"
            ),
        ),
    ]
