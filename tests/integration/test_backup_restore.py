"""Backups and restore (README "Backups and restore"): a pg_dump of the database, restored into a fresh database,
is only whole together with the keys escrowed beside it. With the same PROVENANT_MASTER_KEY and
PROVENANT_BLIND_INDEX_KEY the restored ledger verifies, a sealed email opens and is found by its blind index,
and the organization's signing key (sealed under the master key) signs; with another master key nothing opens."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from consent import services as consent_services
from consent.models import Purpose, Source
from core.models import Organization
from tests.conftest import event_input
from tests.integration.conftest import test_database_url as database_url

ROOT = Path(__file__).resolve().parents[2]
EMAILS = {"cust-1": "ada@example.org", "cust-2": "grace@example.org"}

# Runs in the restored database, as a fresh deployment would after a restore.
_CHECK_RESTORED = """
import json, django
django.setup()
from consent.models import Subject
from consent.subject_ids import email_index
from consent.subject_keys import subject_key_owner
from core.crypto import unseal, unwrap_data_key
from provenance.services.keys import active_signing_key
result = {}
organization = Subject.objects.select_related("organization").first().organization
for subject in Subject.objects.order_by("external_id"):
    try:
        data_key = unwrap_data_key(subject.wrapped_data_key, owner=subject_key_owner(subject.uuid))
        email = unseal(data_key, subject.email_sealed, context=f"email:{subject.uuid}")
    except Exception as error:
        result[subject.external_id] = {"error": type(error).__name__}
        continue
    found = Subject.objects.filter(email_index=email_index(subject.organization_id, email)).values_list(
        "external_id", flat=True
    )
    result[subject.external_id] = {"email": email, "found_by_index": list(found)}
try:
    key = active_signing_key(organization=organization)
    result["signature_length"] = len(key.private_key.sign(b"restored"))
except Exception as error:
    result["signing"] = type(error).__name__
print(json.dumps(result))
"""


def _admin_connection() -> psycopg.Connection[Any]:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings.get("HOST") or "127.0.0.1",
        port=settings.get("PORT") or 5432,
        dbname="postgres",
        user=settings["USER"],
        password=settings.get("PASSWORD") or None,
        autocommit=True,
    )


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database on the shared server, dropped after the test: the restore's target."""
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url().rsplit("/", 1)[0] + f"/{name}"
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(command: list[str], **environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONPATH": str(ROOT), **environment}
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_restores_whole_with_its_escrowed_keys(
    organization: Organization, source: Source, purpose: Purpose, fresh_database: str, tmp_path: Path
) -> None:
    start = timezone.now() - timedelta(hours=2)
    for n, action in enumerate(["grant", "withdraw", "grant"]):
        for subject_id, email in EMAILS.items():
            consent_services.consent_record(
                organization=organization,
                item=event_input(
                    subject_id=subject_id, action=action, occurred_at=start + timedelta(minutes=n), subject_email=email
                ),
            )
    dump = tmp_path / "provenant.dump"

    # Back up: the README's command, against the test database.
    backup = _run(["pg_dump", "--format=custom", "--file", str(dump), "--dbname", database_url()])
    assert backup.returncode == 0, backup.stderr
    assert dump.stat().st_size > 0
    # Restore into a fresh database (the README's pg_restore).
    restore = _run(["pg_restore", "--exit-on-error", "--no-owner", "--dbname", fresh_database, str(dump)])
    assert restore.returncode == 0, restore.stderr

    # The same keys (this process's PROVENANT_* environment): the restored ledger verifies...
    verified = _run(
        [sys.executable, "manage.py", "verify_ledger", "--organization", organization.slug, "--json"],
        DATABASE_URL=fresh_database,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["valid"] is True
    assert (report["events_checked"], report["subjects_checked"]) == (6, 2)

    # ...every sealed email opens, is found again through its blind index, and the signing key signs.
    opened = _run([sys.executable, "-c", _CHECK_RESTORED], DATABASE_URL=fresh_database)
    assert opened.returncode == 0, opened.stderr
    assert json.loads(opened.stdout) == {
        "cust-1": {"email": "ada@example.org", "found_by_index": ["cust-1"]},
        "cust-2": {"email": "grace@example.org", "found_by_index": ["cust-2"]},
        "signature_length": 64,
    }

    # Without the escrowed master key the dump is hash chains and ciphertext: nothing personal opens, and no
    # stamp can be signed.
    other_key = base64.b64encode(os.urandom(32)).decode()
    locked_out = _run(
        [sys.executable, "-c", _CHECK_RESTORED], DATABASE_URL=fresh_database, PROVENANT_MASTER_KEY=other_key
    )
    assert locked_out.returncode == 0, locked_out.stderr
    locked = json.loads(locked_out.stdout)
    assert all("email" not in locked[subject_id] for subject_id in EMAILS)
    assert all(locked[subject_id].get("error") for subject_id in EMAILS)
    assert locked["signing"] == "SigningKeyUnavailable"
