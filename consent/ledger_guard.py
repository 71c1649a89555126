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
# The transparency log (issue #12): its leaves and tree nodes are append-only like the events, and its head's
# size only grows (the root changes only with it).
LOG_TABLES = ("consent_ledgerleaf", "consent_ledgertreenode", "consent_ledgercheckpoint")
LOG_HEAD_TABLE = "consent_ledgerloghead"

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

_POSTGRESQL_LOG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION consent_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION consent_log_refuse_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('provenant.allow_truncate', true) = 'on' AND (
        (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
        OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{MAINTENANCE_ROLE}')
            AND pg_has_role(session_user, '{MAINTENANCE_ROLE}', 'MEMBER'))
    ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION consent_log_head_grows() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '{LOG_HEAD_TABLE} is kept: DELETE refused' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.tree_size < OLD.tree_size
       OR (NEW.tree_size = OLD.tree_size AND NEW.root_hash IS DISTINCT FROM OLD.root_hash)
    THEN
        RAISE EXCEPTION '{LOG_HEAD_TABLE} only grows: % -> % refused', OLD.tree_size, NEW.tree_size
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS consent_log_head_grows ON {LOG_HEAD_TABLE};
CREATE TRIGGER consent_log_head_grows
    BEFORE UPDATE OR DELETE ON {LOG_HEAD_TABLE}
    FOR EACH ROW EXECUTE FUNCTION consent_log_head_grows();
"""  # noqa: S608 (module constants only)
_POSTGRESQL_LOG_TABLE = """
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION consent_log_append_only();
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
CREATE TRIGGER {table}_no_truncate
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION consent_log_refuse_truncate();
"""
POSTGRESQL_LOG = _POSTGRESQL_LOG_FUNCTIONS + "".join(_POSTGRESQL_LOG_TABLE.format(table=table) for table in LOG_TABLES)

SQLITE_LOG = [
    statement
    for table in LOG_TABLES
    for statement in (
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END;""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END;""",
    )
] + [
    f"""CREATE TRIGGER IF NOT EXISTS consent_log_head_grows BEFORE UPDATE ON {LOG_HEAD_TABLE}
        WHEN NEW.tree_size < OLD.tree_size OR (NEW.tree_size = OLD.tree_size AND NEW.root_hash IS NOT OLD.root_hash)
        BEGIN SELECT RAISE(ABORT, '{LOG_HEAD_TABLE} only grows: refused'); END;""",
    f"""CREATE TRIGGER IF NOT EXISTS consent_log_head_kept BEFORE DELETE ON {LOG_HEAD_TABLE}
        BEGIN SELECT RAISE(ABORT, '{LOG_HEAD_TABLE} is kept: DELETE refused'); END;""",
]

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
POSTGRESQL_LOG_REMOVE = (
    "".join(
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n"
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};\n"
        for table in LOG_TABLES
    )
    + f"""DROP TRIGGER IF EXISTS consent_log_head_grows ON {LOG_HEAD_TABLE};
DROP FUNCTION IF EXISTS consent_log_head_grows();
DROP FUNCTION IF EXISTS consent_log_append_only();
DROP FUNCTION IF EXISTS consent_log_refuse_truncate();
"""
)
SQLITE_LOG_REMOVE = [
    *(f"DROP TRIGGER IF EXISTS {table}_no_{op};" for table in LOG_TABLES for op in ("update", "delete")),
    "DROP TRIGGER IF EXISTS consent_log_head_grows;",
    "DROP TRIGGER IF EXISTS consent_log_head_kept;",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS consent_event_no_update;",
    "DROP TRIGGER IF EXISTS consent_event_no_delete;",
    "DROP TRIGGER IF EXISTS consent_subject_tip_grows;",
]


def install(connection: BaseDatabaseWrapper) -> None:
    """The triggers of every guarded table that exists (the log's tables come with a later migration)."""
    has_log = {*LOG_TABLES, LOG_HEAD_TABLE} <= set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL)
            if has_log:
                cursor.execute(POSTGRESQL_LOG)
        elif connection.vendor == "sqlite":
            for statement in SQLITE + (SQLITE_LOG if has_log else []):
                cursor.execute(statement)
        else:
            raise RuntimeError(f"Provenant supports PostgreSQL and SQLite, not {connection.vendor}")


def remove_log_guard(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRESQL_LOG_REMOVE)
        else:
            for statement in SQLITE_LOG_REMOVE:
                cursor.execute(statement)


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
        install(connection)  # the log's tables too, once they exist
