"""``manage.py import_consents FILE --organization SLUG``: load consent history from CSV or NDJSON (issue #17)."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from consent import selectors, services
from consent.api.imports import ImportRowParser
from consent.enums import ImportFormat, ImportStatus
from consent.import_files import format_of, read_rows
from core.problems import DomainError
from core.selectors import organization_by_slug

ACTOR = "cli:import_consents"


def file_digest(path: Path) -> tuple[str, int]:
    """The file's SHA-256 and its number of lines (for the progress bar), in one streamed pass."""
    digest = hashlib.sha256()
    lines = 0
    last = b"\n"
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return digest.hexdigest(), lines + (last != b"\n")


def write_report(path: Path, rejections: Iterable[services.Rejection]) -> int:
    """The rows left out, as CSV: line, pointer, type, detail (the API's words for the same fault)."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["line", "pointer", "type", "detail"])
        for r in rejections:
            writer.writerow([r.line, r.pointer, r.problem_type, r.detail])
            count += 1
    return count


class Command(BaseCommand):
    help = (
        "Import consent history from a CSV or NDJSON file (README: 'Importing consent history'). Resumable: run it "
        "again after an interruption and it continues where it stopped; nothing is recorded twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A .csv or .ndjson file")
        parser.add_argument("--organization", required=True, help="The organization's slug")
        parser.add_argument("--format", choices=ImportFormat.values, help="Default: from the file's extension")
        parser.add_argument("--dry-run", action="store_true", help="Apply every rule, keep nothing")
        parser.add_argument("--report", help="Write the rows left out (line, pointer, type, detail) to this CSV")
        parser.add_argument(
            "--batch-rows",
            type=int,
            default=services.DEFAULT_BATCH_ROWS,
            help="Rows per transaction (default %(default)s)",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_by_slug(options["organization"])
        if organization is None:
            raise CommandError(f"No organization '{options['organization']}'.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        if options["batch_rows"] < 1:
            raise CommandError("--batch-rows must be at least 1.")
        try:
            file_format = format_of(path.name, options["format"])
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        sha256, lines = file_digest(path)
        total = max(lines - (1 if file_format == ImportFormat.CSV else 0), 0)

        job = None
        if not options["dry_run"]:
            job = services.consent_import_create(
                organization=organization, sha256=sha256, file_format=file_format, actor=ACTOR
            ).job
            if job.status == ImportStatus.DONE:
                self.stdout.write(f"import {job.public_id}: this file was imported already ({self._counts(job)}).")
                self._report(options, job, [])
                return
            if job.lines_done:
                self.stdout.write(f"import {job.public_id}: resuming after line {job.lines_done}.")

        progress_bar = Progress(
            TextColumn("[bold]importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("recorded {task.fields[recorded]} · left out {task.fields[rejected]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=options["no_progress"],
        )
        done_before = job.rows_read if job else 0
        with progress_bar:
            task = progress_bar.add_task("import", total=total, completed=done_before, recorded=0, rejected=0)

            def advance(progress: services.ImportProgress) -> None:
                progress_bar.update(
                    task,
                    completed=progress.rows_read,
                    recorded=progress.rows_recorded,
                    rejected=progress.rows_rejected,
                )

            try:
                with path.open("rb") as stream:
                    result = services.consent_import_run(
                        organization=organization,
                        job=job,
                        rows=read_rows(stream, file_format),
                        parse=ImportRowParser(),
                        batch_rows=options["batch_rows"],
                        on_batch=advance,
                        actor=ACTOR,
                        sha256=sha256,
                    )
            except DomainError as exc:
                if job is not None and not isinstance(exc, services.ImportInProgress):
                    failed = services.ImportProgress(job.rows_read, job.rows_recorded, job.rows_rejected)
                    services.consent_import_finish(job=job, actor=ACTOR, progress=failed, error=exc.detail)
                raise CommandError(exc.detail) from exc
        label = "dry run" if job is None else f"import {job.public_id}"
        self.stdout.write(
            f"{label}: {result.rows_read} rows read, {result.rows_recorded} recorded, {result.rows_rejected} left out."
        )
        self._report(options, job, result.rejections)

    def _counts(self, job: Any) -> str:
        return f"{job.rows_read} rows read, {job.rows_recorded} recorded, {job.rows_rejected} left out"

    def _report(self, options: dict[str, Any], job: Any, rejections: list[services.Rejection]) -> None:
        if not options["report"]:
            return
        if job is not None:  # every row the import left out, over all its runs
            rejections = [
                services.Rejection(r.line, r.pointer, r.problem_type, r.detail)
                for r in selectors.consent_import_rejections(consent_import=job)
            ]
        count = write_report(Path(options["report"]), rejections)
        self.stdout.write(f"report: {count} rejection(s) written to {options['report']}.")
