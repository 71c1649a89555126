"""Multi-row INSERT and UPSERT for the ledger's hot path.

Django's ``bulk_create`` compiles an expression per value, which costs more than the database
work for the narrow rows of the ledger. These helpers write one parameterised multi-row statement
per chunk, with SQL built once per (model, columns). PostgreSQL and SQLite (>= 3.35) both accept
``INSERT ... ON CONFLICT ... DO UPDATE`` and ``RETURNING``.
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

CHUNK_ROWS = 1000


@lru_cache(maxsize=64)
def _columns(model: type[models.Model], names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[models.Field, ...]]:
    fields = tuple(cast(models.Field, model._meta.get_field(name)) for name in names)
    return tuple(cast(str, f.column) for f in fields), fields


def _prepared(fields: tuple[models.Field, ...], rows: Sequence[Sequence[Any]]) -> list[Any]:
    params: list[Any] = []
    if connection.vendor == "postgresql":
        for row in rows:
            params.extend(row)
    else:
        for row in rows:
            params.extend(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True))
    return params


def _rows_source(fields: tuple[models.Field, ...], rows: Sequence[Sequence[Any]]) -> tuple[str, list[Any]]:
    """``VALUES (...), (...)`` on SQLite; ``SELECT * FROM unnest(array, ...)`` on PostgreSQL, which keeps the
    statement and its parameter list small whatever the number of rows (and keeps row order)."""
    if connection.vendor == "postgresql":
        arrays = [
            [json.dumps(v) for v in column] if isinstance(f, models.JSONField) else list(column)
            for f, column in zip(fields, zip(*rows, strict=True), strict=True)
        ]
        casts = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        return f"SELECT * FROM unnest({casts})", arrays  # noqa: S608 (column types from the model)
    placeholder = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return f"VALUES {', '.join([placeholder] * len(rows))}", _prepared(fields, rows)


def in_list(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (...)`` as SQL and parameters; one array parameter on PostgreSQL."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


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
    columns, fields = _columns(model, tuple(names))
    table = connection.ops.quote_name(model._meta.db_table)
    column_sql = ", ".join(connection.ops.quote_name(c) for c in columns)
    returned: list[Any] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK_ROWS):
            source, params = _rows_source(fields, rows[start : start + CHUNK_ROWS])
            sql = f"INSERT INTO {table} ({column_sql}) {source}"
            if skip_conflicts:
                if source.startswith("SELECT") and connection.vendor == "sqlite":
                    sql += " WHERE true"
                sql += " ON CONFLICT DO NOTHING"
            if returning:
                sql += f" RETURNING {connection.ops.quote_name(returning)}"
            cursor.execute(sql, params)
            if returning:
                returned.extend(r[0] for r in cursor.fetchall())
    return returned


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
    columns, fields = _columns(model, tuple(names))
    conflict_columns, _ = _columns(model, tuple(conflict))
    update_columns, _ = _columns(model, tuple(update))
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update_columns)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK_ROWS):
            source, params = _rows_source(fields, rows[start : start + CHUNK_ROWS])
            # "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint of the SELECT.
            where = " WHERE true" if source.startswith("SELECT") and connection.vendor == "sqlite" else ""
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) {source}{where} "
                f"ON CONFLICT ({', '.join(quote(c) for c in conflict_columns)}) DO UPDATE SET {assignments}",
                params,
            )


@lru_cache(maxsize=512)
def _converters(field: models.Field) -> list[Any]:
    column = field.get_col(field.model._meta.db_table)
    converters = list(connection.ops.get_db_converters(column))
    if hasattr(field, "from_db_value"):
        converters.append(field.from_db_value)
    return [(converter, column) for converter in converters]


def select_rows(sql: str, params: Sequence[Any], fields: Sequence[Any]) -> list[list[Any]]:
    """Run a SELECT and convert each column as the ORM would (``None`` in ``fields``: as returned)."""
    plan = [_converters(field) if field is not None else [] for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converted = []
    for row in rows:
        values = list(row)
        for index, steps in enumerate(plan):
            for converter, column in steps:
                values[index] = converter(values[index], column, connection)
        converted.append(values)
    return converted


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
