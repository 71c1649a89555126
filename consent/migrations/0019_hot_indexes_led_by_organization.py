"""Issue #16: each index a hot row carries costs every write (and gigabytes at 20 M events). These single-column
indexes are covered by composite keys that lead with the same column (event_chain_position_unique and
event_subject_purpose_time for events, consent_state_unique for states); the LIKE index Django adds beside the
unique event_id serves prefix searches, which nothing runs.

The fields change in the migration state only (an AlterField would drop and re-add each foreign key, validating
every row of a large table under lock); the indexes are dropped CONCURRENTLY on PostgreSQL, so writes go on."""

import django.db.models.deletion
from django.db import migrations, models

from consent.migrations._index_drops import index_drops

# Django's own names for them (table, column and hash, as the original migrations created them).
DROPPED = (
    ("consent_consentevent", "consent_consentevent_organization_id_3d90e37f", "(organization_id)"),
    ("consent_consentevent", "consent_consentevent_subject_id_ec3ed291", "(subject_id)"),
    ("consent_consentevent", "consent_consentevent_event_id_57e065bb_like", "(event_id varchar_pattern_ops)"),
    ("consent_consentstate", "consent_consentstate_organization_id_bdf0a44f", "(organization_id)"),
)


drop, create = index_drops(DROPPED)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("consent", "0018_constraints_led_by_organization"),
        ("core", "0013_audit_actions_rate_limit_and_imports"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="consentevent",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
                migrations.AlterField(
                    model_name="consentevent",
                    name="subject",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="events",
                        to="consent.subject",
                    ),
                ),
                migrations.AlterField(
                    model_name="consentstate",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.organization",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
