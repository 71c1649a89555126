"""Issue #16: a subject is found by its (organization, external id) unique key; the index on the organization alone
only duplicated that key's first column. Worse, when the planner's statistics do not know an organization yet (a
new tenant importing into a large table, which autoanalyze may not notice for a long while), it estimated one row for
the organization and took that index for each key lookup of a write, reading every subject of the organization
(reproduced in review: 0.6 ms -> 204 ms for 1,000 forms). Without it the unique key is the only index that serves
the lookup.

As 0019 and 0022: the field changes in the migration state only, the index is dropped CONCURRENTLY on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from consent.migrations._index_drops import index_drops

# Django's own name for it, as 0001 created it.
DROPPED = (("consent_subject", "consent_subject_organization_id_a3f248cd", "(organization_id)"),)


drop, create = index_drops(DROPPED)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("consent", "0022_state_event_indexes_dropped"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="subject",
                    name="organization",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="subjects",
                        to="core.organization",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
