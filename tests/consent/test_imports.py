"""Issue #17: importing consent history (``manage.py import_consents`` and ``POST /api/v1/imports``): the API's
rules and words for every row, hash chains equal to the API's, a report of the rows left out, nothing twice."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from consent import ledger, services
from consent.api.imports import parse_import_row
from consent.api.tasks import run_consent_import, sweep_consent_imports
from consent.enums import SourceKind
from consent.import_files import COLUMNS, FileRow, read_rows
from consent.models import ConsentEvent, ConsentImport, ConsentImportPartition, ConsentImportRejection, Subject
from consent.selectors.event_rows import canonical_columns, canonical_event
from core.enums import AuditAction
from core.models import AuditLogEntry, Organization
from core.problems import problem_type
from tests.conftest import event_body

HEADER = ["subject_id", "purpose", "action", "occurred_at", "source", "collection_method", "jurisdiction"]


def iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def history(count: int, *, subjects: int = 3) -> list[dict[str, Any]]:
    """``count`` events over a few subjects, oldest first: grants, withdrawals, evidence, a GPC flag."""
    start = timezone.now() - timedelta(days=400)
    rows = []
    for n in range(count):
        row: dict[str, Any] = event_body(
            subject_id=f"imp-{n % subjects}",
            action="withdraw" if n % 4 == 3 else "grant",
            occurred_at=iso(start + timedelta(hours=n)),
        )
        if n % 5 == 0:
            row["ip_address"] = f"192.0.2.{n % 250}"
            row["user_agent"] = "Mozilla/5.0"
        if n % 7 == 0:
            row["gpc"] = True
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = [c for c in COLUMNS if any(c in row for row in rows)]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: str(v).lower() if isinstance(v, bool) else v for k, v in row.items()})
    return path


def write_ndjson(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def api_item(row: dict[str, Any]) -> dict[str, Any]:
    """The body the API takes for a flat row (evidence nested)."""
    body = {k: v for k, v in row.items() if k not in ("ip_address", "user_agent")}
    evidence = {k: row[k] for k in ("ip_address", "user_agent") if k in row}
    if evidence:
        body["evidence"] = evidence
    return body


def run_import(path: Path, organization: Organization, *args: str) -> str:
    """The command in this process (one worker: the test's transaction is not visible to forked partitions; the
    partitioned runs are tested in ``tests/integration/test_consent_import.py`` and below, in one process)."""
    if "--workers" not in args:
        args = (*args, "--workers", "1")
    out = io.StringIO()
    call_command("import_consents", str(path), "--organization", organization.slug, "--no-progress", *args, stdout=out)
    return out.getvalue()


def chains(organization: Organization) -> dict[str, list[dict[str, Any]]]:
    """Every subject's events in chain order, in canonical form with their stored hashes, by external id."""
    annotations, columns = canonical_columns()
    rows = (
        ConsentEvent.objects.filter(organization=organization)
        .annotate(**annotations)
        .order_by("subject__external_id", "chain_index")
        .values_list("subject__external_id", *columns)
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for external_id, *row in rows:
        found.setdefault(external_id, []).append(canonical_event(tuple(row)))
    return found


@pytest.fixture
def catalog_of() -> Callable[[Organization], None]:
    def make(organization: Organization) -> None:
        services.source_create(
            organization=organization, actor="test", key="web-signup", name="Signup", kind=SourceKind.WEB_FORM
        )
        services.purpose_create(
            organization=organization, actor="test", key="marketing-email", name="Marketing email", validity="P1Y"
        )

    return make


def test_imported_chains_hash_exactly_as_the_api_chains_the_same_events(
    organization: Organization,
    other_organization: Organization,
    catalog_of: Callable[[Organization], None],
    api_client_for: Callable[..., APIClient],
    tmp_path: Path,
) -> None:
    """Given the same history imported into one organization and sent through the bulk API into another, when each
    API chain is re-hashed with only what must differ taken from the import (event ids, subject uuids, the time of
    recording, the sealed evidence: fresh per write), then every hash equals the imported one: every other field the
    hash covers (valid_until, policy version, lifts_gpc_opt_out, chain index, links) was derived the same way."""
    catalog_of(organization)
    catalog_of(other_organization)
    rows = history(24)
    run_import(write_csv(tmp_path / "history.csv", rows), organization)
    client = api_client_for(other_organization, "consent:write")
    response = client.post("/api/v1/consent-events/bulk", {"events": [api_item(r) for r in rows]}, format="json")
    assert response.status_code == 201, response.content

    imported, sent = chains(organization), chains(other_organization)

    assert sorted(imported) == sorted(sent) == ["imp-0", "imp-1", "imp-2"]
    for external_id, events in imported.items():
        assert len(events) == len(sent[external_id]) == 8
        previous = ledger.GENESIS_HASH
        for mine, theirs in zip(events, sent[external_id], strict=True):
            fields = {k: v for k, v in theirs.items() if k not in ("prev_hash", "hash")}
            fields.update({k: mine[k] for k in ("event_id", "subject", "recorded_at", "evidence_sealed")})
            rehashed = ledger.event_hash(fields, previous)
            assert rehashed == mine["hash"]
            assert mine["prev_hash"] == previous
            previous = mine["hash"]
    assert services.ledger_integrity_check(organization=organization, actor="test").is_valid


def test_bad_rows_are_reported_with_the_api_words_while_good_rows_go_in(
    organization: Organization,
    catalog_of: Callable[[Organization], None],
    client_rw: APIClient,
    tmp_path: Path,
) -> None:
    catalog_of(organization)
    good = history(4, subjects=1)
    bad = [
        {**good[0], "purpose": "no-such-purpose"},
        {**good[0], "action": "explode"},
        {**good[0], "occurred_at": iso(timezone.now() + timedelta(days=3))},
        {**good[0], "source": "nowhere"},
    ]
    rows = [good[0], bad[0], good[1], bad[1], good[2], bad[2], bad[3], good[3]]
    report = tmp_path / "report.csv"

    output = run_import(write_csv(tmp_path / "mixed.csv", rows), organization, "--report", str(report))

    assert "8 rows read, 4 recorded, 4 left out" in output
    assert ConsentEvent.objects.filter(organization=organization).count() == 4
    reported = list(csv.DictReader(report.read_text(encoding="utf-8").splitlines()))
    assert [int(r["line"]) for r in reported] == [3, 5, 7, 8]  # the header is line 1
    for row, line in zip(bad, [3, 5, 7, 8], strict=True):  # what the API answers for the same event
        answer = client_rw.post("/api/v1/consent-events", api_item(row), format="json").json()
        mine = [r for r in reported if int(r["line"]) == line]
        assert {(r["pointer"], r["type"], r["detail"]) for r in mine} == {
            (e["pointer"], answer["type"], e["detail"]) for e in answer["errors"]
        }
    assert ConsentEvent.objects.filter(organization=organization).count() == 4  # the API refused them too


def test_running_the_same_file_again_records_nothing_twice(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    catalog_of(organization)
    path = write_ndjson(tmp_path / "history.ndjson", history(10))
    run_import(path, organization, "--batch-rows", "3")

    again = run_import(path, organization)

    assert "imported already (10 rows read, 10 recorded, 0 left out)" in again
    assert ConsentEvent.objects.filter(organization=organization).count() == 10
    job = ConsentImport.objects.get(organization=organization)
    assert (job.status, job.lines_done, job.content_sealed) == ("done", 10, "")


def test_an_interrupted_import_resumes_after_its_last_committed_batch(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    """Given a run stopped after its first batch (what a SIGKILL leaves: the committed line), when the file is run
    again, then it continues from there and every row is recorded once (tests/integration kills a real process)."""
    catalog_of(organization)
    rows = history(9)
    path = write_csv(tmp_path / "history.csv", rows)
    job = services.consent_import_create(
        organization=organization, sha256=_sha256(path), file_format="csv", actor="test"
    ).job
    with path.open("rb") as stream:
        first_batch = [row for row in read_rows(stream, "csv") if row.line <= 4]
    services.consent_import_run(organization=organization, job=job, rows=first_batch, parse=parse_import_row)
    ConsentImport.objects.filter(pk=job.pk).update(status="running", finished_at=None)
    assert ConsentEvent.objects.count() == 3

    output = run_import(path, organization, "--batch-rows", "2")

    assert "resuming after line 4" in output
    assert ConsentEvent.objects.count() == 9
    assert sorted(ConsentEvent.objects.values_list("occurred_at", flat=True)) == sorted(
        datetime.fromisoformat(r["occurred_at"].replace("Z", "+00:00")) for r in rows
    )


def test_a_file_unreadable_midway_keeps_the_rows_before_and_leaves_no_reader_behind(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    """The file is read and parsed a few batches ahead by a thread: a byte it cannot decode late in the file stops
    the import there, in order (the batches before it recorded and committed), and the thread is gone."""
    catalog_of(organization)
    path = write_csv(tmp_path / "history.csv", history(300))
    path.write_bytes(path.read_bytes() + b"imp-0,marketing-email,grant,\xff\xfe,web-signup,web_form,DE\n")

    with pytest.raises(CommandError, match="the CSV cannot be read"):
        run_import(path, organization, "--batch-rows", "20")

    job = ConsentImport.objects.get(organization=organization)
    recorded = ConsentEvent.objects.filter(organization=organization).count()
    assert recorded >= 100  # the decoder fails on the block holding the bad byte, well past the first batches
    assert recorded == job.lines_done - 1 == job.rows_recorded  # every committed batch, nothing after the fault
    assert not [t for t in threading.enumerate() if t.name == "import-read-ahead"]


def test_a_subjects_rows_share_one_partition_whatever_form_its_id_takes() -> None:
    """A partition appends its subjects' events in file order: every row of a subject, under any form the API stores
    as the same id (NFC and NFD), falls in the same partition; rows without a subject id, by their line."""
    composed, decomposed = "caf\u00e9-7", "cafe\u0301-7"
    rows = [FileRow(n, {"subject_id": composed if n % 2 else decomposed}) for n in range(2, 40)]

    assert len({services.import_partition(row, 4) for row in rows}) == 1
    assert {services.import_partition(FileRow(n, {"subject_id": f"s-{n}"}), 2) for n in range(50)} == {0, 1}
    assert services.import_partition(FileRow(7, None, "bad row"), 3) == 7 % 3
    assert services.import_partition(FileRow(7, {"subject_id": "anyone"}), 1) == 0


@pytest.mark.parametrize("file_format", ["csv", "ndjson"])
def test_a_partitions_reader_yields_exactly_its_rows(tmp_path: Path, file_format: str) -> None:
    """Each partition's process reads the whole file and builds only its own rows' bodies: the rows it gets are the
    ones import_partition gives it, bad rows (placed by their line) included, and every row goes to one partition."""
    rows = history(300, subjects=37)
    rows[41]["subject_id"] = ""
    rows[50]["subject_id"] = "cafe\u0301-1"
    write = write_csv if file_format == "csv" else write_ndjson
    path = write(tmp_path / f"history.{file_format}", rows)
    text = path.read_text(encoding="utf-8").splitlines()
    first = 1 if file_format == "csv" else 0  # the header
    text[first + 17] = "only,two" if file_format == "csv" else "{not json"
    text[first + 40] = "1,2,3" if file_format == "csv" else "[1, 2]"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with path.open("rb") as stream:
        every = list(read_rows(stream, file_format))
    assert len(every) == 300
    assert [r.line for r in every if r.body is None] == [first + 18, first + 41]

    for count in (2, 3):
        seen: list[int] = []
        for number in range(count):
            with path.open("rb") as stream:
                own = list(read_rows(stream, file_format, partition=(number, count)))
            assert own == [r for r in every if services.import_partition(r, count) == number]
            seen += [r.line for r in own]
        assert sorted(seen) == [r.line for r in every]


def test_a_partitioned_import_resumes_each_partition_after_its_own_last_batch(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    """Given an import in two partitions of which one ran ahead (what a kill of the parallel command leaves), when it
    is run again in one process (the upload worker's way), then each partition continues after its own committed
    line: every row recorded once, each subject's chain in file order, the job done with every line counted."""
    catalog_of(organization)
    rows = history(40, subjects=6)
    path = write_csv(tmp_path / "history.csv", rows)
    job = services.consent_import_create(
        organization=organization, sha256=_sha256(path), file_format="csv", actor="test"
    ).job
    job = services.consent_import_prepare(job=job, partitions=2)
    run_partition(path, organization, job, 0, batch_rows=4)
    ahead = ConsentImportPartition.objects.get(consent_import=job, number=0).lines_done
    first = ConsentEvent.objects.filter(organization=organization).count()
    assert ahead == max(row.line for row in partitioned_rows(path, 0, 2))
    assert 0 < first < len(rows)
    assert ConsentImport.objects.get(pk=job.pk).lines_done == 0  # partition 1 has not begun

    with path.open("rb") as stream:
        progress = services.consent_import_run(
            organization=organization, job=job, rows=read_rows(stream, "csv"), parse=parse_import_row, batch_rows=4
        )

    job.refresh_from_db()
    assert progress.rows_recorded == len(rows) - first
    assert (job.status, job.rows_read, job.rows_recorded, job.rows_rejected) == ("done", 40, 40, 0)
    assert job.lines_done == 41
    for external_id, events in chains(organization).items():
        in_file = [r["occurred_at"] for r in rows if r["subject_id"] == external_id]
        assert [e["occurred_at"] for e in events] == in_file
    assert services.ledger_integrity_check(organization=organization, actor="test").is_valid


def run_partition(path: Path, organization: Organization, job: ConsentImport, number: int, *, batch_rows: int) -> None:
    """One partition of the CSV at ``path``, as a partition's process of the command runs it."""
    with path.open("rb") as stream:
        services.consent_import_run(
            organization=organization,
            job=job,
            rows=read_rows(stream, "csv"),
            parse=parse_import_row,
            batch_rows=batch_rows,
            partition=number,
        )


def partitioned_rows(path: Path, number: int, partitions: int) -> list[FileRow]:
    with path.open("rb") as stream:
        return [r for r in read_rows(stream, "csv") if services.import_partition(r, partitions) == number]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dry_run_applies_every_rule_and_keeps_nothing(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    catalog_of(organization)
    rows = [*history(3), {**history(1)[0], "jurisdiction": "XX-NOPE"}]
    report = tmp_path / "report.csv"

    output = run_import(write_csv(tmp_path / "h.csv", rows), organization, "--dry-run", "--report", str(report))

    assert "dry run: 4 rows read, 3 recorded, 1 left out" in output
    assert ConsentEvent.objects.count() == 0
    assert Subject.objects.count() == 0
    assert ConsentImport.objects.count() == 0
    [line] = list(csv.DictReader(report.read_text(encoding="utf-8").splitlines()))
    assert (line["line"], line["pointer"], line["type"]) == ("5", "/jurisdiction", problem_type("validation-error"))


def test_a_dry_run_of_a_file_imported_already_counts_nothing_new(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    catalog_of(organization)
    path = write_csv(tmp_path / "h.csv", history(3))
    run_import(path, organization)

    output = run_import(path, organization, "--dry-run")

    assert "dry run: 3 rows read, 0 recorded, 0 left out" in output
    assert ConsentEvent.objects.count() == 3


def test_events_of_a_subject_within_a_batch_are_chained_in_occurred_at_order(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    catalog_of(organization)
    rows = history(3, subjects=1)
    run_import(write_csv(tmp_path / "shuffled.csv", [rows[2], rows[0], rows[1]]), organization)

    chain = list(ConsentEvent.objects.order_by("chain_index").values_list("occurred_at", flat=True))

    assert chain == sorted(chain)


def test_a_suppressed_person_is_left_out_as_the_api_refuses_them(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    catalog_of(organization)
    services.subject_suppress(organization=organization, identifiers={"external_id": ["gone-1"]}, actor="test")
    rows = [history(1)[0], {**history(1)[0], "subject_id": "gone-1"}]
    report = tmp_path / "report.csv"

    run_import(write_csv(tmp_path / "h.csv", rows), organization, "--report", str(report))

    [line] = list(csv.DictReader(report.read_text(encoding="utf-8").splitlines()))
    assert (line["line"], line["type"], line["detail"]) == (
        "3",
        problem_type("subject-suppressed"),
        "this person was erased on request",
    )
    assert not Subject.objects.filter(external_id="gone-1").exists()


def test_a_file_with_unknown_columns_is_refused_before_anything_is_written(
    organization: Organization, catalog_of: Callable[[Organization], None], tmp_path: Path
) -> None:
    catalog_of(organization)
    path = tmp_path / "h.csv"
    path.write_text("subject_id,purpose,email_address\nx,y,z\n")

    with pytest.raises(CommandError, match="documented columns"):
        run_import(path, organization)

    assert ConsentEvent.objects.count() == 0
    assert ConsentImport.objects.get().status == "failed"


# ------------------------------------------------------------------------------------------------
# POST /api/v1/imports (the worker's task called here; tests/integration runs it on a real worker)
# ------------------------------------------------------------------------------------------------


def test_an_uploaded_file_is_imported_by_its_task_with_progress_and_report(
    organization: Organization, catalog_of: Callable[[Organization], None], client_rw: APIClient, tmp_path: Path
) -> None:
    catalog_of(organization)
    rows = [*history(5), {**history(1)[0], "purpose": "nope"}]
    content = write_csv(tmp_path / "h.csv", rows).read_bytes()

    response = client_rw.post("/api/v1/imports", content, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="imp-1")
    assert response.status_code == 202, response.content
    job = ConsentImport.objects.get(public_id=response.json()["id"])
    assert job.content_sealed  # kept sealed until read
    assert content.decode() not in job.content_sealed
    run_consent_import(job.pk)
    run_consent_import(job.pk)  # a redelivery changes nothing

    progress = client_rw.get(response["Location"]).json()
    report = client_rw.get(f"{response['Location']}/report").json()

    assert {k: progress[k] for k in ("status", "rows_read", "rows_recorded", "rows_rejected")} == {
        "status": "done",
        "rows_read": 6,
        "rows_recorded": 5,
        "rows_rejected": 1,
    }
    assert report["results"] == [
        {"line": 7, "pointer": "/purpose", "type": problem_type("validation-error"), "detail": "unknown purpose 'nope'"}
    ]
    assert ConsentEvent.objects.count() == 5
    assert ConsentImport.objects.get(pk=job.pk).content_sealed == ""


def test_an_upload_that_breaks_midway_fails_with_the_counts_its_batches_committed(
    organization: Organization, catalog_of: Callable[[Organization], None], client_rw: APIClient, tmp_path: Path
) -> None:
    """A quote left open after the first full batch: the worker's import stops there, marked failed with the counts
    the committed batch wrote (read from the database, never the task's own stale copy of the job)."""
    catalog_of(organization)
    content = write_csv(tmp_path / "h.csv", history(1_050, subjects=40)).read_bytes() + b'imp-0,"open\n'
    response = client_rw.post("/api/v1/imports", content, content_type="text/csv")
    assert response.status_code == 202, response.content
    job = ConsentImport.objects.get(public_id=response.json()["id"])

    outcome = run_consent_import(job.pk)

    job.refresh_from_db()
    assert "cannot be read" in outcome["error"]
    assert (job.status, job.rows_read, job.rows_recorded, job.content_sealed) == ("failed", 1_000, 1_000, "")
    assert ConsentEvent.objects.filter(organization=organization).count() == 1_000
    finished = AuditLogEntry.objects.get(action=AuditAction.CONSENT_IMPORT_FINISHED, object_id=job.public_id)
    assert (finished.data["status"], finished.data["rows_recorded"]) == ("failed", 1_000)


def test_the_sweep_sends_a_lost_upload_again_and_it_is_imported_once(
    organization: Organization,
    catalog_of: Callable[[Organization], None],
    client_rw: APIClient,
    tmp_path: Path,
) -> None:
    catalog_of(organization)
    content = write_csv(tmp_path / "h.csv", history(4)).read_bytes()
    # The upload's message never leaves (this test's transaction never commits): a lost task, as with a dead broker.
    response = client_rw.post("/api/v1/imports", content, content_type="text/csv")
    job = ConsentImport.objects.get(public_id=response.json()["id"])

    assert sweep_consent_imports() == {"unfinished": 0, "sent": 0}  # too recent to be lost
    ConsentImport.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    current_app.conf.task_always_eager = True  # the sweep's message runs here, as a worker would run it
    try:
        assert sweep_consent_imports() == {"unfinished": 1, "sent": 1}
    finally:
        current_app.conf.task_always_eager = False

    assert client_rw.get(response["Location"]).json()["status"] == "done"
    assert ConsentEvent.objects.count() == 4
    assert sweep_consent_imports() == {"unfinished": 0, "sent": 0}  # done: never again


def test_an_upload_retried_with_its_idempotency_key_answers_the_same_import(
    organization: Organization, catalog_of: Callable[[Organization], None], client_rw: APIClient, tmp_path: Path
) -> None:
    catalog_of(organization)
    content = write_ndjson(tmp_path / "h.ndjson", history(2)).read_bytes()
    upload = io.BytesIO(content)
    upload.name = "h.ndjson"

    first = client_rw.post("/api/v1/imports", {"file": upload}, format="multipart", HTTP_IDEMPOTENCY_KEY="k")
    retry = client_rw.post("/api/v1/imports", content, content_type="application/x-ndjson", HTTP_IDEMPOTENCY_KEY="k")
    other = client_rw.post("/api/v1/imports", b"{}\n", content_type="application/x-ndjson", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == 202, first.content
    assert (retry.status_code, retry["Idempotent-Replayed"], retry.json()["id"]) == (200, "true", first.json()["id"])
    assert other.status_code == 409
    assert other.json()["type"] == problem_type("idempotency-key-reused")
    assert ConsentImport.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"", "text/csv", 422),
        (b"\xff\xfe", "text/csv", 422),
        (b"a,b\n", "application/json", 415),
    ],
)
def test_an_upload_that_cannot_be_an_import_is_refused_and_changes_nothing(
    organization: Organization, client_rw: APIClient, content: bytes, content_type: str, status: int
) -> None:
    response = client_rw.post("/api/v1/imports", content, content_type=content_type)

    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert ConsentImport.objects.count() == 0


def test_a_report_page_limit_and_cursor_are_checked(
    organization: Organization, catalog_of: Callable[[Organization], None], client_rw: APIClient, tmp_path: Path
) -> None:
    catalog_of(organization)
    rows = [{**history(1)[0], "purpose": f"nope-{n}"} for n in range(3)]
    run_import(write_csv(tmp_path / "h.csv", rows), organization)
    job = ConsentImport.objects.get()

    first = client_rw.get(f"/api/v1/imports/{job.public_id}/report?limit=2").json()
    rest = client_rw.get(f"/api/v1/imports/{job.public_id}/report?limit=2&after={first['cursor']}").json()
    bad = client_rw.get(f"/api/v1/imports/{job.public_id}/report?limit=0")

    assert [r["line"] for r in first["results"]] == [2, 3]
    assert [r["line"] for r in rest["results"]] == [4]
    assert rest["cursor"] is None
    assert bad.status_code == 422


def test_the_report_of_a_partitioned_import_pages_in_file_order(
    organization: Organization, catalog_of: Callable[[Organization], None], client_rw: APIClient, tmp_path: Path
) -> None:
    """Partitions commit side by side, so the rows left out are written out of file order: the report still pages
    by line, with a cursor that names the last row's line and id (an id alone, the older form, is placed by its
    line; a cursor that is neither is a 422 changing nothing)."""
    catalog_of(organization)
    rows = [{**row, "purpose": "nope"} if n % 3 == 0 else row for n, row in enumerate(history(30, subjects=7))]
    path = write_csv(tmp_path / "h.csv", rows)
    job = services.consent_import_create(
        organization=organization, sha256=_sha256(path), file_format="csv", actor="test"
    ).job
    job = services.consent_import_prepare(job=job, partitions=3)
    for number in (2, 0, 1):  # the partitions committed in another order than the file's
        run_partition(path, organization, job, number, batch_rows=3)
    url = f"/api/v1/imports/{job.public_id}/report"

    pages, page = [], client_rw.get(f"{url}?limit=4").json()
    pages.append(page)
    while page["cursor"]:
        page = client_rw.get(f"{url}?limit=4&after={page['cursor']}").json()
        pages.append(page)
    lines = [r["line"] for p in pages for r in p["results"]]
    first_id = ConsentImportRejection.objects.get(consent_import=job, line=lines[0]).pk
    by_id = client_rw.get(f"{url}?limit=2&after={first_id}").json()
    refused = [client_rw.get(f"{url}?after={bad}") for bad in ("x.1", "-1", "99999999")]

    assert lines == sorted(lines) == [n + 2 for n in range(0, 30, 3)]
    assert [r["line"] for r in by_id["results"]] == lines[1:3]
    assert [r.status_code for r in refused] == [422, 422, 422]
