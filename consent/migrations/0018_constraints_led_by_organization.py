# Issue #16: the ledger's unique keys are led by organization_id, so the tables can be distributed by it (Citus).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0017_consent_imports"),
        ("core", "0012_api_key_rate_limit"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="consentevent",
            name="event_chain_position_unique",
        ),
        migrations.RemoveConstraint(
            model_name="consentstate",
            name="consent_state_unique",
        ),
        migrations.AddConstraint(
            model_name="consentevent",
            constraint=models.UniqueConstraint(
                fields=("organization", "subject", "chain_index"), name="event_chain_position_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="consentstate",
            constraint=models.UniqueConstraint(
                fields=("organization", "subject", "purpose"), name="consent_state_unique"
            ),
        ),
    ]
