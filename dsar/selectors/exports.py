"""Reads of export archives: a request's export, the one a download link names (and what its page shows), those
past their retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core.models import Organization
from core.problems import NotFound
from dsar.enums import PURGED_BY_ERASURE
from dsar.export_links import download_confirmation, export_link_from_token, issue_marker
from dsar.models import DataSubjectRequest, DsarExport
from dsar.problems import ExportLinkExpired, ExportLinkInvalid, ExportPurged


def export_retention() -> timedelta:
    return timedelta(days=int(settings.PROVENANT_EXPORT_RETENTION_DAYS))


def export_for_request(request: DataSubjectRequest) -> DsarExport | None:
    """The request's export (without the archive itself), or None."""
    return DsarExport.objects.filter(request=request).defer("sealed_archive", "wrapped_data_key").first()


def export_by_public_id(export_public_id: str) -> DsarExport | None:
    """The export a download link names, with its request and organization."""
    return DsarExport.objects.select_related("request", "organization").filter(public_id=export_public_id).first()


def export_ids_past_retention(*, now: datetime) -> list[int]:
    """Exports not purged yet whose retention period ran out, oldest first."""
    due = DsarExport.objects.filter(purged_at__isnull=True, created_at__lt=now - export_retention())
    return list(due.values_list("pk", flat=True).order_by("pk"))


def export_purged_problem(export: DsarExport) -> ExportPurged:
    """Why a purged export cannot be downloaded (410), in words for the person."""
    assert export.purged_at is not None
    if export.purge_reason == PURGED_BY_ERASURE:
        return ExportPurged(
            f"This export was deleted on {export.purged_at:%Y-%m-%d}, when the data it held was erased."
        )
    return ExportPurged(
        f"This export was deleted on {export.purged_at:%Y-%m-%d}, as our retention rules require; "
        "ask us again if you still need your data."
    )


def export_of_link(token: str, *, now: datetime | None = None) -> DsarExport:
    """The export a download link names, refused as the link would be: tampered or not the link signed at approval
    (400), expired (410), purged or shredded (410), gone (404). Reads only."""
    export_id, issued = export_link_from_token(token)
    export = export_by_public_id(export_id)
    if export is None:
        raise NotFound("This export does not exist any more.")
    if export.link_issued_at is None or issue_marker(export.link_issued_at) != issued:
        raise ExportLinkInvalid("This download link is not valid.")
    if export.purged_at is not None:
        raise export_purged_problem(export)
    if export.link_expires_at is None or (now or timezone.now()) > export.link_expires_at:
        raise ExportLinkExpired("This download link has expired; ask us for a new one.")
    return export


def export_link_organization(token: str) -> Organization:
    """The organization whose export a well-signed download link names, whether or not it still works (its page
    then says why not); ExportLinkInvalid (400), ExportLinkExpired (410) or NotFound (404) otherwise."""
    export_id, _ = export_link_from_token(token)
    export = export_by_public_id(export_id)
    if export is None:
        raise NotFound("This export does not exist any more.")
    return export.organization


@dataclass(frozen=True)
class ExportLinkPreview:
    """What the download page shows before the person confirms; reading it writes nothing."""

    organization: Organization
    request_public_id: str
    request_type: str
    export_public_id: str
    expires_at: datetime
    size_bytes: int
    files: list[str]
    confirmation: str


def export_link_preview(token: str, *, now: datetime | None = None) -> ExportLinkPreview:
    """The person (or a mail scanner) opened the download link: what it is, until when it works, and the signed
    confirmation value the page posts back. Refused as ``export_of_link``; nothing is written either way."""
    export = export_of_link(token, now=now)
    assert export.link_expires_at is not None
    return ExportLinkPreview(
        organization=export.organization,
        request_public_id=export.request.public_id,
        request_type=export.request.type,
        export_public_id=export.public_id,
        expires_at=export.link_expires_at,
        size_bytes=export.size_bytes,
        files=list(export.files),
        confirmation=download_confirmation(export.public_id, token),
    )
