"""``GET /api/v1/audit-log`` (issue #17): the organization's audit log for auditors (scope ``audit:read``), oldest
first, in the envelope of :mod:`core.api.pagination`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core import selectors
from core.api.pagination import PAGINATION_PARAMETERS, choice_param, envelope, keyset_response, list_operation
from core.api.views import OrganizationApi, parse_instant_param
from core.enums import AuditAction
from core.models import AuditLogEntry


class AuditLogEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The entry's place in the log (increasing)")
    occurred_at = serializers.DateTimeField()
    actor = serializers.CharField(help_text="api-key:<prefix>, staff:<username> or system")
    action = serializers.CharField(help_text="Dotted, e.g. consent.recorded")
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    data = serializers.DictField(help_text="Details of the change; never PII")  # type: ignore[assignment]


def audit_item(entry: AuditLogEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "occurred_at": entry.occurred_at.isoformat().replace("+00:00", "Z"),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "data": entry.data,
    }


class AuditLogListApi(OrganizationApi):
    required_scopes = {"GET": "audit:read"}

    @list_operation(
        scope="audit:read",
        summary="The organization's audit log",
        operation_id="audit_log_list",
        description="Every change with who made it, oldest first.",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("action", OpenApiTypes.STR, enum=AuditAction.values),
            OpenApiParameter("object_type", OpenApiTypes.STR),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="At or after (RFC 3339)"),
        ],
        responses={200: envelope(AuditLogEntrySerializer, "PaginatedAuditLogEntryList")},
        problems={422: "Bad `limit`, `after`, `action` or `since`."},
    )
    def get(self, request: Request) -> Response:
        entries = selectors.audit_log_list(
            organization=self.organization,
            action=choice_param(request, "action", AuditAction.values),
            object_type=request.query_params.get("object_type"),
            since=parse_instant_param(request.query_params.get("since"), "since"),
        )
        return keyset_response(
            request,
            entries,
            organization=self.organization,
            kind="audit-log",
            order=("id",),
            render=lambda rows: [audit_item(r) for r in rows],
        )
