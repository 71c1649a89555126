# Issue #16: a notice's unique key is led by organization_id, so the table can be distributed by it (Citus).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0018_constraints_led_by_organization"),
        ("core", "0012_api_key_rate_limit"),
        ("provenance", "0008_stamp_evidence"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="consentnotice",
            name="notice_once_per_recipient_event",
        ),
        migrations.AddConstraint(
            model_name="consentnotice",
            constraint=models.UniqueConstraint(
                fields=("organization", "recipient", "event_id"), name="notice_once_per_recipient_event"
            ),
        ),
    ]
