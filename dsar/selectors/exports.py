"""Reads of export archives: a request's export, the one a download link names, those past their retention."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from dsar.models import DataSubjectRequest, DsarExport


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
