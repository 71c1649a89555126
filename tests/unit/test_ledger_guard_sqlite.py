"""On SQLite (make run) the ledger stays append-only after every migration, including ones that make
SQLite rebuild the events table (which silently drops its triggers)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_migrating_a_fresh_sqlite_database_leaves_the_ledger_append_only(tmp_path: Path) -> None:
    # Given a fresh SQLite database migrated the way `make run` does it
    database = tmp_path / "provenant.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"sqlite:///{database}",
        "PROVENANT_VAR_DIR": str(tmp_path / "var"),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    # When a row exists (foreign keys are off on a raw sqlite3 connection) and someone changes it
    connection = sqlite3.connect(database)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(consent_consentevent)") if row[1] != "id"]
    values = {name: 0 for name in columns} | {"event_id": "01TEST", "action": "grant", "hash": "h", "prev_hash": "p"}
    connection.execute(
        f"INSERT INTO consent_consentevent ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
        list(values.values()),
    )
    triggers = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}

    # Then the triggers are in place and refuse both UPDATE and DELETE
    assert {"consent_event_no_update", "consent_event_no_delete"} <= triggers
    for statement in ("UPDATE consent_consentevent SET action = 'withdraw'", "DELETE FROM consent_consentevent"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute(statement)
    assert connection.execute("SELECT action FROM consent_consentevent").fetchall() == [("grant",)]
    connection.close()
