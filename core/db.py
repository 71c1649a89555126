"""Multi-row INSERT and UPSERT for the ledger's hot path.

Django's ``bulk_create`` compiles an expression per value, which costs more than the database
work for the narrow rows of the ledger. These helpers write one parameterised multi-row statement
per chunk, with SQL and column types worked out once per (model, columns) (issue #16), small batches as
plain ``VALUES`` rows, and can hand their statements to a caller that sends several in one round trip.
PostgreSQL and SQLite (>= 3.35) both accept ``INSERT ... ON CONFLICT ... DO UPDATE`` and ``RETURNING``.
"""

from __future__ import annotations

import json
import queue
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

from django.db import connection, models, transaction
from psycopg.types.json import Jsonb

CHUNK_ROWS = 1000
# Up to this many rows go as ``VALUES (...), (...)`` (psycopg adapts a scalar in a fraction of what an array
# element costs); more as one array per column through ``unnest`` (a short statement whatever the row count).
VALUES_ROWS = 64

Statement = tuple[str, list[Any]]


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
    if connection.vendor == "postgresql":
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
    if connection.vendor == "postgresql" and len(rows) > VALUES_ROWS:
        json_at = set(_json_positions(fields))
        arrays = [
            [json.dumps(v) for v in column] if i in json_at else list(column)
            for i, column in enumerate(zip(*rows, strict=True))
        ]
        return f"SELECT * FROM unnest({_array_casts(fields, connection.vendor)})", arrays  # noqa: S608 (types)
    return _values_sql(len(fields), len(rows)), _prepared(fields, rows)


def ensure_database() -> None:
    """Make sure this thread has a live database connection, without a query when it has one (the health
    check of ``core.dbbackend`` reads the connection's state): a request served without a query so far fails
    here, as a query would, when the database is down."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (...)`` as SQL and parameters; one array parameter on PostgreSQL."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


@lru_cache(maxsize=256)
def _insert_head(model: type[models.Model], names: tuple[str, ...]) -> str:
    columns, _ = _columns(model, names)
    quote = connection.ops.quote_name
    return f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "


def insert_statements(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: str | None = None,
    skip_conflicts: bool = False,
) -> list[Statement]:
    """The INSERT statements (one per chunk of rows) of :func:`insert_rows`, to run now or batched."""
    key = tuple(names)
    _, fields = _columns(model, key)
    head = _insert_head(model, key)
    statements: list[Statement] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        source, params = _rows_source(fields, rows[start : start + CHUNK_ROWS])
        sql = head + source
        if skip_conflicts:
            if source.startswith("SELECT") and connection.vendor == "sqlite":
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
    returned: list[Any] = []
    with connection.cursor() as cursor:
        for sql, params in insert_statements(model, names, rows, returning=returning, skip_conflicts=skip_conflicts):
            cursor.execute(sql, params)
            if returning:
                returned.extend(r[0] for r in cursor.fetchall())
    return returned


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
) -> list[Statement]:
    """The statements of :func:`upsert_rows`, to run now or batched."""
    key = tuple(names)
    _, fields = _columns(model, key)
    head = _insert_head(model, key)
    tail = _upsert_tail(model, tuple(conflict), tuple(update))
    statements: list[Statement] = []
    for start in range(0, len(rows), CHUNK_ROWS):
        source, params = _rows_source(fields, rows[start : start + CHUNK_ROWS])
        # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
        where = " WHERE true" if source.startswith("SELECT") and connection.vendor == "sqlite" else ""
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


def execute_statements(statements: Sequence[Statement]) -> None:
    """Run statements that return nothing, in order. On PostgreSQL small ones go as one query string (one round
    trip; client-side binding sends it with the simple protocol, which runs several statements); on SQLite, and
    when a statement is large, one by one."""
    if not statements:
        return
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(statements) == 1:
            for sql, params in statements:
                cursor.execute(sql, params)
            return
        sql = "; ".join(sql for sql, _ in statements)
        params = [p for _, statement_params in statements for p in statement_params]
        cursor.execute(sql, params)


def select_many(statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
    """Run SELECTs and return each one's rows (unconverted). On PostgreSQL as one query string: one round trip,
    and each statement takes its own snapshot after the one before it finished (so a read after a
    ``SELECT ... FOR UPDATE`` sees what the lock holder committed)."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(statements) == 1:
            results = []
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(list(cursor.fetchall()))
            return results
        cursor.execute("; ".join(sql for sql, _ in statements), [p for _, ps in statements for p in ps])
        results = [list(cursor.fetchall())]
        while cursor.nextset():
            results.append(list(cursor.fetchall()))
        return results


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
    if connection.vendor != "postgresql" or connection.in_atomic_block:
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
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
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
