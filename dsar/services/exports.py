"""Writes for export archives: storing the sealed ZIP in the export step, the audited download over the signed
link, and the purge of archives past their retention period (crypto-shredding)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db import transaction
from django.utils import timezone

from core.enums import AuditAction
from core.problems import NotFound
from core.services import audit_log
from dsar.export_archive import Archive, open_archive
from dsar.export_links import export_id_from_token
from dsar.models import DataSubjectRequest, DsarExport
from dsar.problems import ExportPurged
from dsar.selectors import export_by_public_id, export_ids_past_retention

DOWNLOAD_ACTOR: Final = "requester:export-link"
PURGE_ACTOR: Final = "task:dsar.purge_exports"


def export_store(
    *,
    request: DataSubjectRequest,
    export_public_id: str,
    archive: Archive,
    sealed: bytes,
    wrapped_key: bytes,
    created_at: datetime,
) -> DsarExport:
    """Store the sealed archive answering the request; call inside the export step's transaction."""
    return DsarExport.objects.create(
        request=request,
        organization=request.organization,
        public_id=export_public_id,
        sealed_archive=sealed,
        wrapped_data_key=wrapped_key,
        sha256=archive.sha256,
        size_bytes=len(archive.content),
        files=archive.files,
        created_at=created_at,
    )


@dataclass(frozen=True)
class ExportDownload:
    filename: str
    content: bytes


def dsar_export_download(*, token: str) -> ExportDownload:
    """The requester opened the signed link: the ZIP in clear, and an audit row for every download."""
    export = export_by_public_id(export_id_from_token(token))
    if export is None:
        raise NotFound("This export does not exist any more.")
    if export.purged_at is not None:
        raise ExportPurged(
            f"This export was deleted on {export.purged_at:%Y-%m-%d}, as our retention rules require; "
            "ask us again if you still need your data."
        )
    content = open_archive(export.sealed_archive, export.wrapped_data_key, export_public_id=export.public_id)
    audit_log(
        actor=DOWNLOAD_ACTOR,
        action=AuditAction.DSAR_EXPORT_DOWNLOADED,
        object_type="dsar",
        object_id=export.request.public_id,
        organization=export.organization,
        data={"export_id": export.public_id, "size_bytes": export.size_bytes},
    )
    return ExportDownload(f"provenant-{export.request.public_id}.zip", content)


def dsar_exports_purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete the archives of exports older than the retention period (crypto-shredding: the sealed ZIP and its
    wrapped key go; the digest, size and file list stay as evidence of what was answered). Each export once,
    audited; a rerun purges nothing."""
    now = now or timezone.now()
    purged = 0
    for export_id in export_ids_past_retention(now=now):
        with transaction.atomic():
            export = (
                DsarExport.objects.select_for_update(of=("self",))
                .select_related("request", "organization")
                .filter(pk=export_id, purged_at__isnull=True)
                .first()
            )
            if export is None:
                continue  # another sweep got there first
            DsarExport.objects.filter(pk=export.pk).update(sealed_archive=b"", wrapped_data_key=b"", purged_at=now)
            audit_log(
                actor=PURGE_ACTOR,
                action=AuditAction.DSAR_EXPORT_PURGED,
                object_type="dsar",
                object_id=export.request.public_id,
                organization=export.organization,
                data={
                    "export_id": export.public_id,
                    "sha256": export.sha256,
                    "created_at": export.created_at.isoformat(),
                },
            )
            purged += 1
    return {"purged": purged}
