"""Django's PostgreSQL backend, with a health check that needs no query (issue #16).

Django's check (``CONN_HEALTH_CHECKS``) sends ``SELECT 1`` before the first query of every request: a round
trip and a transaction per request. Here the check looks at the connection instead: psycopg knows a connection
that failed, and an idle connection with bytes waiting to be read has been spoken to by a server that went
away (a PostgreSQL restart or a terminated backend sends its FATAL notice and closes the socket), since
nothing else arrives on an idle connection of ours (no LISTEN). Either way the connection is closed and the
request opens a new one, as after a failed ``SELECT 1``. A server that vanished without a word (a cut network)
is found by the request's first query instead, which fails with 503; Django then drops the connection
(``errors_occurred``), and the next request connects again.

It also reads ``timestamptz`` values five times faster: Django's loader parses each one in Python (psycopg's pure
Python parser under a subclass) and was a tenth of a bulk write's CPU; in the UTC session Django opens, PostgreSQL's
text form is ISO 8601, which ``datetime.fromisoformat`` parses in C. Anything else (another offset, infinity,
a year past 9999, BC) goes to Django's loader as before.
"""

from __future__ import annotations

import select
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.pq import TransactionStatus


class UtcTimestampLoader(BaseTzLoader):
    """Django's ``timestamptz`` loader for a UTC connection (``timezone`` is what Django compares per cursor), with
    the common case parsed by ``datetime.fromisoformat``."""

    timezone = UTC

    def load(self, data: Any) -> datetime:
        try:
            value = datetime.fromisoformat(bytes(data).decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return super().load(data)  # type: ignore[no-any-return]
        if value.tzinfo is not UTC:
            return super().load(data)  # type: ignore[no-any-return]
        return value


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if self.timezone is UTC or getattr(self.timezone, "key", None) == "UTC":
            connection.adapters.register_loader("timestamptz", UtcTimestampLoader)
        return connection

    def _configure_connection(self, connection: Any) -> bool:
        commit = bool(super()._configure_connection(connection))  # type: ignore[misc]
        if settings.PROVENANT_DB_PREPARED_STATEMENTS and self.settings_dict.get("CONN_MAX_AGE") != 0:
            # The statements ``core.db`` prepares (the write path's and the hottest reads) are key lookups written
            # to have one good plan whatever their parameters: planned once per connection, generically, instead of
            # on every call (0.3 ms of a consent write's lock-and-read round trip, measured). Django's own statements
            # are never prepared (psycopg's preparation stays off, as Django leaves it): unaffected.
            with connection.cursor() as cursor:
                cursor.execute("SET plan_cache_mode TO force_generic_plan")
            commit = True
        return commit

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status == TransactionStatus.INERROR:
            return False  # an aborted transaction: SELECT 1 would fail there too (Django then skips or closes it)
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
