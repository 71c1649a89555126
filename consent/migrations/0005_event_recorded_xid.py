"""Each consent event remembers the transaction that wrote it (consent.feed), on PostgreSQL.

The column is added without a default first (no table rewrite, rows already there stay null), then given
its default for new rows; its index is built CONCURRENTLY so a live ledger keeps taking writes. Not a model
field: Django never writes it, the database fills it in. SQLite has nothing to do.
"""

from django.db import migrations

TABLE = "consent_consentevent"


def add_recorded_xid(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    # xid8 held as bigint (exact: both are 64-bit, epoch included), so that a BRIN index can serve it: rows are
    # appended in roughly transaction order, and a BRIN index costs the hot insert path next to nothing.
    schema_editor.execute(f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS recorded_xid bigint")
    schema_editor.execute(
        f"ALTER TABLE {TABLE} ALTER COLUMN recorded_xid SET DEFAULT (pg_current_xact_id()::text::bigint)"
    )
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS consent_event_recorded_xid ON {TABLE} "
        "USING brin (recorded_xid) WITH (pages_per_range = 16)"
    )


def drop_recorded_xid(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS consent_event_recorded_xid")
    schema_editor.execute(f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS recorded_xid")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("consent", "0004_report_indexes")]

    operations = [migrations.RunPython(add_recorded_xid, drop_recorded_xid)]
