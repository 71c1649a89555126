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
from django.db.models import F, Max, Min, Subquery
from django.utils import timezone
from ulid import ULID

from consent.enums import ImportStatus
from consent.import_files import FileRow, partition_of
from consent.models import ConsentImport, ConsentImportPartition, ConsentImportRejection
from consent.services.recording import consent_record_with_signals
from consent.services.validation import ConsentEventInput, IdempotencyKeyReused, request_digest
from core.crypto import key_owner, new_data_key, seal, unseal, unwrap_data_key
from core.enums import AuditAction
from core.garbage_collection import fewer_collections
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


def import_partition(row: FileRow, partitions: int) -> int:
    """The partition a row belongs to (:func:`consent.import_files.partition_of` of its subject id)."""
    return partition_of(row.line, row.body.get("subject_id") if row.body is not None else None, partitions)


def consent_import_prepare(*, job: ConsentImport, partitions: int) -> ConsentImport:
    """Fix the job's number of partitions (on its first run; a resumed import keeps the one it started with, since a
    row's partition must not change) and create their progress rows. Returns the job as stored."""
    with transaction.atomic():
        locked = ConsentImport.objects.select_for_update().get(pk=job.pk)
        started = locked.partition_progress.exists()
        if not started:
            if locked.lines_done:  # begun before imports had partitions: one partition, resumed where it stopped
                partitions = 1
            locked.partitions = max(1, partitions)
            locked.save(update_fields=["partitions"])
            ConsentImportPartition.objects.bulk_create(
                ConsentImportPartition(consent_import=locked, number=n, lines_done=locked.lines_done if n == 0 else 0)
                for n in range(locked.partitions)
            )
    return locked


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
    partition: int | None = None,
) -> ImportProgress:
    """Import ``rows`` after each partition's committed line, batch by batch. Without a job (``--dry-run``, naming the
    file's ``sha256``) each batch is recorded and rolled back: every rule is applied, nothing is kept, and rows the
    file's import recorded already count as replays, not as new.

    ``partition``: import only that partition's rows and leave the job unfinished (the command runs the partitions
    side by side, one process each, then ``consent_import_complete``); None: all of them, then finish the job. The
    progress returned counts this run's rows."""
    progress = ImportProgress()
    key_prefix = f"import:{(job.sha256 if job is not None else sha256)[:32]}:"
    if job is None:
        _import_rows(organization, None, [], rows, parse, key_prefix, batch_rows, on_batch, progress)
        return progress
    job = consent_import_prepare(job=job, partitions=job.partitions)
    ConsentImport.objects.filter(pk=job.pk).exclude(status=ImportStatus.DONE).update(
        status=ImportStatus.RUNNING, started_at=job.started_at or timezone.now(), error=""
    )
    owned = list(ConsentImportPartition.objects.filter(consent_import=job).order_by("number"))
    if partition is not None:
        owned = [p for p in owned if p.number == partition]
    _import_rows(organization, job, owned, rows, parse, key_prefix, batch_rows, on_batch, progress)
    if partition is None:
        consent_import_complete(job=job, actor=actor or job.requested_by)
    return progress


def _import_rows(
    organization: Organization,
    job: ConsentImport | None,
    owned: list[ConsentImportPartition],
    rows: Iterable[FileRow],
    parse: RowParser,
    key_prefix: str,
    batch_rows: int,
    on_batch: Callable[[ImportProgress], None] | None,
    progress: ImportProgress,
) -> None:
    """The rows of the ``owned`` partitions not yet committed, a batch per transaction: the events, the rows left
    out, the partitions' lines and the job's counts commit together. The partitions' rows are locked for the batch,
    so another run of the same file stops (``ImportInProgress``) instead of importing the same rows."""
    count = job.partitions if job is not None else 1
    done = {p.number: p.lines_done for p in owned}
    if job is not None:
        after = dict(done)  # read by the read-ahead thread: never changed
        rows = (r for r in rows if r.line > after.get(import_partition(r, count), r.line))
    parsed = _parsed_batches(rows, parse, key_prefix, batch_rows)
    with fewer_collections():  # allocation-heavy: see core.garbage_collection
        for batch, entries, rejected in _read_ahead(parsed):
            last = batch[-1].line
            try:
                with transaction.atomic():
                    if job is not None:
                        locked = ConsentImportPartition.objects.select_for_update().filter(pk__in=[p.pk for p in owned])
                        if {p.number: p.lines_done for p in locked.order_by("number")} != done:
                            raise ImportInProgress("Another run is importing this file; let it finish.")
                    recorded, refused = _record_batch(organization, entries)
                    rejected.extend(refused)
                    rejected.sort(key=lambda r: r.line)
                    rejected_rows = len({r.line for r in rejected})
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
                    ConsentImportPartition.objects.filter(
                        consent_import=job, number__in=list(done), lines_done__lt=last
                    ).update(lines_done=last)
                    # The job's row last (another partition's batch waits for its lock only until this one commits),
                    # then its line from the partitions as committed by then.
                    ConsentImport.objects.filter(pk=job.pk).update(
                        rows_read=F("rows_read") + len(batch),
                        rows_recorded=F("rows_recorded") + recorded,
                        rows_rejected=F("rows_rejected") + rejected_rows,
                    )
                    ConsentImport.objects.filter(pk=job.pk).update(
                        lines_done=Subquery(
                            ConsentImportPartition.objects.filter(consent_import=job)
                            .values("consent_import")
                            .annotate(least=Min("lines_done"))
                            .values("least")
                        )
                    )
            except _DryRunRollback:
                pass
            done = {number: max(line, last) for number, line in done.items()}
            progress.rows_read += len(batch)
            progress.rows_recorded += recorded
            progress.rows_rejected += rejected_rows
            progress.lines_done = last
            progress.rejections.extend(rejected)
            if on_batch is not None:
                on_batch(progress)


def consent_import_complete(*, job: ConsentImport, actor: str, error: str = "") -> ConsentImport:
    """Finish the import (done, or failed with ``error``) with the counts its partitions committed; done, every line
    is (the last one is the greatest of the partitions')."""
    if not error:
        last = ConsentImportPartition.objects.filter(consent_import=job).aggregate(last=Max("lines_done"))["last"]
        if last is not None:
            ConsentImport.objects.filter(pk=job.pk, lines_done__lt=last).update(lines_done=last)
    stored = ConsentImport.objects.get(pk=job.pk)
    counts = ImportProgress(stored.rows_read, stored.rows_recorded, stored.rows_rejected, stored.lines_done)
    consent_import_finish(job=stored, actor=actor, progress=counts, error=error)
    return stored


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
