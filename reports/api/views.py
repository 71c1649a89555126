"""Reports API: validate the period, call the report selector, render its figures."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from consent.api.views import OrganizationApi
from core.api.schema import api_operation
from core.problems import InvalidInput
from reports import selectors

DEFAULT_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 731  # two years, one of them a leap year


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"'{name}' must be an ISO 8601 date.",
            errors=[{"pointer": f"?{name}", "detail": "expected e.g. 2026-05-01"}],
        ) from None


def report_period(raw_from: str | None, raw_to: str | None, *, today: date) -> selectors.Period:
    """The requested period; by default the last 90 days up to today."""
    end = _parse_date(raw_to, "to") or today
    start = _parse_date(raw_from, "from") or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if end < start:
        raise InvalidInput("'to' lies before 'from'.", errors=[{"pointer": "?to", "detail": "must be >= from"}])
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(
            "The period is longer than two years.", errors=[{"pointer": "?from", "detail": "at most two years"}]
        )
    return selectors.Period(start=start, end=end)


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
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The report's figures, by section.")},
        problems={422: "Malformed date, `to` before `from`, or a period over two years (`validation-error`)."},
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        period = report_period(
            request.query_params.get("from"), request.query_params.get("to"), today=timezone.localdate(now)
        )
        return Response(selectors.compliance_report(organization=self.organization, period=period, now=now))
