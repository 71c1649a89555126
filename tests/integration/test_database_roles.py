"""The Docker stack's database roles, run for real on the local PostgreSQL (security audit item 1).

docker/postgres-init/app-role.psql is what the postgres container runs when its volume is created. Here it
runs against a throwaway database: migrations as the owner, then the application's role is shown to read
and write rows but unable to truncate the ledger, disable its triggers or drop them, with or without the
session setting the test runner uses."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "postgres-init" / "app-role.psql"


@dataclass
class Stack:
    host: str
    port: int
    database: str
    owner: str
    app_role: str
    password: str

    def connect(self, role: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host, port=self.port, dbname=self.database, user=role, password=self.password, autocommit=True
        )


def _admin(settings: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=settings.get("HOST") or "127.0.0.1",
        port=settings.get("PORT") or 5432,
        dbname="postgres",
        user=settings["USER"],
        password=settings.get("PASSWORD") or None,
        autocommit=True,
    )


@pytest.fixture
def stack() -> Iterator[Stack]:
    settings = connection.settings_dict
    suffix = uuid.uuid4().hex[:8]
    found = Stack(
        host=settings.get("HOST") or "127.0.0.1",
        port=int(settings.get("PORT") or 5432),
        database=f"provenant_roles_{suffix}",
        owner=f"provenant_owner_{suffix}",
        app_role=f"provenant_app_{suffix}",
        password=uuid.uuid4().hex,
    )
    with _admin(settings) as admin:
        admin.execute(f"CREATE ROLE {found.owner} LOGIN PASSWORD '{found.password}'")
        admin.execute(f"CREATE DATABASE {found.database} OWNER {found.owner}")
    try:
        env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
        subprocess.run(
            [
                "psql", "--quiet", "--no-psqlrc", "--set", "ON_ERROR_STOP=1",
                "--host", found.host, "--port", str(found.port), "--username", settings["USER"],
                "--dbname", found.database, "--set", f"owner={found.owner}", "--set", f"app_role={found.app_role}",
                "--set", f"app_password={found.password}", "--file", str(SCRIPT),
            ],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        owner_url = f"postgres://{found.owner}:{found.password}@{found.host}:{found.port}/{found.database}"
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": owner_url},
            check=True,
            capture_output=True,
        )
        yield found
    finally:
        with _admin(settings) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {found.database} WITH (FORCE)")
            for role in (found.app_role, found.owner):
                admin.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.mark.django_db
def test_the_application_role_writes_rows_but_cannot_touch_the_ledger_guard(stack: Stack) -> None:
    with stack.connect(stack.app_role) as app:
        app.execute("UPDATE core_organization SET name = name")  # writes rows: allowed
        privileges = app.execute(
            "SELECT has_table_privilege(current_user, 'consent_consentevent', 'INSERT'),"
            " has_table_privilege(current_user, 'consent_consentevent', 'SELECT'),"
            " has_table_privilege(current_user, 'consent_consentevent', 'TRUNCATE'),"
            " has_table_privilege(current_user, 'consent_consentevent', 'TRIGGER')"
        ).fetchone()
        assert privileges == (True, True, False, False)

        app.execute("SET provenant.allow_truncate = 'on'")
        for attack in (
            "TRUNCATE consent_consentevent CASCADE",
            "ALTER TABLE consent_consentevent DISABLE TRIGGER consent_event_append_only",
            "DROP TRIGGER consent_event_no_truncate ON consent_consentevent",
            "ALTER TABLE consent_subject DISABLE TRIGGER consent_subject_tip_grows",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(attack)

    with stack.connect(stack.owner) as owner:
        triggers = {
            row[0]
            for row in owner.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'O'"
            ).fetchall()
        }
        assert {"consent_event_append_only", "consent_event_no_truncate", "consent_subject_tip_grows"} <= triggers
        owning = owner.execute(
            "SELECT relowner::regrole::text FROM pg_class WHERE relname = 'consent_consentevent'"
        ).fetchone()
        assert owning == (stack.owner,)
