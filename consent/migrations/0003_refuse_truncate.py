"""Refuse TRUNCATE of the ledger too (PostgreSQL). The test settings set
``provenant.allow_truncate`` on their connections so the test runner can reset tables between
transactional tests; production connections never do."""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION consent_event_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('provenant.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'consent_consentevent is append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_event_no_truncate
    BEFORE TRUNCATE ON consent_consentevent
    FOR EACH STATEMENT EXECUTE FUNCTION consent_event_refuse_truncate();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS consent_event_no_truncate ON consent_consentevent;
DROP FUNCTION IF EXISTS consent_event_refuse_truncate();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_append_only_ledger")]
    operations = [migrations.RunPython(forward, backward)]
