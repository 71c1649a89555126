"""Writes for export archives: storing the sealed ZIP in the export step, signing its one download link at
approval, the audited downloads (requester's link, staff in the admin), and crypto-shredding: with an erased
subject, and past the retention period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db import transaction
from django.utils import timezone

from core.crypto import CryptoError
from core.enums import AuditAction
from core.services import audit_log
from dsar.enums import PURGED_BY_ERASURE, PURGED_BY_RETENTION
from dsar.export_archive import Archive, open_archive
from dsar.export_links import LINK_LIFETIME, check_download_confirmation, download_url
from dsar.models import DataSubjectRequest, DsarExport
from dsar.problems import ExportUnreadable
from dsar.selectors import export_ids_past_retention, export_of_link, export_purged_problem, privacy_center_url

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


def _openable(export: DsarExport) -> bytes:
    """The ZIP in clear; refused (410) once purged or shredded, and (409) when its key does not open it."""
    if export.purged_at is not None:
        raise export_purged_problem(export)
    try:
        return open_archive(export.sealed_archive, export.wrapped_data_key, export_public_id=export.public_id)
    except CryptoError as exc:
        # A key copied from another row, or a damaged archive: refused, never served, never a 500.
        raise ExportUnreadable("This export cannot be opened; ask us for a new one.") from exc


def dsar_export_download(*, token: str, confirmation: object, now: datetime | None = None) -> ExportDownload:
    """The person confirmed on the page the signed link opened (a POST with its confirmation value): the ZIP in
    clear, and an audit row for every download. Only the link signed at approval works, until the expiry stored
    with it; a missing or foreign confirmation (403) changes nothing, as opening the link does not."""
    export = export_of_link(token, now=now)
    check_download_confirmation(confirmation, export_public_id=export.public_id, token=token)
    content = _openable(export)
    audit_log(
        actor=DOWNLOAD_ACTOR,
        action=AuditAction.DSAR_EXPORT_DOWNLOADED,
        object_type="dsar",
        object_id=export.request.public_id,
        organization=export.organization,
        data={"export_id": export.public_id, "size_bytes": export.size_bytes},
    )
    return ExportDownload(f"provenant-{export.request.public_id}.zip", content)


def dsar_export_download_by_staff(*, export: DsarExport, actor: str) -> ExportDownload:
    """A staff member downloads the export from the admin (the caller checked ``dsar.download_dsarexport``);
    audited with the staff actor."""
    content = _openable(export)
    audit_log(
        actor=actor,
        action=AuditAction.DSAR_EXPORT_DOWNLOADED,
        object_type="dsar",
        object_id=export.request.public_id,
        organization=export.organization,
        data={"export_id": export.public_id, "size_bytes": export.size_bytes, "via": "admin"},
    )
    return ExportDownload(f"provenant-{export.request.public_id}.zip", content)


def export_link_issue(*, request: DataSubjectRequest, actor: str, now: datetime | None = None) -> str | None:
    """Sign the request's one download link (at approval; call inside the approval's transaction), store its
    expiry and audit it; returns the URL to send the requester, or None when there is no export to hand over
    or its link was issued already (a link is never minted again)."""
    now = now or timezone.now()
    expires = now + LINK_LIFETIME
    issued = DsarExport.objects.filter(request=request, purged_at__isnull=True, link_issued_at__isnull=True).update(
        link_issued_at=now, link_expires_at=expires
    )
    if not issued:
        return None
    export = DsarExport.objects.only("public_id").get(request=request)
    audit_log(
        actor=actor,
        action=AuditAction.DSAR_EXPORT_LINK_ISSUED,
        object_type="dsar",
        object_id=request.public_id,
        organization=request.organization,
        data={"export_id": export.public_id, "expires_at": expires.isoformat()},
    )
    return download_url(export.public_id, now, privacy_center_url=privacy_center_url(request.organization))


def exports_shred_for_erasure(*, request: DataSubjectRequest, actor: str, now: datetime | None = None) -> list[str]:
    """Crypto-shred every earlier export of the subject the deletion request erases (same organization and
    subject id): the sealed ZIP and its wrapped key go, each audited. Call inside the erase step's transaction;
    returns the export ids shredded (none on a rerun)."""
    if not request.subject_external_id:
        return []
    now = now or timezone.now()
    exports = list(
        DsarExport.objects.select_for_update(of=("self",))
        .select_related("request")
        .filter(
            organization_id=request.organization_id,
            request__subject_external_id=request.subject_external_id,
            purged_at__isnull=True,
        )
        .order_by("pk")
    )
    for export in exports:
        DsarExport.objects.filter(pk=export.pk).update(
            sealed_archive=b"", wrapped_data_key=b"", purged_at=now, purge_reason=PURGED_BY_ERASURE
        )
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_EXPORT_SHREDDED,
            object_type="dsar",
            object_id=export.request.public_id,
            organization=request.organization,
            data={"export_id": export.public_id, "sha256": export.sha256, "erasure_request": request.public_id},
        )
    return [export.public_id for export in exports]


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
            DsarExport.objects.filter(pk=export.pk).update(
                sealed_archive=b"", wrapped_data_key=b"", purged_at=now, purge_reason=PURGED_BY_RETENTION
            )
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
