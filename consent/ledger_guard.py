"""Database triggers that make the ledger table append-only and the chain tips grow-only.

PostgreSQL: a row trigger refuses UPDATE and DELETE, a statement trigger refuses TRUNCATE. No session
setting opens it: TRUNCATE passes only for a superuser or a member of the ``provenant_ledger_maintenance``
role, and only when that session also sets ``provenant.allow_truncate = on`` (the test settings do, so the
test runner, a superuser on its own test database, can reset tables). The application's role is neither
(README, "Security model"). A subject's stored chain tip (``ledger_length``, ``ledger_head_hash``) may only
grow: a trigger refuses shortening it or changing its head without lengthening it, so the tips can't be
reset to make an emptied chain look complete. SQLite (``make run``): the same, without TRUNCATE (SQLite
has none).

The statements are idempotent. They run from the migration and again after every ``migrate``
(``ensure_ledger_guard``), because SQLite rebuilds a table, dropping its triggers, whenever a later
migration alters it.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "consent_consentevent"
SUBJECT_TABLE = "consent_subject"
MAINTENANCE_ROLE = "provenant_ledger_maintenance"

POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION consent_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{TABLE} is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION consent_event_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('provenant.allow_truncate', true) = 'on' AND (
        (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
        OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{MAINTENANCE_ROLE}')
            AND pg_has_role(session_user, '{MAINTENANCE_ROLE}', 'MEMBER'))
    ) THEN
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
CREATE OR REPLACE FUNCTION consent_subject_tip_grows() RETURNS trigger AS $$
BEGIN
    IF NEW.ledger_length < OLD.ledger_length
       OR (NEW.ledger_length = OLD.ledger_length AND NEW.ledger_head_hash IS DISTINCT FROM OLD.ledger_head_hash)
    THEN
        RAISE EXCEPTION '{SUBJECT_TABLE} chain tips only grow: % -> % refused', OLD.ledger_length, NEW.ledger_length
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS consent_subject_tip_grows ON {SUBJECT_TABLE};
CREATE TRIGGER consent_subject_tip_grows
    BEFORE UPDATE OF ledger_length, ledger_head_hash ON {SUBJECT_TABLE}
    FOR EACH ROW EXECUTE FUNCTION consent_subject_tip_grows();
"""  # noqa: S608 (module constants only)

SQLITE = [
    f"""CREATE TRIGGER IF NOT EXISTS consent_event_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused'); END;""",
    f"""CREATE TRIGGER IF NOT EXISTS consent_event_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused'); END;""",
    f"""CREATE TRIGGER IF NOT EXISTS consent_subject_tip_grows
        BEFORE UPDATE OF ledger_length, ledger_head_hash ON {SUBJECT_TABLE}
        WHEN NEW.ledger_length < OLD.ledger_length
            OR (NEW.ledger_length = OLD.ledger_length AND NEW.ledger_head_hash IS NOT OLD.ledger_head_hash)
        BEGIN SELECT RAISE(ABORT, '{SUBJECT_TABLE} chain tips only grow: refused'); END;""",
]

POSTGRESQL_REMOVE = f"""
DROP TRIGGER IF EXISTS consent_event_append_only ON {TABLE};
DROP TRIGGER IF EXISTS consent_event_no_truncate ON {TABLE};
DROP TRIGGER IF EXISTS consent_subject_tip_grows ON {SUBJECT_TABLE};
DROP FUNCTION IF EXISTS consent_subject_tip_grows();
DROP FUNCTION IF EXISTS consent_event_append_only();
DROP FUNCTION IF EXISTS consent_event_refuse_truncate();
"""
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS consent_event_no_update;",
    "DROP TRIGGER IF EXISTS consent_event_no_delete;",
    "DROP TRIGGER IF EXISTS consent_subject_tip_grows;",
]


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
