"""``GET /api/v1/dsar`` (issue #17): the organization's data-subject requests in the envelope of
:mod:`core.api.pagination`. The requester's contact is not listed (the detail shows it masked, opening it per
request): a list opens nothing sealed."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.pagination import (
    PAGINATION_PARAMETERS,
    choice_param,
    envelope,
    invalid_parameter,
    keyset_response,
    list_operation,
)
from core.api.views import OrganizationApi
from core.timeutil import is_accepted_date
from dsar import selectors
from dsar.api.views import DsarCreateApi
from dsar.enums import DsarRegime, RequestStatus, RequestType
from dsar.models import DataSubjectRequest


class DsarListItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="ULID")
    status = serializers.CharField()
    type = serializers.CharField()
    regime = serializers.CharField()
    jurisdiction = serializers.CharField()
    channel = serializers.CharField()
    subject_id = serializers.CharField(help_text="Empty while unknown")
    received_at = serializers.DateTimeField()
    due_on = serializers.DateField(help_text="The enforced due date")
    is_overdue = serializers.BooleanField()
    is_extended = serializers.BooleanField()
    assignee = serializers.CharField(allow_null=True, help_text="The staff username handling it")
    language = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def dsar_item(request: DataSubjectRequest, overdue_ids: set[int]) -> dict[str, Any]:
    return {
        "id": request.public_id,
        "status": request.status,
        "type": request.type,
        "regime": request.regime,
        "jurisdiction": request.jurisdiction,
        "channel": request.channel,
        "subject_id": request.subject_external_id,
        "received_at": request.received_at,
        "due_on": request.due_on,
        "is_overdue": request.pk in overdue_ids,
        "is_extended": request.is_extended,
        "assignee": request.assignee.get_username() if request.assignee else None,
        "language": request.language,
        "created_at": request.created_at,
        "updated_at": request.updated_at,
    }


def date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        parsed = None
    if parsed is None or len(raw) != 10 or not is_accepted_date(parsed):
        raise invalid_parameter(name, "an ISO 8601 date, e.g. 2026-05-01", f"`{name}` is not a date.")
    return parsed


def boolean_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw not in {"true", "false"}:
        raise invalid_parameter(name, "true or false", f"`{name}` must be true or false.")
    return raw == "true"


class DsarListApi(OrganizationApi):
    required_scopes = {"GET": "dsar:read"}

    @list_operation(
        scope="dsar:read",
        summary="List data-subject requests",
        operation_id="dsar_list",
        description="Oldest first. `overdue=true`: open requests past their due date. The requester's contact is "
        "not listed; `GET /dsar/{id}` shows it masked.",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("status", OpenApiTypes.STR, enum=RequestStatus.values),
            OpenApiParameter("type", OpenApiTypes.STR, enum=RequestType.values),
            OpenApiParameter("regime", OpenApiTypes.STR, enum=DsarRegime.values),
            OpenApiParameter("due_before", OpenApiTypes.DATE, description="Due strictly before this date"),
            OpenApiParameter("overdue", OpenApiTypes.BOOL),
            OpenApiParameter("assignee", OpenApiTypes.STR, description="A staff username"),
        ],
        responses={200: envelope(DsarListItemSerializer, "PaginatedDsarList")},
        problems={422: "Bad `limit`, `after` or filter."},
    )
    def get(self, request: Request) -> Response:
        today = timezone.now().date()
        requests = selectors.dsar_list(
            organization=self.organization,
            status=choice_param(request, "status", RequestStatus.values),
            request_type=choice_param(request, "type", RequestType.values),
            regime=choice_param(request, "regime", DsarRegime.values),
            due_before=date_param(request, "due_before"),
            overdue=boolean_param(request, "overdue"),
            assignee=request.query_params.get("assignee"),
            today=today,
        )

        def render(rows: list[DataSubjectRequest]) -> list[Any]:
            overdue = set(
                selectors.dsar_list(organization=self.organization, overdue=True, today=today)
                .filter(pk__in=[row.pk for row in rows])
                .values_list("pk", flat=True)
            )
            return list(DsarListItemSerializer([dsar_item(row, overdue) for row in rows], many=True).data)

        return keyset_response(
            request, requests, organization=self.organization, kind="dsar", order=("id",), render=render
        )


class DsarCollectionApi(DsarListApi, DsarCreateApi):
    """``/dsar``: the list (GET) and a new request (POST)."""

    required_scopes = {**DsarCreateApi.required_scopes, **DsarListApi.required_scopes}
