"""Reads of consent imports (issue #17): an import's progress and the rows it left out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from consent.enums import ImportStatus
from consent.models import ConsentImport, ConsentImportRejection
from core.models import Organization


def consent_import_ids_unfinished(*, created_before: datetime) -> list[int]:
    """Uploaded imports still queued or running that were created before ``created_before``: their task may have
    been lost (a broker down at upload, a worker that died for good); the sweep sends it again."""
    return list(
        ConsentImport.objects.filter(
            status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING], created_at__lt=created_before
        ).values_list("pk", flat=True)[:1000]
    )


def consent_import_by_id(*, organization: Organization, public_id: str) -> ConsentImport | None:
    return ConsentImport.objects.filter(organization=organization, public_id=public_id).first()


def consent_import_by_file(*, organization: Organization, sha256: str) -> ConsentImport | None:
    return ConsentImport.objects.filter(organization=organization, sha256=sha256).first()


def consent_import_rejections(
    *, consent_import: ConsentImport, after: int = 0, limit: int | None = None
) -> list[ConsentImportRejection]:
    """The import's left-out rows in file order (batches commit in file order, each written sorted by line), from
    after the row id ``after`` (a cursor), at most ``limit``."""
    rows = ConsentImportRejection.objects.filter(consent_import=consent_import, pk__gt=after).order_by("pk")
    return list(rows[:limit] if limit is not None else rows)


def consent_import_rejections_by_line(*, consent_import: ConsentImport) -> Iterator[ConsentImportRejection]:
    """Every left-out row of the import in file order, streamed (partitions commit their batches side by side, so
    the rows' ids do not follow the file)."""
    return ConsentImportRejection.objects.filter(consent_import=consent_import).order_by("line", "pk").iterator()


def consent_import_for_worker(job_id: int) -> ConsentImport | None:
    """The import a worker was given, with its organization (the task carries only the id)."""
    return ConsentImport.objects.select_related("organization").filter(pk=job_id).first()
