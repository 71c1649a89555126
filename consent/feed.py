"""The ledger as a feed that readers tail exactly, on PostgreSQL.

Every consent event row carries ``recorded_xid``: the id (xid8, stored as bigint) of the transaction that
wrote it, set by a column default (``pg_current_xact_id()``), so the write path does nothing more; a BRIN
index finds the recent ones. A reader keeps the
snapshot (``pg_current_snapshot()``) of its last read as its position; the events new since then are those
visible now and not visible in that snapshot. That holds whatever order transactions commit in and however
long one stays open: no clock, no overlap window, nothing read twice. SQLite (the development database)
has no such column; readers there fall back to timestamps.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from consent.models import ConsentEvent

# recorded_xid is an xid8 stored as bigint (consent migration 0005); compared as xid8.
_NEW_SINCE = (
    "{column} IS NOT NULL AND {column} >= pg_snapshot_xmin(%s::pg_snapshot)::text::bigint "
    "AND NOT pg_visible_in_snapshot({column}::text::xid8, %s::pg_snapshot) "
    "AND pg_visible_in_snapshot({column}::text::xid8, %s::pg_snapshot)"
)


def feed_is_exact() -> bool:
    return connection.vendor == "postgresql"


def ledger_position() -> str:
    """The current position in the feed (a PostgreSQL snapshot, as text). PostgreSQL only."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text")
        return str(cursor.fetchone()[0])


def events_recorded_between(events: QuerySet[ConsentEvent], *, since: str, until: str) -> QuerySet[ConsentEvent]:
    """The events committed after position ``since`` and by position ``until`` (both from ``ledger_position``).

    Rows written before the column existed (``recorded_xid`` null) count as read."""
    column = f'"{ConsentEvent._meta.db_table}"."recorded_xid"'
    # The column name comes from the model; the snapshots are parameters.
    is_new = RawSQL(_NEW_SINCE.format(column=column), [since, since, until], output_field=BooleanField())  # noqa: S611
    return events.alias(is_new_in_feed=is_new).filter(is_new_in_feed=True)


def events_recorded_by(events: QuerySet[ConsentEvent], *, until: str) -> QuerySet[ConsentEvent]:
    """The events committed by position ``until`` (from ``ledger_position``): the feed's first window. Rows
    written before the column existed (``recorded_xid`` null) are in it."""
    column = f'"{ConsentEvent._meta.db_table}"."recorded_xid"'
    visible = RawSQL(  # noqa: S611  (the column name comes from the model; the snapshot is a parameter)
        f"{column} IS NULL OR pg_visible_in_snapshot({column}::text::xid8, %s::pg_snapshot)",
        [until],
        output_field=BooleanField(),
    )
    return events.alias(is_in_feed=visible).filter(is_in_feed=True)
