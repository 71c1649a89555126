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
from core.problems import NotFound
from core.services import audit_log
from dsar.export_archive import Archive, open_archive
from dsar.export_links import LINK_LIFETIME, download_url, export_link_from_token, issue_marker
from dsar.models import DataSubjectRequest, DsarExport
from dsar.problems import ExportLinkExpired, ExportLinkInvalid, ExportPurged, ExportUnreadable
from dsar.selectors import export_by_public_id, export_ids_past_retention

DOWNLOAD_ACTOR: Final = "requester:export-link"
PURGE_ACTOR: Final = "task:dsar.purge_exports"
PURGED_BY_RETENTION: Final = "retention"
PURGED_BY_ERASURE: Final = "erasure"


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
        if export.purge_reason == PURGED_BY_ERASURE:
            raise ExportPurged(
                f"This export was deleted on {export.purged_at:%Y-%m-%d}, when the data it held was erased."
            )
        raise ExportPurged(
            f"This export was deleted on {export.purged_at:%Y-%m-%d}, as our retention rules require; "
            "ask us again if you still need your data."
        )
    try:
        return open_archive(export.sealed_archive, export.wrapped_data_key, export_public_id=export.public_id)
    except CryptoError as exc:
        # A key copied from another row, or a damaged archive: refused, never served, never a 500.
        raise ExportUnreadable("This export cannot be opened; ask us for a new one.") from exc


def dsar_export_download(*, token: str, now: datetime | None = None) -> ExportDownload:
    """The requester opened the signed link: the ZIP in clear, and an audit row for every download. Only the
    link signed at approval works, until the expiry stored with it."""
    export_id, issued = export_link_from_token(token)
    export = export_by_public_id(export_id)
    if export is None:
        raise NotFound("This export does not exist any more.")
    if export.link_issued_at is None or issue_marker(export.link_issued_at) != issued:
        raise ExportLinkInvalid("This download link is not valid.")
    if export.purged_at is None and (
        export.link_expires_at is None or (now or timezone.now()) > export.link_expires_at
    ):
        raise ExportLinkExpired("This download link has expired; ask us for a new one.")
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
    return download_url(export.public_id, now)


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
