"""Dropping single-column indexes of large tables in a migration (issue #16; 0019, 0022, 0023): ``CONCURRENTLY`` on
PostgreSQL, so writes go on (the migration must be ``atomic = False``), and re-created the same way when reversed.
Django loads no module of a migrations package whose name starts with ``_`` as a migration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# (table, index name, columns as CREATE INDEX takes them)
Dropped = Sequence[tuple[str, str, str]]
RunPythonCode = Callable[[Any, Any], None]


def index_drops(dropped: Dropped) -> tuple[RunPythonCode, RunPythonCode]:
    """The forward and backward functions of a ``RunPython`` that drops ``dropped`` (an index with an operator class
    such as ``varchar_pattern_ops`` exists on PostgreSQL only, and is re-created there only)."""

    def drop(apps: Any, schema_editor: Any) -> None:
        concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
        for _, name, _ in dropped:
            schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")

    def create(apps: Any, schema_editor: Any) -> None:
        postgresql = schema_editor.connection.vendor == "postgresql"
        for table, name, columns in dropped:
            if not postgresql and "_pattern_ops" in columns:
                continue
            concurrently = "CONCURRENTLY " if postgresql else ""
            schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON {table} {columns}")

    return drop, create
