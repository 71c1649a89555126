"""Integrator reads of the provenance app (issue #17): stamp records, deliveries and provenance alerts, in the one
envelope of :mod:`core.api.pagination`. GET handlers only; the POSTs on the same paths keep their own views and
are joined here (``StampCollectionApi``, ``DeliveryCollectionApi``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from consent.ledger import format_instant
from core.api.pagination import (
    PAGINATION_PARAMETERS,
    choice_param,
    envelope,
    keyset_response,
    known_key_param,
    list_operation,
)
from core.api.views import OrganizationApi, parse_instant_param
from provenance import selectors
from provenance.api.deliveries import DeliveryCreateApi, DeliveryOutputSerializer
from provenance.api.serializers import StampReasonSerializer
from provenance.api.views import StampCreateApi
from provenance.enums import AlertKind, AlertStatus, DeliveryStatus, StampDecision, StampReason
from provenance.models import ProvenanceAlert, Recipient, StampRecord


def recipient_param(api: OrganizationApi, request: Request) -> Recipient | None:
    return known_key_param(
        request, "recipient", lambda key: selectors.recipient_by_key(organization=api.organization, key=key)
    )


class StampRecordSerializer(serializers.Serializer):
    stamp_id = serializers.CharField()
    recipient = serializers.CharField()
    subject_id = serializers.CharField()
    purposes = serializers.ListField(child=serializers.CharField())
    decision = serializers.CharField(help_text="allow or block")
    reasons = StampReasonSerializer(many=True)
    data_digest = serializers.CharField(help_text="SHA-256 (hex) of the stamped data; never the data")
    kid = serializers.CharField(help_text="The signing key's id; empty for a block")
    jurisdiction = serializers.CharField()
    created_at = serializers.DateTimeField()


def stamp_item(record: StampRecord) -> dict[str, Any]:
    return {
        "stamp_id": record.stamp_id,
        "recipient": record.recipient.key,
        "subject_id": record.subject_external_id,
        "purposes": list(record.purposes),
        "decision": record.decision,
        "reasons": list(record.reasons),
        "data_digest": record.data_digest,
        "kid": record.kid,
        "jurisdiction": record.jurisdiction,
        "created_at": format_instant(record.created_at),
    }


class StampListApi(OrganizationApi):
    required_scopes = {"GET": "provenance:read"}

    @list_operation(
        scope="provenance:read",
        summary="List stamping decisions",
        operation_id="stamps_list",
        description="Oldest first. Records of decisions, never the data stamped.",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("recipient", OpenApiTypes.STR, description="A recipient key"),
            OpenApiParameter("decision", OpenApiTypes.STR, enum=StampDecision.values),
            OpenApiParameter("reason", OpenApiTypes.STR, enum=StampReason.values, description="A block's reason"),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Stamped at or after (RFC 3339)"),
        ],
        responses={200: envelope(StampRecordSerializer, "PaginatedStampRecordList")},
        problems={422: "Bad `limit`, `after`, `recipient`, `decision`, `reason` or `since`."},
    )
    def get(self, request: Request) -> Response:
        records = selectors.stamp_record_list(
            organization=self.organization,
            recipient=recipient_param(self, request),
            decision=choice_param(request, "decision", StampDecision.values),
            reason=choice_param(request, "reason", StampReason.values),
            since=parse_instant_param(request.query_params.get("since"), "since"),
        )
        return keyset_response(
            request,
            records,
            organization=self.organization,
            kind="stamps",
            order=("id",),
            render=lambda rows: [stamp_item(r) for r in rows],
        )


class StampCollectionApi(StampListApi, StampCreateApi):
    """``/stamps``: the list (GET) and stamping (POST)."""

    required_scopes = {**StampCreateApi.required_scopes, **StampListApi.required_scopes}


class DeliveryListApi(OrganizationApi):
    required_scopes = {"GET": "deliver"}

    @list_operation(
        scope="deliver",
        summary="List deliveries",
        operation_id="deliveries_list",
        description="Oldest first; each as `GET /deliveries/{id}` shows it, without the attempt log.",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("status", OpenApiTypes.STR, enum=DeliveryStatus.values),
            OpenApiParameter("recipient", OpenApiTypes.STR, description="A recipient key"),
        ],
        responses={200: envelope(DeliveryOutputSerializer, "PaginatedDeliveryList")},
        problems={422: "Bad `limit`, `after`, `status` or `recipient`."},
    )
    def get(self, request: Request) -> Response:
        deliveries = selectors.delivery_list(
            organization=self.organization,
            status=choice_param(request, "status", DeliveryStatus.values),
            recipient=recipient_param(self, request),
        )
        return keyset_response(
            request,
            deliveries,
            organization=self.organization,
            kind="deliveries",
            order=("id",),
            render=lambda rows: list(DeliveryOutputSerializer(rows, many=True).data),
        )


class DeliveryCollectionApi(DeliveryListApi, DeliveryCreateApi):
    """``/deliveries``: the list (GET) and a new delivery (POST)."""

    required_scopes = {**DeliveryCreateApi.required_scopes, **DeliveryListApi.required_scopes}


class ProvenanceAlertSerializer(serializers.Serializer):
    alert_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=AlertKind.values)
    status = serializers.ChoiceField(choices=AlertStatus.values)
    subject_id = serializers.CharField(allow_null=True)
    source = serializers.CharField(  # type: ignore[assignment]
        allow_null=True, help_text="The source key the record claimed"
    )
    failures = serializers.ListField(
        child=serializers.DictField(), help_text="[{field, problem, detail}]: never the record itself"
    )
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def alert_item(alert: ProvenanceAlert) -> dict[str, Any]:
    return {
        "alert_id": alert.public_id,
        "kind": alert.kind,
        "status": alert.status,
        "subject_id": alert.subject_external_id or None,
        "source": alert.source_key or None,
        "failures": list(alert.failures),
        "note": alert.note,
        "created_at": format_instant(alert.created_at),
        "updated_at": format_instant(alert.updated_at),
    }


class ProvenanceAlertListApi(OrganizationApi):
    required_scopes = {"GET": "provenance:read"}

    @list_operation(
        scope="provenance:read",
        summary="List provenance alerts",
        operation_id="provenance_alerts_list",
        description="Oldest first: failed inbound validations, dead-lettered deliveries and notices, overdue notices.",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("status", OpenApiTypes.STR, enum=AlertStatus.values),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=AlertKind.values),
        ],
        responses={200: envelope(ProvenanceAlertSerializer, "PaginatedProvenanceAlertList")},
        problems={422: "Bad `limit`, `after`, `status` or `kind`."},
    )
    def get(self, request: Request) -> Response:
        alerts = selectors.provenance_alert_list(
            organization=self.organization,
            status=choice_param(request, "status", AlertStatus.values),
            kind=choice_param(request, "kind", AlertKind.values),
        )
        return keyset_response(
            request,
            alerts,
            organization=self.organization,
            kind="provenance-alerts",
            order=("id",),
            render=lambda rows: [alert_item(r) for r in rows],
        )
