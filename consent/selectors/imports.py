"""Reads of consent imports (issue #17): an import's progress and the rows it left out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Q

from consent.enums import ImportStatus
from consent.models import ConsentImport, ConsentImportRejection
from core.models import Organization


def consent_import_ids_unfinished(*, created_before: datetime) -> list[int]:
    """Uploaded imports still queued or running that were created before ``created_before``: their task may have
    been lost (a broker down at upload, a worker that died for good); the sweep sends it again."""
    return list(
        ConsentImport.objects.filter(
            status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], created_at__lt=created_before
        )
        .exclude(content_sealed="")  # a command's import (its file is on the operator's disk) is not the worker's
        .values_list("pk", flat=True)[:1000]
    )


def consent_import_by_id(*, organization: Organization, public_id: str) -> ConsentImport | None:
    return ConsentImport.objects.filter(organization=organization, public_id=public_id).first()


def consent_import_by_file(*, organization: Organization, sha256: str) -> ConsentImport | None:
    return ConsentImport.objects.filter(organization=organization, sha256=sha256).first()


def consent_import_rejections(
    *, consent_import: ConsentImport, after: tuple[int, int] | None = None, limit: int | None = None
) -> list[ConsentImportRejection]:
    """The import's left-out rows in file order (by line, then as written), after the row ``after`` names as (line,
    id): a cursor. Partitions commit their batches side by side, so ids alone do not follow the file."""
    rows = ConsentImportRejection.objects.filter(consent_import=consent_import)
    if after is not None:
        line, pk = after
        rows = rows.filter(Q(line__gt=line) | Q(line=line, pk__gt=pk))
    rows = rows.order_by("line", "pk")
    return list(rows[:limit] if limit is not None else rows)


def consent_import_rejection_position(*, consent_import: ConsentImport, pk: int) -> tuple[int, int] | None:
    """Where the left-out row ``pk`` of the import stands in the report (a cursor of the id-only form)."""
    line = (
        ConsentImportRejection.objects.filter(consent_import=consent_import, pk=pk)
        .values_list("line", flat=True)
        .first()
    )
    return None if line is None else (line, pk)


def consent_import_rejections_by_line(*, consent_import: ConsentImport) -> Iterator[ConsentImportRejection]:
    """Every left-out row of the import in file order, streamed (partitions commit their batches side by side, so
    the rows' ids do not follow the file)."""
    return ConsentImportRejection.objects.filter(consent_import=consent_import).order_by("line", "pk").iterator()


def consent_import_partition_lines(*, consent_import: ConsentImport) -> list[int]:
    """Each partition's last committed line, by partition number ([] before the import's first run)."""
    return list(consent_import.partition_progress.order_by("number").values_list("lines_done", flat=True))


def consent_import_for_worker(job_id: int) -> ConsentImport | None:
    """The import a worker was given, with its organization (the task carries only the id)."""
    return ConsentImport.objects.select_related("organization").filter(pk=job_id).first()
