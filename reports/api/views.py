"""Reports API: validate the period, call the report selector, render its figures."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import api_operation
from core.api.views import OrganizationApi
from reports import selectors
from reports.api.serializers import ComplianceReportSerializer
from reports.periods import report_period


class ComplianceReportApi(OrganizationApi):
    required_scopes = {"GET": "reports:read"}

    @api_operation(
        scope="reports:read",
        summary="Compliance report figures",
        description="Consent, provenance completeness, GPC, stamping, DSAR and ledger-integrity figures of your "
        "organization for a period of whole UTC days (default: the last 90 days; at most two years).",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="First day (inclusive)"),
            OpenApiParameter("to", OpenApiTypes.DATE, OpenApiParameter.QUERY, description="Last day (inclusive)"),
        ],
        responses={200: ComplianceReportSerializer},
        problems={422: "Malformed date, `to` before `from`, or a period over two years (`validation-error`)."},
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        period = report_period(
            request.query_params.get("from"), request.query_params.get("to"), today=timezone.localdate(now)
        )
        report = selectors.compliance_report(organization=self.organization, period=period, now=now)
        return Response(ComplianceReportSerializer(report).data)
