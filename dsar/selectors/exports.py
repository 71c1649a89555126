"""Reads of export archives: a request's export, the one a download link names, those past their retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from core.problems import NotFound
from dsar.export_links import download_url
from dsar.models import DataSubjectRequest, DsarExport
from dsar.problems import ExportPurged


def export_retention() -> timedelta:
    return timedelta(days=int(settings.PROVENANT_EXPORT_RETENTION_DAYS))


def export_for_request(request: DataSubjectRequest) -> DsarExport | None:
    """The request's export (only its purge date loaded), or None."""
    return DsarExport.objects.filter(request=request).only("purged_at").first()


def export_by_public_id(export_public_id: str) -> DsarExport | None:
    """The export a download link names, with its request and organization."""
    return DsarExport.objects.select_related("request", "organization").filter(public_id=export_public_id).first()


def export_ids_past_retention(*, now: datetime) -> list[int]:
    """Exports not purged yet whose retention period ran out, oldest first."""
    due = DsarExport.objects.filter(purged_at__isnull=True, created_at__lt=now - export_retention())
    return list(due.values_list("pk", flat=True).order_by("pk"))


def dsar_export_link(*, request: DataSubjectRequest) -> str:
    """The download URL to send the requester once legal has reviewed the export."""
    export = DsarExport.objects.filter(request=request).first()
    if export is None:
        raise NotFound("This request has no export.")
    if export.purged_at is not None:
        raise ExportPurged(f"This request's export was deleted on {export.purged_at:%Y-%m-%d}.")
    return download_url(export.public_id)
