"""The ledger is append-only: the database itself refuses UPDATE, DELETE and TRUNCATE of events."""

from django.db import migrations

from consent import ledger_guard


def forward(apps, schema_editor):
    ledger_guard.install(schema_editor.connection)


def backward(apps, schema_editor):
    ledger_guard.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
