"""Django's PostgreSQL backend, with a health check that needs no query (issue #16).

Django's check (``CONN_HEALTH_CHECKS``) sends ``SELECT 1`` before the first query of every request: a round
trip and a transaction per request. Here the check looks at the connection instead: psycopg knows a connection
that failed, and an idle connection with bytes waiting to be read has been spoken to by a server that went
away (a PostgreSQL restart or a terminated backend sends its FATAL notice and closes the socket), since
nothing else arrives on an idle connection of ours (no LISTEN). Either way the connection is closed and the
request opens a new one, as after a failed ``SELECT 1``. A server that vanished without a word (a cut network)
is found by the request's first query instead, which fails with 503; Django then drops the connection
(``errors_occurred``), and the next request connects again.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
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
