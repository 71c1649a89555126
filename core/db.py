"""Multi-row INSERT and UPSERT for the ledger's hot path.

Django's ``bulk_create`` compiles an expression per value, which costs more than the database
work for the narrow rows of the ledger. These helpers write one parameterised multi-row statement
per chunk, with SQL and column types worked out once per (model, columns) (issue #16), small batches as
plain ``VALUES`` rows, and can hand their statements to a caller that sends several in one round trip.
PostgreSQL and SQLite (>= 3.35) both accept ``INSERT ... ON CONFLICT ... DO UPDATE`` and ``RETURNING``.

On PostgreSQL a larger batch goes by binary ``COPY`` (:class:`CopyIn`), which psycopg formats in C: quoting the
same rows as array parameters costs some 15 times the client CPU. A plain INSERT copies straight into the table;
an UPSERT, an INSERT that skips conflicts, and an UPDATE copy into a per-session staging table that the statement
after it empties (``WITH staged AS (DELETE FROM ... RETURNING *)``), inside a transaction (the table is also
emptied at every commit). An INSERT that returns ids keeps the statement path (``unnest`` of arrays).
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import secrets
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, TypeVar, cast, overload

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.base import ModelState
from django.utils.functional import Promise
from psycopg.types.json import Jsonb

CHUNK_ROWS = 1000
# Up to this many rows go as ``VALUES (...), (...)`` (psycopg adapts a scalar in a fraction of what an array
# element costs); more as one array per column through ``unnest`` (a short statement whatever the row count).
VALUES_ROWS = 64

Statement = tuple[str, list[Any]]


@cache
def on_postgresql() -> bool:
    """Whether the database is PostgreSQL (else SQLite, ``make run``'s). Fixed for the life of the process: read once
    instead of through Django's per-thread connection proxy, which the hot paths asked 16 times a consent write."""
    return bool(connections[DEFAULT_DB_ALIAS].vendor == "postgresql")


@dataclass(frozen=True)
class CopyIn:
    """Rows sent by binary ``COPY`` into ``table`` (PostgreSQL), made first by ``create`` when it is a staging
    table. In a list of steps it runs in order with the statements around it."""

    table: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: Sequence[Sequence[Any]]
    create: str = ""


Step = Statement | CopyIn


@lru_cache(maxsize=256)
def _columns(model: type[models.Model], names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[models.Field, ...]]:
    fields = tuple(cast(models.Field, model._meta.get_field(name)) for name in names)
    return tuple(cast(str, f.column) for f in fields), fields


@lru_cache(maxsize=256)
def _array_casts(fields: tuple[models.Field, ...], vendor: str) -> str:
    """``%s::type[], ...`` for the unnest source: the column types, worked out once per shape."""
    return ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)


@lru_cache(maxsize=256)
def _json_positions(fields: tuple[models.Field, ...]) -> tuple[int, ...]:
    return tuple(i for i, f in enumerate(fields) if isinstance(f, models.JSONField))


def _prepared(fields: tuple[models.Field, ...], rows: Sequence[Sequence[Any]]) -> list[Any]:
    params: list[Any] = []
    if on_postgresql():
        json_at = _json_positions(fields)
        if not json_at:
            for row in rows:
                params.extend(row)
            return params
        for row in rows:
            values = list(row)
            for i in json_at:
                if values[i] is not None:
                    values[i] = Jsonb(values[i])
            params.extend(values)
    else:
        for row in rows:
            params.extend(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True))
    return params


@lru_cache(maxsize=1024)
def _values_sql(width: int, count: int) -> str:
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    return "VALUES " + ", ".join([placeholder] * count)


def _rows_source(fields: tuple[models.Field, ...], rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """``VALUES (...), (...)`` for small batches (and always on SQLite); on PostgreSQL larger batches as
    ``SELECT * FROM unnest(array, ...)``, which keeps the statement and its parameter list small whatever the
    number of rows (and keeps row order)."""
    if on_postgresql() and len(rows) > VALUES_ROWS:
        json_at = set(_json_positions(fields))
        arrays = [
            [json.dumps(v) for v in column] if i in json_at else list(column)
            for i, column in enumerate(zip(*rows, strict=True))
        ]
        return f"SELECT * FROM unnest({_array_casts(fields, 'postgresql')})", arrays  # noqa: S608 (types)
    return _values_sql(len(fields), len(rows)), _prepared(fields, rows)


M = TypeVar("M", bound=models.Model)


@lru_cache(maxsize=256)
def _instance_plan(model: type[models.Model]) -> tuple[frozenset[str], dict[str, tuple[str, str]]]:
    """The attnames an instance of ``model`` carries, and for each relation's name its attname and the attname of
    the field it points to (``field.target_field`` is a property: looked up once here, not per row)."""
    fields = model._meta.concrete_fields
    relations = {f.name: (f.attname, cast(Any, f).target_field.attname) for f in fields if f.is_relation}
    return frozenset(f.attname for f in fields), relations


def built(model: type[M], values: dict[str, Any], *, adding: bool = False) -> M:
    """An instance of ``model`` from every concrete field's value (a relation by its name, as an object or ``None``,
    or by its attname, as a key), as ``Model.from_db`` would build it, without ``Model.__init__``'s descriptor call
    per field, which costs ten times more: for the paths that build thousands of rows a request (issue #16). No
    model of ours listens to ``pre_init``/``post_init``. A field left out raises, never a deferred load later."""
    attnames, relations = _instance_plan(model)
    instance = model.__new__(model)
    state = ModelState()
    state.adding = adding
    state.db = None if adding else DEFAULT_DB_ALIAS  # django.db.connection's alias, without its thread-local lookup
    instance._state = state
    attrs = instance.__dict__
    cache = state.fields_cache
    for name, value in values.items():
        relation = relations.get(name)
        if relation is None:
            attrs[name] = value
            continue
        attname, target = relation
        attrs[attname] = None if value is None else getattr(value, target)
        cache[name] = value
    if not attnames <= attrs.keys():
        missing = sorted(attnames - attrs.keys())
        raise TypeError(f"{model.__name__} built without {', '.join(missing)}")
    return instance


def ensure_database() -> None:
    """Make sure this thread has a live database connection, without a query when it has one (the health
    check of ``core.dbbackend`` reads the connection's state): a request served without a query so far fails
    here, as a query would, when the database is down."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (...)`` as SQL and parameters; on PostgreSQL one array parameter (see :func:`array_param`)."""
    if on_postgresql():
        placeholder, param = array_param(values)
        return f"{column} = ANY({placeholder})", [param]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def array_param(values: Sequence[Any]) -> tuple[str, Any]:
    """A PostgreSQL array parameter: its placeholder and value. A list of strings or of integers goes as one array
    literal (``'{"a","b"}'::text[]``), which psycopg quotes as a single string; the list itself would be quoted
    element by element in Python, which for a thousand subject ids costs more than the query."""
    if values and all(type(v) is str for v in values):
        escaped = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return "%s::text[]", "{" + ",".join(f'"{v}"' for v in escaped) + "}"
    if values and all(type(v) is int for v in values):
        return "%s::bigint[]", "{" + ",".join(map(str, values)) + "}"
    return "%s", list(values)


@lru_cache(maxsize=256)
def _insert_head(model: type[models.Model], names: tuple[str, ...]) -> str:
    columns, _ = _columns(model, names)
    quote = connection.ops.quote_name
    return f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "


@lru_cache(maxsize=256)
def _copy_types(fields: tuple[models.Field, ...], vendor: str) -> tuple[str, ...]:
    """Each column's type for a binary COPY: its database type without a length (``varchar(26)`` -> ``varchar``)."""
    return tuple(re.sub(r"\(.*\)", "", cast(str, f.db_type(connection))).strip() for f in fields)


@lru_cache(maxsize=256)
def _staging(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, str, str]:
    """A session's staging table for rows of ``model`` in ``names`` columns: its name, the statement creating it
    (when missing: it lives as long as the connection) and the CTE that reads and empties it."""
    columns, _ = _columns(model, names)
    quote = connection.ops.quote_name
    table = model._meta.db_table
    listed = ", ".join(quote(c) for c in columns)
    digest = hashlib.blake2s(f"{table}|{listed}".encode(), digest_size=6).hexdigest()
    name = f"pvn_stage_{digest}"
    # ON COMMIT DELETE ROWS: PostgreSQL never vacuums a temporary table, so rows only ever deleted would leave it
    # growing for the life of the connection; truncated at each commit it stays empty between transactions.
    create = (
        f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS "  # noqa: S608
        f"AS SELECT {listed} FROM {quote(table)} WITH NO DATA"
    )
    staged = f"WITH staged AS (DELETE FROM {name} RETURNING {listed}) "  # noqa: S608
    return name, create, staged


def _copies_large(rows: Sequence[Sequence[Any]]) -> bool:
    return on_postgresql() and len(rows) > VALUES_ROWS


def _copy_in(
    model: type[models.Model], names: tuple[str, ...], rows: Sequence[Sequence[Any]], *, staged: bool
) -> CopyIn:
    columns, fields = _columns(model, names)
    types = _copy_types(fields, "postgresql")
    if not staged:
        return CopyIn(model._meta.db_table, columns, types, rows)
    name, create, _ = _staging(model, names)
    return CopyIn(name, columns, types, rows, create=create)


def staged_source(model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[CopyIn, str]:
    """For a statement of the caller's that reads many rows (PostgreSQL): the COPY into a staging table, and the
    ``WITH staged AS (...)`` that the statement starts with to read them (as ``staged``) and empty the table."""
    key = tuple(names)
    return _copy_in(model, key, rows, staged=True), _staging(model, key)[2]


def insert_statements(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: str | None = None,
    skip_conflicts: bool = False,
) -> list[Step]:
    """The steps (statements, one per chunk of rows, or a COPY) of :func:`insert_rows`, to run now or batched."""
    key = tuple(names)
    _, fields = _columns(model, key)
    head = _insert_head(model, key)
    if _copies_large(rows) and not returning:
        if not skip_conflicts:
            return [_copy_in(model, key, rows, staged=False)]
        staging = _staging(model, key)
        listed = head[head.index("(") + 1 : head.rindex(")")]
        return [
            _copy_in(model, key, rows, staged=True),
            (f"{staging[2]}{head}SELECT {listed} FROM staged ON CONFLICT DO NOTHING", []),  # noqa: S608
        ]
    statements: list[Step] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        source, params = _rows_source(fields, rows[start : start + CHUNK_ROWS])
        sql = head + source
        if skip_conflicts:
            if source.startswith("SELECT") and not on_postgresql():
                sql += " WHERE true"
            sql += " ON CONFLICT DO NOTHING"
        if returning:
            sql += f" RETURNING {connection.ops.quote_name(returning)}"
        statements.append((sql, params))
    return statements


def insert_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: str | None = None,
    skip_conflicts: bool = False,
) -> list[Any]:
    """INSERT rows (tuples in ``names`` order); returns the ``returning`` column per row, in order.
    ``skip_conflicts`` leaves out rows that collide with a unique constraint (nothing is returned for them)."""
    if not rows:
        return []
    steps = insert_statements(model, names, rows, returning=returning, skip_conflicts=skip_conflicts)
    if not returning:
        execute_statements(steps)
        return []
    returned: list[Any] = []
    with connection.cursor() as cursor:
        for sql, params in cast(list[Statement], steps):
            cursor.execute(sql, params)
            returned.extend(r[0] for r in cursor.fetchall())
    return returned


@lru_cache(maxsize=256)
def _instance_insert_plan(model: type[models.Model]) -> tuple[tuple[models.Field, ...], tuple[str, ...], str]:
    """The fields an INSERT of one ``model`` instance writes (every concrete one but an automatic primary key),
    their attnames, and the primary key's column to read back."""
    meta = model._meta
    refused = [
        f.name
        for f in meta.concrete_fields
        if f.db_default is not models.NOT_PROVIDED
        or getattr(f, "generated", False)
        or (isinstance(f, models.JSONField) and f.encoder is not None)
    ]
    if meta.parents or refused:
        # Values the database computes, or Django converts on save, that the cached INSERT would not: save() them.
        raise TypeError(f"insert_instance cannot write {model.__name__} ({', '.join(refused) or 'inherited'})")
    pk = cast(models.Field, meta.pk)
    fields = tuple(
        cast(models.Field, f)
        for f in meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField | models.SmallAutoField))
    )
    return fields, tuple(cast(str, f.attname) for f in fields), cast(str, pk.attname)


def _stored(value: Any) -> Any:
    """A lazy translation as the text it stands for (``Model.save`` resolves it through the field)."""
    return str(value) if isinstance(value, Promise) else value


@overload
def insert_instance(instance: M) -> M: ...
@overload
def insert_instance(instance: M, *, skip_conflicts: bool) -> M | None: ...
def insert_instance(instance: M, *, skip_conflicts: bool = False) -> M | None:
    """``instance.save()`` of a new row through the statement cached for its model's shape (issue #16: Django
    compiles its INSERT anew each time): every concrete column, each after its field's ``pre_save`` as ``save``
    does (``auto_now_add`` and the like), but an automatic primary key, which is read back and set. The instance
    is then saved as far as Django can tell. No ``pre_save``/``post_save`` signal is sent: for models no receiver
    listens to. Refuses (TypeError) a model with values the database computes or Django converts on save (a
    ``db_default``, a generated column, a JSON encoder, a parent model). ``skip_conflicts``: a row that collides
    with a unique constraint is left out, and None is returned."""
    model = type(instance)
    fields, names, pk_attname = _instance_insert_plan(model)
    row = tuple(_stored(field.pre_save(instance, True)) for field in fields)
    inserted = insert_rows(model, names, [row], returning=pk_attname, skip_conflicts=skip_conflicts)
    if not inserted:
        return None
    setattr(instance, pk_attname, inserted[0])
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
    return instance


def instances_insert_statements(instances: Sequence[models.Model]) -> list[Step]:
    """The INSERT of new instances of one model, as :func:`insert_instance` writes each (every concrete column after
    its ``pre_save``), for a caller that sends them with its other statements in one round trip
    (:func:`execute_statements`). Their automatic primary keys are not read back: the instances stay unsaved as
    far as Django can tell. Refuses what ``insert_instance`` refuses, and instances of different models."""
    if not instances:
        return []
    model = type(instances[0])
    if any(type(instance) is not model for instance in instances):
        raise TypeError("instances_insert_statements writes instances of one model")
    fields, names, _ = _instance_insert_plan(model)
    rows = [tuple(_stored(field.pre_save(instance, True)) for field in fields) for instance in instances]
    return insert_statements(model, names, rows)


@lru_cache(maxsize=256)
def _upsert_tail(model: type[models.Model], conflict: tuple[str, ...], update: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    conflict_columns, _ = _columns(model, conflict)
    update_columns, _ = _columns(model, update)
    assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update_columns)
    return f" ON CONFLICT ({', '.join(quote(c) for c in conflict_columns)}) DO UPDATE SET {assignments}"


def upsert_statements(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> list[Step]:
    """The steps of :func:`upsert_rows`, to run now or batched."""
    key = tuple(names)
    _, fields = _columns(model, key)
    head = _insert_head(model, key)
    tail = _upsert_tail(model, tuple(conflict), tuple(update))
    if _copies_large(rows):
        staging = _staging(model, key)
        listed = head[head.index("(") + 1 : head.rindex(")")]
        return [_copy_in(model, key, rows, staged=True), (f"{staging[2]}{head}SELECT {listed} FROM staged{tail}", [])]  # noqa: S608
    statements: list[Step] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        source, params = _rows_source(fields, rows[start : start + CHUNK_ROWS])
        # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
        where = " WHERE true" if source.startswith("SELECT") and not on_postgresql() else ""
        statements.append((head + source + where + tail, params))
    return statements


def upsert_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT rows, or UPDATE ``update`` columns where the ``conflict`` columns already exist."""
    if not rows:
        return
    execute_statements(upsert_statements(model, names, rows, conflict=conflict, update=update))


def execute_statements(steps: Sequence[Step]) -> None:
    """Run statements that return nothing, and COPYs, in order. On PostgreSQL the statements between two COPYs go
    as one query string (one round trip; client-side binding sends it with the simple protocol, which runs several
    statements); on SQLite one by one."""
    if not steps:
        return
    if not connection.in_atomic_block and any(isinstance(s, CopyIn) and s.create for s in steps):
        # Staged rows must never outlive the statement that reads them (a failure between the two in autocommit
        # would leave them for the session's next user): the COPY and its reader commit or roll back together.
        with transaction.atomic():
            execute_statements(steps)
        return
    with connection.cursor() as cursor:
        batch: list[Statement] = []

        def flush() -> None:
            if not on_postgresql():
                for sql, params in batch:
                    cursor.execute(sql, params)
            elif batch:
                _query(batch).close()
            batch.clear()

        for step in steps:
            if isinstance(step, CopyIn):
                if step.create:
                    batch.append((step.create, []))
                flush()
                _run_copy(cursor.cursor, step)
            else:
                batch.append(step)
        flush()


def _run_copy(raw_cursor: Any, step: CopyIn) -> None:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(step.table)} ({', '.join(quote(c) for c in step.columns)}) FROM STDIN (FORMAT BINARY)"
    with connection.wrap_database_errors, raw_cursor.copy(sql) as copy:
        copy.set_types(list(step.types))
        for row in step.rows:
            copy.write_row(row)


def select_many(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run SELECTs and return each one's rows (unconverted). On PostgreSQL as one query string: one round trip,
    and each statement takes its own snapshot after the one before it finished (so a read after a
    ``SELECT ... FOR UPDATE`` sees what the lock holder committed)."""
    if not on_postgresql():
        with connection.cursor() as cursor:
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(list(cursor.fetchall()))
            return results
    with _query(statements) as cursor:
        results = []
        while True:
            results.append(list(cursor.fetchall()))
            if not cursor.nextset():
                return results


def select_prepared(sql: str, params: Sequence[Any], *, in_list_params: int | None = None) -> list[tuple[Any, ...]]:
    """Run one SELECT prepared by PostgreSQL once per connection (see :func:`_execute_prepared`), for the hottest
    reads. ``%s`` placeholders; a list parameter (at ``in_list_params``, with ``= ANY(%s)``) goes as one array.
    Rows unconverted. SQLite: an ordinary query, the list as ``IN (...)``."""
    if not on_postgresql():
        if in_list_params is not None:
            values = list(params)
            listed = list(values[in_list_params])
            sql = sql.replace("= ANY(%s)", f"IN ({', '.join(['%s'] * len(listed))})", 1)
            values[in_list_params : in_list_params + 1] = listed
            params = values
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return list(cursor.fetchall())
    if in_list_params is not None:
        placeholder, array = array_param(list(params[in_list_params]))
        sql = sql.replace("= ANY(%s)", f"= ANY({placeholder})", 1)
        params = [*params[:in_list_params], array, *params[in_list_params + 1 :]]
    return select_many([(sql, list(params))])[0]


# Statements prepared by the server (issue #16). A consent write's statements cost PostgreSQL more to parse and plan
# than to run (0.5 of its 0.75 ms for the lock-and-read round trip, measured): prepared once per connection with a
# generic plan (``core.dbbackend`` sets plan_cache_mode), each call then only runs. SQL-level PREPARE and EXECUTE go
# in the same query string as the rest (one round trip, client-side binding, the simple protocol that runs several
# statements), through a cursor of Django's connection with Django's checks, error wrapping and query log.
# psycopg's own protocol-level preparation stays off: on every rollback it deallocates all of a connection's
# statements, ours included.
PREPARED_PER_CONNECTION = 256
# Only statements of a small, fixed shape: a plan is kept for the life of the connection (a 64-row VALUES INSERT's
# generic plan holds over 1 MB), and the bulk paths' large batches go by COPY or arrays, whose texts do not vary.
PREPARED_MAX_PARAMETERS = 64
# A statement of ours missing on the server (26000: a DISCARD ALL or DEALLOCATE by someone else, or a pooler in
# transaction mode handing the transaction to another server session), one already there (42P05: the same), or a plan
# whose result type a migration changed (0A000): the connection's statements are forgotten and prepared anew.
_STATEMENT_LOST = frozenset({"26000", "42P05", "0A000"})
# After this many such losses in one process, a pooler is the likely cause: the process stops preparing (logged).
PREPARED_LOSSES_BEFORE_FALLBACK = 5
_PREPARABLE = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|VALUES)\b", re.IGNORECASE)
logger = logging.getLogger("core.db")


@dataclass
class _PreparedStatements:
    """What one database session has prepared: its name by statement text. Names carry a ``generation``, moved on
    whenever the session's statements are forgotten, so a name is never prepared twice."""

    names: dict[str, str]
    generation: int = 0


_sessions: weakref.WeakKeyDictionary[Any, _PreparedStatements] = weakref.WeakKeyDictionary()
_losses = 0  # statements found lost, in this process (see PREPARED_LOSSES_BEFORE_FALLBACK)


@lru_cache(maxsize=2048)
def _server_form(sql: str) -> tuple[str, int] | None:
    """``sql`` with ``$n`` placeholders and their count; None for a statement not to prepare (DDL, which PREPARE
    cannot take, or more than ``PREPARED_MAX_PARAMETERS`` parameters)."""
    if not _PREPARABLE.match(sql):
        return None
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%"
        count += 1
        return f"${count}"

    text = re.sub(r"%%|%s", number, sql)
    return (text, count) if count <= PREPARED_MAX_PARAMETERS else None


def prepared_statements_enabled(wrapper: BaseDatabaseWrapper | None = None) -> bool:
    """Statements are prepared on PostgreSQL, on connections that are kept (``DATABASE_CONN_MAX_AGE`` > 0), unless
    PROVENANT_DB_PREPARED_STATEMENTS is false (a pooler in transaction mode, which hands each transaction to any
    server session) or this process found its statements lost too often (see ``PREPARED_LOSSES_BEFORE_FALLBACK``)."""
    return (
        on_postgresql()
        and bool(settings.PROVENANT_DB_PREPARED_STATEMENTS)
        and _losses < PREPARED_LOSSES_BEFORE_FALLBACK
        and (wrapper or connections[DEFAULT_DB_ALIAS]).settings_dict.get("CONN_MAX_AGE") != 0
    )


def executed_statements(logged: str) -> str:
    """A query as Django logs it, with each ``EXECUTE`` of a statement this connection prepared shown as the statement
    it runs: for reading a debug log or a test's captured queries."""
    session = _sessions.get(connection.connection) if connection.connection is not None else None
    texts = {name: text for text, name in (session.names.items() if session else ())}
    return re.sub(r"EXECUTE (pvn_\w+)", lambda m: texts.get(m.group(1), m.group(0)), logged)


def _logged_execute(
    wrapper: BaseDatabaseWrapper, cursor: psycopg.ClientCursor[Any], sql: str, values: list[Any] | None
) -> None:
    """``cursor.execute`` with Django's error wrapping, and logged where Django logs queries (tests, DEBUG)."""
    started = time.monotonic()
    try:
        with wrapper.wrap_database_errors:
            cursor.execute(sql, values)
    finally:
        if wrapper.queries_logged:
            query = cursor._query.query if cursor._query is not None else None
            wrapper.queries_log.append(
                {
                    "sql": bytes(query or sql.encode()).decode(errors="replace"),
                    "time": f"{time.monotonic() - started:.3f}",
                }
            )


def statement_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (a Django database error) says a prepared statement of ours was lost (see ``_STATEMENT_LOST``):
    the connection's statements are then forgotten, and running the work again prepares them anew."""
    return getattr(exc.__cause__, "sqlstate", None) in _STATEMENT_LOST


def _query(statements: Sequence[Statement]) -> psycopg.ClientCursor[Any]:
    """Send ``statements`` (PostgreSQL) as one query string and return the cursor holding their results: each as
    ``EXECUTE`` of the statement the session prepared for its text (the first time, a query of their ``PREPARE``
    statements goes before, in the same transaction); as itself when it is not to be prepared, when preparing is off,
    or past ``PREPARED_PER_CONNECTION`` texts. Outside a transaction a query that found its statements lost is sent
    again once (prepared anew); inside one the error goes to the caller, whose transaction is spoilt
    (``consent.services.appending.atomic_with_retries`` runs it again)."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # once: each ``connection.x`` is a per-thread lookup
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    wrapper.validate_no_broken_transaction()
    try:
        return _send(wrapper, statements)
    except DatabaseError as exc:
        if not statement_lost(exc) or wrapper.in_atomic_block:
            raise
    return _send(wrapper, statements)


def _send(wrapper: BaseDatabaseWrapper, statements: Sequence[Statement]) -> psycopg.ClientCursor[Any]:
    global _losses
    raw = wrapper.connection
    parts: list[str] = []
    values: list[Any] = []
    preparing: dict[str, str] = {}  # statement text: its name
    prepares: list[str] = []
    session = None
    if not prepared_statements_enabled(wrapper):
        parts = [sql for sql, _ in statements]
        values = [p for _, ps in statements for p in ps]
    else:
        session = _sessions.get(raw)
        if session is None:
            session = _sessions.setdefault(raw, _PreparedStatements(names={}))
        for sql, params in statements:
            name = session.names.get(sql) or preparing.get(sql)
            form = None if name else _server_form(sql)
            if not name and (form is None or len(session.names) + len(preparing) >= PREPARED_PER_CONNECTION):
                parts.append(sql)
                values.extend(params)
                continue
            if not name:
                assert form is not None
                if form[1] != len(params):
                    raise ValueError(f"{len(params)} parameters for {form[1]} placeholders")
                name = f"pvn_{session.generation}_{hashlib.blake2s(sql.encode(), digest_size=10).hexdigest()}"
                preparing[sql] = name
                prepares.append(f"PREPARE {name} AS {form[0]}")
            parts.append(f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}")
            values.extend(params)
    cursor = psycopg.ClientCursor(raw)
    try:
        if session is not None and preparing:
            # Alone, the first time on this connection: PostgreSQL keeps the text of the query that prepared a
            # statement for as long as it lives, and that text should not be one call's values.
            try:
                _logged_execute(wrapper, cursor, "; ".join(prepares), None)  # no parameters: the text as it is
            except BaseException:
                session.generation += 1  # some of them may exist now: never prepare those names again
                raise
            session.names.update(preparing)  # they exist now, whatever happens to the query after
        _logged_execute(wrapper, cursor, "; ".join(parts), values)
    except Exception as exc:
        cursor.close()
        if session is not None and statement_lost(exc):
            session.names.clear()
            session.generation += 1
            _losses += 1
            if _losses == PREPARED_LOSSES_BEFORE_FALLBACK:
                logger.error(
                    "prepared statements lost %d times in this process: no longer preparing them. Behind a pooler "
                    "in transaction mode set PROVENANT_DB_PREPARED_STATEMENTS=false",
                    _losses,
                )
        raise
    return cursor


def convert_rows(rows: Sequence[Sequence[Any]], fields: Sequence[Any]) -> list[list[Any]]:
    """Convert each column as the ORM would (``None`` in ``fields``: as returned)."""
    plan = [_converters(field) if field is not None else [] for field in fields]
    converted = []
    for row in rows:
        values = list(row)
        for index, steps in enumerate(plan):
            for converter, column in steps:
                values[index] = converter(values[index], column, connection)
        converted.append(values)
    return converted


@lru_cache(maxsize=512)
def _converters(field: models.Field) -> list[Any]:
    column = field.get_col(field.model._meta.db_table)
    converters = list(connection.ops.get_db_converters(column))
    if hasattr(field, "from_db_value"):
        converters.append(field.from_db_value)
    return [(converter, column) for converter in converters]


def select_rows(sql: str, params: Sequence[Any], fields: Sequence[Any]) -> list[list[Any]]:
    """Run a SELECT and convert each column as the ORM would (``None`` in ``fields``: as returned)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return convert_rows(rows, fields)


@contextmanager
def read_snapshot() -> Iterator[None]:
    """Every query in the block sees the same committed state: on PostgreSQL a read-only REPEATABLE READ transaction,
    for reads that compare tables written meanwhile (a ledger verification: tips, events, leaves and states recorded
    between two of its reads must never look like a break). Inside a transaction already (a caller's, or a test's),
    that transaction's view is used; elsewhere (SQLite: one writer at a time) the block runs as it is."""
    if not on_postgresql() or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def prefetched_rows(queryset: models.QuerySet[Any], *, chunk_size: int) -> Iterator[tuple[Any, ...]]:
    """The rows of a ``values_list`` queryset, the next chunk fetched by a thread while the caller works on this one.

    A server-side cursor hands rows over one fetch at a time, and the database computes each chunk only when asked,
    so a caller that does real work per row waits for the database and the database waits for it. Fetching ahead
    overlaps the two (two cores: the database's and ours). PostgreSQL inside a transaction (the thread's cursor then
    reads in the caller's snapshot, on the caller's connection, which psycopg serializes); elsewhere the queryset's
    own iterator. Only for querysets whose columns need no conversion from the database (ints, text, bools, uuids).
    """
    if not on_postgresql() or not connection.in_atomic_block:
        yield from queryset.iterator(chunk_size=chunk_size)
        return
    sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    raw = connection.connection
    chunks: queue.Queue[list[tuple[Any, ...]] | BaseException] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def offer(item: list[tuple[Any, ...]] | BaseException) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def fetch() -> None:
        try:
            with raw.cursor(name=f"prefetch_{secrets.token_hex(8)}") as cursor:
                cursor.execute(sql, params)
                while not stop.is_set():
                    rows = cursor.fetchmany(chunk_size)
                    offer(rows)
                    if not rows:
                        return
        except BaseException as exc:  # handed to the caller, never lost
            offer(exc)

    fetcher = threading.Thread(target=fetch, name="prefetched-rows", daemon=True)
    fetcher.start()
    try:
        while True:
            item = chunks.get()
            if isinstance(item, BaseException):
                with connection.wrap_database_errors:  # psycopg's errors as Django's, as any query raises them
                    raise item
            if not item:
                return
            yield from item
    finally:
        stop.set()
        fetcher.join()
