"""``COPY`` for the bulk write paths (issue #16): rows streamed to PostgreSQL through psycopg's C copy writer.

A multi-row ``INSERT ... SELECT FROM unnest(array, ...)`` spends more client CPU building the array parameters
(a Python loop and a regular expression per element) than the database spends storing the rows; ``COPY`` sends
each row as it is. ``COPY`` returns nothing, so the rows' ids are drawn from the table's identity sequence first
(one statement), which also gives the caller its sequence numbers in order. Elsewhere than PostgreSQL (SQLite in
a developer's shell) the rows go through :func:`core.db.insert_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar, cast

from django.db import connection, models
from django.db.models.base import ModelState

from core.db import insert_rows, upsert_rows

M = TypeVar("M", bound=models.Model)

# From this many rows a write goes through COPY; below, a plain INSERT (one round trip fewer).
COPY_MIN_ROWS = 50


@lru_cache(maxsize=64)
def _copy_statement(model: type[models.Model], names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    columns = [cast(str, cast(models.Field, model._meta.get_field(name)).column) for name in names]
    return f"COPY {quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"


@lru_cache(maxsize=64)
def _json_columns(model: type[models.Model], names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(i for i, name in enumerate(names) if isinstance(model._meta.get_field(name), models.JSONField))


def loaded_instance(
    model: type[M], names: Sequence[str], values: Sequence[Any], *, related: dict[str, Any] | None = None
) -> M:
    """An instance of ``model`` as if loaded from the database: ``names`` (attnames, every concrete field) set
    straight into its ``__dict__`` and ``related`` objects into its cache, without ``Model.__init__``, whose
    descriptor per field costs more than the row's share of the batch's SQL. No ``pre_init``/``post_init``
    signal is sent (no model written here has a receiver)."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = ModelState()
    state.adding = False
    state.db = connection.alias
    if related:
        state.fields_cache = dict(related)
    instance._state = state
    return instance


def next_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's identity sequence, ascending (PostgreSQL)."""
    if count <= 0:
        return []
    table = model._meta.db_table
    pk = cast(str, model._meta.pk.column)  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":  # SQLite: one writer at a time
            cursor.execute(f"SELECT coalesce(max({pk}), 0) FROM {table}")  # noqa: S608 (names from the model)
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count])
        return sorted(row[0] for row in cursor.fetchall())


def copy_rows(model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write ``rows`` (tuples in ``names`` order, the primary key among them when the caller drew it with
    :func:`next_ids`) with ``COPY ... FROM STDIN``, in the caller's transaction."""
    if not rows:
        return
    key = tuple(names)
    if connection.vendor != "postgresql":
        insert_rows(model, key, rows)
        return
    import json

    json_columns = _json_columns(model, key)
    statement = _copy_statement(model, key)
    with connection.cursor() as wrapper, connection.wrap_database_errors:
        raw = wrapper.cursor  # psycopg's cursor: Django's wrapper has no copy()
        with raw.copy(statement) as copy:
            for row in rows:
                if json_columns:
                    row = [json.dumps(v) if i in json_columns and v is not None else v for i, v in enumerate(row)]
                copy.write_row(row)


@lru_cache(maxsize=64)
def _staging(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, str, str]:
    """The staging table's name, its CREATE statement and the column list, for ``model`` and ``names``."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(cast(str, cast(models.Field, model._meta.get_field(name)).column)) for name in names)
    stage = f"stage_{model._meta.db_table}_{len(names)}"
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(stage)} ON COMMIT DELETE ROWS AS "  # noqa: S608
        f"SELECT {columns} FROM {quote(model._meta.db_table)} WITH NO DATA"
    )
    return stage, create, columns


def copy_upsert(
    model: type[models.Model],
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
) -> None:
    """:func:`core.db.upsert_rows` through ``COPY`` (no ``update``: rows that collide are left out, as
    ``insert_rows(..., skip_conflicts=True)``): the rows go into a session-local staging table (emptied at
    commit), then one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` moves them (and empties it)."""
    if not rows:
        return
    key = tuple(names)
    if connection.vendor != "postgresql":
        if update:
            upsert_rows(model, key, rows, conflict=conflict, update=update)
        else:
            insert_rows(model, key, rows, skip_conflicts=True)
        return
    quote = connection.ops.quote_name
    stage, create, columns = _staging(model, key)
    conflict_sql = ", ".join(quote(cast(str, cast(models.Field, model._meta.get_field(n)).column)) for n in conflict)
    assignments = ", ".join(
        f"{quote(c)} = excluded.{quote(c)}"
        for c in (cast(str, cast(models.Field, model._meta.get_field(n)).column) for n in update)
    )
    with connection.cursor() as cursor:
        cursor.execute(create)
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {quote(stage)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"WITH moved AS (DELETE FROM {quote(stage)} RETURNING {columns}) "  # noqa: S608
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {columns} FROM moved "
            + (f"ON CONFLICT ({conflict_sql}) DO UPDATE SET {assignments}" if update else "ON CONFLICT DO NOTHING")
        )


def copy_update(model: type[models.Model], names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE existing rows from ``rows`` (``names[0]`` is the primary key, the rest the columns to set) through
    ``COPY`` into the staging table and one ``UPDATE ... FROM`` (PostgreSQL only)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    stage, create, columns = _staging(model, tuple(names))
    column_names = [cast(str, cast(models.Field, model._meta.get_field(n)).column) for n in names]
    key, *assigned = column_names
    assignments = ", ".join(f"{quote(c)} = moved.{quote(c)}" for c in assigned)
    with connection.cursor() as cursor:
        cursor.execute(create)
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {quote(stage)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"WITH moved AS (DELETE FROM {quote(stage)} RETURNING {columns}) "  # noqa: S608
            f"UPDATE {quote(model._meta.db_table)} AS target SET {assignments} FROM moved "
            f"WHERE target.{quote(key)} = moved.{quote(key)}"
        )
