"""Issue #16: a consent state's ``event`` and ``basis_event`` move with every write to its pair, so each of their
indexes was one more index entry per write (the state's update is never HOT: its status and events change). Nothing
reads states by their events: the rows are reached by (organization, subject, purpose), and the events they name are
append-only (a trigger refuses DELETE), so no foreign-key check ever looks for them either.

As in 0019: the fields change in the migration state only, the indexes are dropped CONCURRENTLY on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from consent.migrations._index_drops import index_drops

# Django's own names for them, as 0001 created them.
DROPPED = (
    ("consent_consentstate", "consent_consentstate_event_id_8b527202", "(event_id)"),
    ("consent_consentstate", "consent_consentstate_basis_event_id_ff3ffb7e", "(basis_event_id)"),
)


drop, create = index_drops(DROPPED)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("consent", "0021_import_partitions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="consentstate",
                    name="event",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="consent.consentevent",
                    ),
                ),
                migrations.AlterField(
                    model_name="consentstate",
                    name="basis_event",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="consent.consentevent",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
