"""Importing consent history (issue #17): a file's rows appended through the same path as the API's writes.

Each batch of rows is recorded by ``consent_record_with_signals`` (the API's own service: the same validation,
suppression, GPC and hash-chain rules) in one transaction that also writes the rows left out and the import's
committed line (``ConsentImport.lines_done``): a killed import resumes after its last committed batch and never
records a row twice. Every row also carries an idempotency key derived from the file and its line, so even a
batch replayed by hand is recognised. Within a batch a subject's events are chained in ``occurred_at`` order
(stable); a later batch's event older than the chain's tip is appended like a late API event.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from ulid import ULID

from consent.enums import ImportStatus
from consent.import_files import FileRow
from consent.models import ConsentImport, ConsentImportRejection
from consent.services.recording import consent_record_with_signals
from consent.services.validation import ConsentEventInput, IdempotencyKeyReused, request_digest
from core.crypto import key_owner, new_data_key, seal, unseal, unwrap_data_key
from core.enums import AuditAction
from core.models import Organization
from core.problems import Conflict, DomainError, InvalidInput, problem_type
from core.services import audit_log
from core.tasks import enqueue_after_commit

logger = logging.getLogger("consent.services")

# Parses one API body into an event (raising InvalidInput with pointers relative to the row); the API's serializer.
RowParser = Callable[[dict[str, Any], str, str], ConsentEventInput]
DEFAULT_BATCH_ROWS = 1000
IMPORT_TASK = "consent.api.tasks.run_consent_import"


class ImportInProgress(Conflict):
    slug = "import-in-progress"
    title = "Another run is importing this file"


@dataclass(frozen=True)
class Rejection:
    line: int
    pointer: str
    problem_type: str
    detail: str


@dataclass
class ImportProgress:
    rows_read: int = 0
    rows_recorded: int = 0
    rows_rejected: int = 0
    lines_done: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class ImportCreated:
    job: ConsentImport
    created: bool


def import_key_owner(public_id: str) -> str:
    return key_owner("consent_consentimport", public_id, "content")


def import_content(job: ConsentImport) -> bytes:
    """The uploaded file, unsealed (only while the import has not finished)."""
    if not job.content_sealed:
        raise InvalidInput("This import's file is no longer kept.")
    data_key = unwrap_data_key(job.wrapped_data_key, owner=import_key_owner(job.public_id))
    return unseal(data_key, job.content_sealed, context=f"import:{job.public_id}").encode("utf-8")


def consent_import_create(
    *,
    organization: Organization,
    sha256: str,
    file_format: str,
    actor: str,
    content: bytes | None = None,
    idempotency_key: str | None = None,
    digest: str = "",
) -> ImportCreated:
    """The import of this file for the organization: created (queued; an upload kept sealed for its worker), or the
    one that exists already (the same file imported again resumes it; the same Idempotency-Key answers the same
    import, or a conflict when it came with another file)."""
    if idempotency_key is not None:
        existing = ConsentImport.objects.filter(organization=organization, idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.request_digest != digest:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used before with a different request body.",
                    idempotency_key=idempotency_key,
                )
            return ImportCreated(existing, created=False)
    existing = ConsentImport.objects.filter(organization=organization, sha256=sha256).first()
    if existing is not None:
        return ImportCreated(existing, created=False)
    public_id = str(ULID())
    wrapped: bytes | None = None
    sealed = ""
    if content is not None:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("The file is not UTF-8.", errors=[{"pointer": "/", "detail": str(exc)}]) from exc
        data_key, wrapped = new_data_key(owner=import_key_owner(public_id))
        sealed = seal(data_key, text, context=f"import:{public_id}")
    try:
        with transaction.atomic():
            job = ConsentImport.objects.create(
                public_id=public_id,
                organization=organization,
                sha256=sha256,
                file_format=file_format,
                requested_by=actor,
                idempotency_key=idempotency_key,
                request_digest=digest,
                wrapped_data_key=wrapped,
                content_sealed=sealed,
            )
            audit_log(
                actor=actor,
                action=AuditAction.CONSENT_IMPORT_CREATED,
                object_type="consent_import",
                object_id=public_id,
                organization=organization,
                data={"sha256": sha256, "format": file_format},
            )
            if content is not None:
                enqueue_after_commit(IMPORT_TASK, job.pk)
    except IntegrityError:  # a concurrent request created it first: that one is the import
        return consent_import_create(
            organization=organization,
            sha256=sha256,
            file_format=file_format,
            actor=actor,
            content=content,
            idempotency_key=idempotency_key,
            digest=digest,
        )
    return ImportCreated(job, created=True)


def _batches(rows: Iterable[FileRow], size: int) -> Iterator[list[FileRow]]:
    batch: list[FileRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _line_of(pointer: str) -> tuple[int, str] | None:
    """``/12/purpose`` -> (12, "/purpose"): the row an error of a batch points at."""
    head, _, rest = pointer.lstrip("/").partition("/")
    if not (head.isascii() and head.isdigit()):
        return None
    return int(head), f"/{rest}" if rest else ""


def _rejections_of(exc: DomainError, *, line: int | None = None) -> dict[int, list[Rejection]]:
    """The rows a refused batch names, each with the API's words for its fault."""
    kind = problem_type(exc.slug)
    found: dict[int, list[Rejection]] = {}
    errors = exc.extra.get("errors") or []
    pointers = [(e.get("pointer", ""), e.get("detail", exc.detail)) for e in errors]
    if not pointers and exc.extra.get("pointer"):
        pointers = [(exc.extra["pointer"], exc.detail)]
    for pointer, detail in pointers:
        located = _line_of(pointer)
        if located is None:
            if line is None:
                continue
            located = (line, pointer if pointer != "/" else "")
        found.setdefault(located[0], []).append(Rejection(located[0], located[1], kind, str(detail)))
    if not found and line is not None:
        found[line] = [Rejection(line, "", kind, exc.detail)]
    return found


def _record(organization: Organization, items: list[ConsentEventInput]) -> int:
    """Append in a savepoint; the number of events new to the ledger (idempotent replays are not counted)."""
    with transaction.atomic():
        recorded = consent_record_with_signals(organization=organization, items=items).recorded
    return sum(1 for r in recorded if not r.replayed)


class _Probe(Exception):
    pass


def _own_rejections(organization: Organization, line: int, item: ConsentEventInput) -> list[Rejection]:
    """What the API answers for this one row sent alone (tried, then rolled back), or [] if it would be accepted."""
    try:
        with transaction.atomic():
            consent_record_with_signals(organization=organization, items=[item])
            raise _Probe
    except _Probe:
        return []
    except DomainError as exc:
        return [r for found in _rejections_of(exc, line=line).values() for r in found]


def _record_batch(
    organization: Organization, entries: list[tuple[int, ConsentEventInput]]
) -> tuple[int, list[Rejection]]:
    """Record what the rules accept; leave out, with its reasons, each row they refuse."""
    pending = sorted(entries, key=lambda entry: entry[1].occurred_at)  # stable: a subject's chain by occurred_at
    rejected: list[Rejection] = []
    while pending:
        try:
            return _record(organization, [item for _, item in pending]), rejected
        except DomainError as exc:
            named = _rejections_of(exc)
            if not named:
                break
            items = dict(pending)
            for line, found in named.items():
                # A batch answers with one problem type for all its faults: each row's own answer is the API's.
                rejected.extend(_own_rejections(organization, line, items[line]) or found)
            pending = [entry for entry in pending if entry[0] not in named]
    # A fault no pointer places (e.g. a subject erased meanwhile): each remaining row on its own.
    recorded = 0
    for line, item in pending:
        try:
            recorded += _record(organization, [item])
        except DomainError as exc:
            for found in _rejections_of(exc, line=line).values():
                rejected.extend(found)
    return recorded, rejected


ParsedBatch = tuple[list[FileRow], list[tuple[int, ConsentEventInput]], list[Rejection]]


def _parsed_batches(
    rows: Iterable[FileRow], parse: RowParser, key_prefix: str, batch_rows: int
) -> Iterator[ParsedBatch]:
    """The rows in batches, each row parsed: the events to record (with their lines) and the rows refused."""
    for batch in _batches(rows, batch_rows):
        entries: list[tuple[int, ConsentEventInput]] = []
        rejected: list[Rejection] = []
        for row in batch:
            parsed = _parse(row, parse, key_prefix)
            if isinstance(parsed, list):
                rejected.extend(parsed)
            else:
                entries.append((row.line, parsed))
        yield batch, entries, rejected


_END = object()


def _read_ahead(batches: Iterator[ParsedBatch], depth: int = 2) -> Iterator[ParsedBatch]:
    """``batches``, read and parsed by a thread up to ``depth`` batches ahead: the file is read and the next rows
    validated while this thread waits for the database to write the last ones (two cores: ours and PostgreSQL's).
    The thread touches no database; an error it meets is raised here, in order; a caller that stops early (an
    interrupt, a failed batch) stops it."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not offer(batch):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the caller, never lost
            offer(exc)

    reader = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _parse(row: FileRow, parse: RowParser, key_prefix: str) -> ConsentEventInput | list[Rejection]:
    if row.body is None:
        return [Rejection(row.line, "", problem_type(InvalidInput.slug), row.problem)]
    body = row.body
    key = body.get("idempotency_key") if isinstance(body.get("idempotency_key"), str) else None
    try:
        return parse(body, f"/{row.line}", key or f"{key_prefix}{row.line}")
    except DomainError as exc:
        return [r for found in _rejections_of(exc, line=row.line).values() for r in found]


class _DryRunRollback(Exception):
    pass


def consent_import_run(
    *,
    organization: Organization,
    job: ConsentImport | None,
    rows: Iterable[FileRow],
    parse: RowParser,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    on_batch: Callable[[ImportProgress], None] | None = None,
    actor: str = "",
    sha256: str = "",
) -> ImportProgress:
    """Import ``rows`` after the job's committed line, batch by batch. Without a job (``--dry-run``, naming the file's
    ``sha256``) each batch is recorded and rolled back: every rule is applied, nothing is kept, and rows the file's
    import recorded already count as replays, not as new."""
    progress = ImportProgress()
    key_prefix = f"import:{(job.sha256 if job is not None else sha256)[:32]}:"
    if job is not None:
        progress = ImportProgress(job.rows_read, job.rows_recorded, job.rows_rejected, job.lines_done)
        ConsentImport.objects.filter(pk=job.pk).exclude(status=ImportStatus.DONE).update(
            status=ImportStatus.RUNNING, started_at=job.started_at or timezone.now(), error=""
        )
    start_after = progress.lines_done
    parsed = _parsed_batches((row for row in rows if row.line > start_after), parse, key_prefix, batch_rows)
    for batch, entries, rejected in _read_ahead(parsed):
        try:
            with transaction.atomic():
                if job is not None:
                    locked = ConsentImport.objects.select_for_update().get(pk=job.pk)
                    if locked.lines_done != progress.lines_done:
                        raise ImportInProgress("Another run is importing this file; let it finish.")
                recorded, refused = _record_batch(organization, entries)
                rejected.extend(refused)
                rejected.sort(key=lambda r: r.line)
                progress.rows_read += len(batch)
                progress.rows_recorded += recorded
                progress.rows_rejected += len({r.line for r in rejected})
                progress.lines_done = batch[-1].line
                if job is None:
                    raise _DryRunRollback
                ConsentImportRejection.objects.bulk_create(
                    ConsentImportRejection(
                        consent_import=job,
                        line=r.line,
                        pointer=r.pointer[:100],
                        problem_type=r.problem_type,
                        detail=r.detail,
                    )
                    for r in rejected
                )
                ConsentImport.objects.filter(pk=job.pk).update(
                    rows_read=progress.rows_read,
                    rows_recorded=progress.rows_recorded,
                    rows_rejected=progress.rows_rejected,
                    lines_done=progress.lines_done,
                )
        except _DryRunRollback:
            pass
        progress.rejections.extend(rejected)
        if on_batch is not None:
            on_batch(progress)
    if job is not None:
        consent_import_finish(job=job, actor=actor or job.requested_by, progress=progress)
    return progress


def consent_import_finish(*, job: ConsentImport, actor: str, progress: ImportProgress, error: str = "") -> None:
    """Mark the import done (or failed) and drop the uploaded file: nothing of it is kept once it is read."""
    with transaction.atomic():
        changed = (
            ConsentImport.objects.filter(pk=job.pk)
            .exclude(status=ImportStatus.DONE)
            .update(
                status=ImportStatus.FAILED if error else ImportStatus.DONE,
                error=error[:200],
                finished_at=timezone.now(),
                # Failed or done, the upload is read no more (a failed file is sent again changed): drop it.
                content_sealed="",
                wrapped_data_key=None,
            )
        )
        if changed:
            audit_log(
                actor=actor,
                action=AuditAction.CONSENT_IMPORT_FINISHED,
                object_type="consent_import",
                object_id=job.public_id,
                organization=job.organization,
                data={
                    "status": "failed" if error else "done",
                    "rows_read": progress.rows_read,
                    "rows_recorded": progress.rows_recorded,
                    "rows_rejected": progress.rows_rejected,
                },
            )
    job.refresh_from_db()


def request_digest_of_file(sha256: str, file_format: str) -> str:
    """What an Idempotency-Key of an upload is compared with: the file and its format."""
    return request_digest({"sha256": sha256, "format": file_format})
