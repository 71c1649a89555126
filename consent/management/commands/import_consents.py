"""``manage.py import_consents FILE --organization SLUG``: load consent history from CSV or NDJSON (issue #17)."""

from __future__ import annotations

import contextlib
import csv
import ctypes
import hashlib
import multiprocessing
import os
import signal
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from consent import selectors, services
from consent.api.imports import ImportRowParser
from consent.enums import ImportFormat, ImportStatus
from consent.import_files import format_of, read_rows
from core.problems import DomainError, InvalidInput
from core.selectors import organization_by_slug

ACTOR = "cli:import_consents"
DEFAULT_WORKERS = min(4, os.cpu_count() or 1)
PR_SET_PDEATHSIG = 1


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


def _die_with_parent(parent_pid: int) -> None:
    """A partition's process ends with the command's (Linux: killed when it dies, even by SIGKILL), so a killed
    import stops as a whole and its rerun resumes every partition from its last commit."""
    # Not Linux: a partition finishes the batch in hand, then stops with the pool; the rerun resumes it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _import_partition(job_id: int, path: str, file_format: str, batch_rows: int, number: int) -> tuple[str, str]:
    """One partition of the import, in its own process: ("ok", ""), or what stopped it."""
    job = selectors.consent_import_for_worker(job_id)
    if job is None:
        return "error", "The import is gone."
    try:
        with (
            open(path, "rb") as stream,
            contextlib.closing(read_rows(stream, file_format, partition=(number, job.partitions))) as rows,
        ):
            services.consent_import_run(
                organization=job.organization,
                job=job,
                rows=rows,
                parse=ImportRowParser(),
                batch_rows=batch_rows,
                partition=number,
            )
    except services.ImportInProgress as exc:
        return "in-progress", exc.detail
    except DomainError as exc:
        return "error", exc.detail
    finally:
        connections.close_all()
    return "ok", ""


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
        parser.add_argument(
            "--workers",
            type=int,
            default=DEFAULT_WORKERS,
            help="Processes importing side by side, each the rows of its share of the subjects (default %(default)s; "
            "an interrupted import resumes with the number it started with)",
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
        if not 1 <= options["workers"] <= 64:
            raise CommandError("--workers must be between 1 and 64.")
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
            committed = selectors.consent_import_partition_lines(consent_import=job)
            started = bool(job.lines_done) or any(committed)
            if started and len(committed) > 1:
                after = ", ".join(str(line) for line in committed)
                self.stdout.write(
                    f"import {job.public_id}: resuming its {len(committed)} partitions after lines {after}."
                )
            elif started:
                self.stdout.write(f"import {job.public_id}: resuming after line {job.lines_done}.")
            # Each partition gets a few batches at least: a small file is not worth a process each.
            wanted = max(1, min(options["workers"], total // options["batch_rows"]))
            job = services.consent_import_prepare(job=job, partitions=wanted)
            if started and job.partitions != wanted:
                self.stdout.write(f"import {job.public_id}: resumed in the {job.partitions} partition(s) it began in.")

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
        partitions = None
        if job is not None and job.partitions > 1:  # forked before the bar's thread starts: nothing of it inherited
            partitions = self._start_partitions(job, path, file_format, options["batch_rows"])
        with progress_bar:
            task = progress_bar.add_task("import", total=total, completed=done_before, recorded=0, rejected=0)

            def advance(progress: services.ImportProgress) -> None:
                progress_bar.update(
                    task,
                    completed=done_before + progress.rows_read,
                    recorded=progress.rows_recorded,
                    rejected=progress.rows_rejected,
                )

            try:
                if job is not None and partitions is not None:
                    self._follow_partitions(job, *partitions, progress_bar, task)
                    job = services.consent_import_complete(job=job, actor=ACTOR)
                else:
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
                    services.consent_import_complete(job=job, actor=ACTOR, error=exc.detail)
                raise CommandError(exc.detail) from exc
        if job is not None:
            job = selectors.consent_import_for_worker(job.pk) or job
            result = services.ImportProgress(job.rows_read, job.rows_recorded, job.rows_rejected, job.lines_done)
        label = "dry run" if job is None else f"import {job.public_id}"
        self.stdout.write(
            f"{label}: {result.rows_read} rows read, {result.rows_recorded} recorded, {result.rows_rejected} left out."
        )
        self._report(options, job, result.rejections)

    def _start_partitions(
        self, job: Any, path: Path, file_format: str, batch_rows: int
    ) -> tuple[ProcessPoolExecutor, list[Future[tuple[str, str]]]]:
        """A forked process for each of the job's partitions, all started at once."""
        connections.close_all()  # never shared with the forked processes: each opens its own
        pool = ProcessPoolExecutor(
            job.partitions,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        futures = [
            pool.submit(_import_partition, job.pk, str(path), file_format, batch_rows, n) for n in range(job.partitions)
        ]
        return pool, futures

    def _follow_partitions(
        self,
        job: Any,
        pool: ProcessPoolExecutor,
        futures: list[Future[tuple[str, str]]],
        progress_bar: Progress,
        task: Any,
    ) -> None:
        """Wait for the partitions, the bar following the job's committed counts. A partition's process that dies
        (killed, out of memory) stops the import: what it committed stays, the rerun resumes it."""
        try:
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.5)
                current = selectors.consent_import_for_worker(job.pk)
                if current is not None:
                    recorded, rejected = current.rows_recorded, current.rows_rejected
                    progress_bar.update(task, completed=current.rows_read, recorded=recorded, rejected=rejected)
            try:
                outcomes = [future.result() for future in futures]
            except BrokenProcessPool as exc:
                raise CommandError(
                    "A partition's process stopped before its end (killed?); what was committed stays: run the same "
                    "command again to resume."
                ) from exc
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        for kind, detail in outcomes:
            if kind == "in-progress":
                raise services.ImportInProgress(detail)
        for kind, detail in outcomes:
            if kind == "error":
                raise InvalidInput(detail)

    def _counts(self, job: Any) -> str:
        return f"{job.rows_read} rows read, {job.rows_recorded} recorded, {job.rows_rejected} left out"

    def _report(self, options: dict[str, Any], job: Any, rejections: Iterable[services.Rejection]) -> None:
        if not options["report"]:
            return
        if job is not None:  # every row the import left out, over all its runs
            rejections = (
                services.Rejection(r.line, r.pointer, r.problem_type, r.detail)
                for r in selectors.consent_import_rejections_by_line(consent_import=job)
            )
        count = write_report(Path(options["report"]), rejections)
        self.stdout.write(f"report: {count} rejection(s) written to {options['report']}.")
