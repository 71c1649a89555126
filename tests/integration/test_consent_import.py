"""Issue #17: an import SIGKILLed mid-file resumes where it stopped and records nothing twice; an upload through
``POST /api/v1/imports`` is imported by a real Celery worker, with its progress and report."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services
from consent.enums import SourceKind
from consent.models import ConsentEvent, ConsentImport
from core.models import Organization
from core.problems import problem_type
from tests.integration import conftest as integration
from tests.integration.conftest import ROOT, CeleryWorker, wait_until

HEADER = ["subject_id", "purpose", "action", "occurred_at", "source", "collection_method", "jurisdiction"]


def catalog(organization: Organization) -> None:
    services.source_create(
        organization=organization, actor="test", key="crm-export", name="CRM", kind=SourceKind.IMPORT
    )
    services.purpose_create(organization=organization, actor="test", key="newsletter", name="Newsletter")


def history_csv(path: Path, rows: int, *, subjects: int, bad_every: int = 0) -> list[list[str]]:
    start = timezone.now() - timedelta(days=200)
    written = []
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for n in range(rows):
            purpose = "unknown" if bad_every and n % bad_every == bad_every - 1 else "newsletter"
            occurred = (start + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
            row = [f"sub-{n % subjects}", purpose, "grant" if n % 3 else "withdraw", occurred, "crm-export"]
            row += ["api_import", "DE"]
            writer.writerow(row)
            written.append(row)
    return written


def import_command(path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "manage.py",
        "import_consents",
        str(path),
        "--organization",
        "acme",
        "--no-progress",
        *extra,
    ]


def command_env() -> dict[str, str]:
    return {
        **os.environ,  # the test master keys, which the command must share
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": integration.test_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_mid_file_resumes_and_records_every_row_once(
    organization: Organization, tmp_path: Path
) -> None:
    catalog(organization)
    path = tmp_path / "history.csv"
    rows = history_csv(path, 300, subjects=30)
    last_line = len(rows) + 1

    first = subprocess.Popen(import_command(path, "--batch-rows", "10", "--workers", "1"), cwd=ROOT, env=command_env())
    try:
        done = wait_until(
            lambda: (
                (job := ConsentImport.objects.filter(organization=organization).first())
                and job.lines_done >= 31
                and job.lines_done
            ),
            timeout=120,
            interval=0.05,
        )
    finally:
        first.kill()  # SIGKILL: no cleanup, no last batch committed
        first.wait(timeout=30)
    killed_at = ConsentImport.objects.get(organization=organization).lines_done
    assert done <= killed_at < last_line, "the import finished before it could be killed"
    assert ConsentEvent.objects.count() < len(rows)

    second = subprocess.run(
        import_command(path, "--batch-rows", "200"), cwd=ROOT, env=command_env(), capture_output=True, text=True
    )

    assert second.returncode == 0, second.stderr
    assert f"resuming after line {killed_at}" in second.stdout
    job = ConsentImport.objects.get(organization=organization)
    assert (job.status, job.rows_read, job.rows_recorded, job.rows_rejected) == ("done", 300, 300, 0)
    recorded = sorted(
        (e.subject.external_id, e.occurred_at.isoformat().replace("+00:00", "Z"))
        for e in ConsentEvent.objects.select_related("subject")
    )
    assert recorded == sorted((row[0], row[3]) for row in rows)  # every row once, none twice
    assert services.ledger_integrity_check(organization=organization, actor="test").is_valid


@pytest.mark.django_db(transaction=True)
def test_a_parallel_import_killed_mid_file_stops_whole_and_resumes_every_partition(
    organization: Organization, tmp_path: Path
) -> None:
    """Given the command importing in two processes (a partition of the subjects each), when it is SIGKILLed, then
    its partitions die with it (nothing more is recorded), and a rerun (asking for another number of workers) resumes
    each partition where it stopped: every row once, each subject's chain in file order, the ledger valid."""
    catalog(organization)
    path = tmp_path / "history.csv"
    rows = history_csv(path, 600, subjects=40)

    first = subprocess.Popen(import_command(path, "--batch-rows", "10", "--workers", "2"), cwd=ROOT, env=command_env())
    try:
        wait_until(
            lambda: ConsentEvent.objects.filter(organization=organization).count() >= 60, timeout=120, interval=0.05
        )
    finally:
        first.kill()
        first.wait(timeout=30)
    settled = wait_until(lambda: _still(organization), timeout=30, interval=0.3)
    job = ConsentImport.objects.get(organization=organization)
    assert job.partitions == 2
    assert 60 <= settled < len(rows), "the import finished before it could be killed"
    assert job.status == "running"  # stopped, not finished: nothing marked it done or failed

    second = subprocess.run(
        import_command(path, "--batch-rows", "50", "--workers", "3"),
        cwd=ROOT,
        env=command_env(),
        capture_output=True,
        text=True,
    )

    assert second.returncode == 0, second.stderr
    assert "resumed in the 2 partition(s) it began in" in second.stdout
    job.refresh_from_db()
    assert (job.status, job.rows_read, job.rows_recorded, job.rows_rejected) == ("done", 600, 600, 0)
    chains: dict[str, list[str]] = {}
    for event in ConsentEvent.objects.select_related("subject").order_by("subject__external_id", "chain_index"):
        chains.setdefault(event.subject.external_id, []).append(event.occurred_at.isoformat().replace("+00:00", "Z"))
    in_file: dict[str, list[str]] = {}
    for row in rows:
        in_file.setdefault(row[0], []).append(row[3])
    assert chains == in_file  # every row once, each subject's events in file order
    assert services.ledger_integrity_check(organization=organization, actor="test").is_valid


@pytest.mark.django_db(transaction=True)
def test_a_partition_process_that_dies_stops_the_import_and_the_rerun_resumes_it(
    organization: Organization, tmp_path: Path
) -> None:
    """Given the command importing in two processes, when one of them is killed (as the OOM killer would), then the
    command stops with an error naming what to do (it does not wait forever), and running it again imports every
    row once."""
    catalog(organization)
    path = tmp_path / "history.csv"
    rows = history_csv(path, 600, subjects=40)
    first = subprocess.Popen(
        import_command(path, "--batch-rows", "10", "--workers", "2"),
        cwd=ROOT,
        env=command_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: ConsentEvent.objects.filter(organization=organization).count() >= 40, timeout=120, interval=0.05
        )
        partitions = _children(first.pid)
        assert len(partitions) == 2
        os.kill(partitions[0], signal.SIGKILL)
        _, errors = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode != 0
    assert "run the same command again to resume" in errors
    assert ConsentImport.objects.get(organization=organization).status == "running"

    second = subprocess.run(
        import_command(path, "--batch-rows", "50"), cwd=ROOT, env=command_env(), capture_output=True, text=True
    )

    assert second.returncode == 0, second.stderr
    job = ConsentImport.objects.get(organization=organization)
    assert (job.status, job.rows_read, job.rows_recorded) == ("done", 600, 600)
    assert ConsentEvent.objects.filter(organization=organization).count() == len(rows)
    assert services.ledger_integrity_check(organization=organization, actor="test").is_valid


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return sorted(found)


def _still(organization: Organization) -> int | None:
    """The number of events if it has not changed for a second (every process of the import is gone), else None."""
    before = ConsentEvent.objects.filter(organization=organization).count()
    time.sleep(1)
    after = ConsentEvent.objects.filter(organization=organization).count()
    return after if after == before else None


@pytest.mark.django_db(transaction=True)
def test_a_worker_imports_an_uploaded_file_with_progress_and_report(
    organization: Organization,
    api_client_for: Callable[..., APIClient],
    celery_worker: CeleryWorker,
    tmp_path: Path,
    settings: Any,
) -> None:
    catalog(organization)
    history_csv(tmp_path / "h.csv", 40, subjects=8, bad_every=10)
    content = (tmp_path / "h.csv").read_bytes()
    client = api_client_for(organization, "consent:read", "consent:write")

    response = client.post("/api/v1/imports", content, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="first-load")
    assert response.status_code == 202, response.content
    location = response["Location"]
    done = wait_until(lambda: (body := client.get(location).json())["status"] == "done" and body, timeout=90)
    report = client.get(f"{location}/report").json()

    assert {k: done[k] for k in ("rows_read", "rows_recorded", "rows_rejected")} == {
        "rows_read": 40,
        "rows_recorded": 36,
        "rows_rejected": 4,
    }
    assert [(r["line"], r["pointer"], r["type"]) for r in report["results"]] == [
        (line, "/purpose", problem_type("validation-error")) for line in (11, 21, 31, 41)
    ]
    assert ConsentEvent.objects.filter(organization=organization).count() == 36
    assert ConsentImport.objects.get(public_id=done["id"]).content_sealed == ""
