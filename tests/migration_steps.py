"""Moving a test database to a given migration and back to the latest.

A migration test migrates the database back to the state before the migration it tests and forward to the state
after it; ``migrations_restored`` (tests/conftest.py) then brings the database back to every app's latest
migration, so the next test on the same worker sees the schema the models describe.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate to ``targets`` and return the historical apps of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
