"""Database triggers that make the ledger table append-only.

PostgreSQL: a row trigger refuses UPDATE and DELETE, a statement trigger refuses TRUNCATE (unless
the session sets ``provenant.allow_truncate = on``, which only the test settings do, so the test
runner can reset tables). SQLite (``make run``): triggers refuse UPDATE and DELETE.

The statements are idempotent. They run from the migration and again after every ``migrate``
(``ensure_ledger_guard``), because SQLite rebuilds a table, dropping its triggers, whenever a later
migration alters it.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "consent_consentevent"

POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{TABLE} is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION consent_event_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('provenant.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '{TABLE} is append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS consent_event_append_only ON {TABLE};
CREATE TRIGGER consent_event_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION consent_event_append_only();
DROP TRIGGER IF EXISTS consent_event_no_truncate ON {TABLE};
CREATE TRIGGER consent_event_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION consent_event_refuse_truncate();
"""

SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS consent_event_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END;""",
    f"""CREATE TRIGGER IF NOT EXISTS consent_event_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END;""",
]

POSTGRESQL_REMOVE = f"""
DROP TRIGGER IF EXISTS consent_event_append_only ON {TABLE};
DROP TRIGGER IF EXISTS consent_event_no_truncate ON {TABLE};
DROP FUNCTION IF EXISTS consent_event_append_only();
DROP FUNCTION IF EXISTS consent_event_refuse_truncate();
"""
SQLITE_REMOVE = ["DROP TRIGGER IF EXISTS consent_event_no_update;", "DROP TRIGGER IF EXISTS consent_event_no_delete;"]


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL)
        elif connection.vendor == "sqlite":
            for statement in SQLITE:
                cursor.execute(statement)
        else:
            raise RuntimeError(f"Provenant supports PostgreSQL and SQLite, not {connection.vendor}")


def remove(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL_REMOVE)
        else:
            for statement in SQLITE_REMOVE:
                cursor.execute(statement)


def ensure_ledger_guard(sender: Any, *, using: str = "default", plan: Any = None, **kwargs: Any) -> None:
    """post_migrate receiver: reinstall the triggers once the ledger table exists."""
    from django.db import connections

    connection = connections[using]
    if TABLE in connection.introspection.table_names():
        install(connection)
