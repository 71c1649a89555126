"""On SQLite (make run) a subject's chain tip only grows too (security audit item 1)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_refuses_to_shorten_or_rewrite_a_chain_tip(tmp_path: Path) -> None:
    database = tmp_path / "provenant.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": f"sqlite:///{database}",
        "PROVENANT_VAR_DIR": str(tmp_path / "var"),
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    connection = sqlite3.connect(database)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(consent_subject)") if row[1] != "id"]
    values = {name: 0 for name in columns} | {"ledger_length": 2, "ledger_head_hash": "b" * 64}
    connection.execute(
        f"INSERT INTO consent_subject ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
        list(values.values()),
    )
    for statement in (
        "UPDATE consent_subject SET ledger_length = 0, ledger_head_hash = '0'",
        "UPDATE consent_subject SET ledger_head_hash = 'c'",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="only grow"):
            connection.execute(statement)
    connection.execute("UPDATE consent_subject SET ledger_length = 3, ledger_head_hash = 'd'")  # growing is fine
    assert connection.execute("SELECT ledger_length, ledger_head_hash FROM consent_subject").fetchall() == [(3, "d")]
    connection.close()
