"""What legal sees before acting on one request: the warnings of its fulfilment (no subject, an empty export) and
of its deadline engine, what approving it sends and to whom, and the requests of one subject."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet

from consent.models import Subject
from core.models import StaffOrganizationScope
from dsar.enums import EXPORTING_TYPES, FINAL_STATUSES, RequestStatus
from dsar.models import DataSubjectRequest, DsarExport, FulfilmentStep
from dsar.selectors.requests import dsar_requester_masked

BEFORE_FULFILMENT: Final = frozenset({RequestStatus.RECEIVED, RequestStatus.IDENTITY_PENDING, RequestStatus.VERIFIED})
# The export's tables, as the cover letter names them to the requester.
TABLE_LABELS: Final = {
    "subject": "identifiers",
    "consent_history": "consent records",
    "consent_state": "current consent state",
    "stamp_log": "records of data sent to recipients",
    "sources": "sources of the records",
}

NO_SUBJECT_YET: Final = (
    "No subject is linked to this request: link the ledger's subject (Link subject) before it is carried out, or "
    "its fulfilment stops at review with nothing from the ledger."
)
EMPTY_EXPORT: Final = (
    "The export is empty: no data about the person was found in the ledger or by any connector. Check that the "
    "request names the right person before approving; approving sends the requester an empty export."
)
NO_SUBJECT_EXPORT: Final = (
    "No subject was linked when the export was built: it holds nothing from the consent ledger. Link the subject "
    "and reject and re-file, or approve if the person is not in the ledger."
)
NO_SUBJECT_ERASURE: Final = (
    "No subject was found in the ledger: nothing was erased there (the requester's identifiers were suppressed and "
    "the connectors called). Check that the request names the right person before closing it."
)
NO_EXPORT_YET: Final = "No export has been built for this request yet: approving now sends the requester no data."
NO_SUBJECT_OPT_OUT: Final = "The request names no subject: no opt-out was recorded. Link the subject or reject it."


def _step_results(request: DataSubjectRequest) -> dict[str, dict[str, Any]]:
    return dict(FulfilmentStep.objects.filter(request=request).values_list("step", "result"))


def dsar_review_warnings(request: DataSubjectRequest) -> list[str]:
    """What legal must look at before closing the request: the fulfilment's findings (recorded in its steps) and,
    while it waits to be carried out, a missing subject."""
    if request.status in FINAL_STATUSES:
        return []
    warnings: list[str] = []
    if request.status in BEFORE_FULFILMENT and request.subject_id is None and not request.subject_external_id:
        warnings.append(NO_SUBJECT_YET)
    results = _step_results(request)
    export = results.get("export") or {}
    if export.get("empty"):
        warnings.append(EMPTY_EXPORT)
    elif export.get("subject_found") is False:
        warnings.append(NO_SUBJECT_EXPORT)
    if (results.get("erase") or {}).get("subject_found") is False:
        warnings.append(NO_SUBJECT_ERASURE)
    if (results.get("opt_out") or {}).get("subject_found") is False:
        warnings.append(NO_SUBJECT_OPT_OUT)
    return warnings


def dsar_engine_warnings(request: DataSubjectRequest) -> list[str]:
    """The deadline engine's warnings, as stored and as the API returns them (``deadlines.warnings``)."""
    return [str(warning) for warning in (request.deadlines or {}).get("warnings") or []]


@dataclass(frozen=True)
class ApprovalPreview:
    """What approving a request sends, and to whom (the address masked)."""

    public_id: str
    request_type: str
    recipient_masked: str
    sends_link: bool
    files: list[str] = field(default_factory=list)
    categories: list[tuple[str, int]] = field(default_factory=list)
    size_bytes: int | None = None
    is_purged: bool = False
    warnings: list[str] = field(default_factory=list)


def approval_preview(request: DataSubjectRequest) -> ApprovalPreview:
    """The export's files and its categories with their row counts, and the masked address the completion
    message (with the download link, for an export) goes to; the review warnings with them."""
    masked = dsar_requester_masked(request).email
    export: DsarExport | None = (
        DsarExport.objects.filter(request=request).only("files", "size_bytes", "purged_at").first()
        if request.type in EXPORTING_TYPES
        else None
    )
    rows: dict[str, int] = (_step_results(request).get("export") or {}).get("rows") or {}
    warnings = dsar_review_warnings(request)
    if request.type in EXPORTING_TYPES and export is None:
        warnings.append(NO_EXPORT_YET)
    return ApprovalPreview(
        public_id=request.public_id,
        request_type=request.type,
        recipient_masked=masked,
        sends_link=bool(masked) and export is not None and export.purged_at is None,
        files=list(export.files) if export is not None else [],
        categories=[(TABLE_LABELS.get(name, name), count) for name, count in rows.items()],
        size_bytes=export.size_bytes if export is not None else None,
        is_purged=export is not None and export.purged_at is not None,
        warnings=warnings,
    )


def dsars_of_subject(subject: Subject) -> QuerySet[DataSubjectRequest]:
    """The subject's requests (linked, or naming its external id), newest first."""
    named = Q(subject=subject)
    if subject.external_id:
        named |= Q(subject__isnull=True, subject_external_id=subject.external_id)
    return (
        DataSubjectRequest.objects.filter(named, organization_id=subject.organization_id)
        .only("public_id", "type", "status", "received_at", "due_on", "channel")
        .order_by("-received_at", "-id")
    )


def subjects_of_request_id(public_id: str) -> QuerySet[Subject]:
    """The subject a request (by its public id) is linked to, as a query; empty when it names none."""
    linked = DataSubjectRequest.objects.filter(public_id=public_id.strip().upper(), subject__isnull=False)
    return Subject.objects.filter(pk__in=linked.values("subject_id"))


def staff_who_may_handle(organization_ids: set[int]) -> QuerySet[Any]:
    """The active staff who may work requests (``dsar.change_datasubjectrequest``, through a group, their own
    permissions or as superusers) and see every one of ``organization_ids`` (no organization scope, or one that
    holds them all): whom a request may be assigned to."""
    permission = Permission.objects.filter(content_type__app_label="dsar", codename="change_datasubjectrequest")
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions__in=permission) | Q(user_permissions__in=permission))
        .distinct()
    )
    excluded = [
        scope.user_id
        for scope in StaffOrganizationScope.objects.filter(user__in=users)
        .select_related("user")
        .prefetch_related("organizations")
        if not organization_ids <= {organization.pk for organization in scope.organizations.all()}
        and not scope.user.is_superuser
    ]
    return users.exclude(pk__in=excluded).order_by("first_name", "last_name", "username")
