"""Report periods near year 1 or 9999 are refused with a clear 4xx (security audit item 9): before, the
period's arithmetic overflowed into a 500 in the API, the page, the CSV and the PDF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditLogEntry, Organization
from tests.consent.api_contract import assert_problem, pointers

PERIODS = [
    {"from": "0001-01-01", "to": "0001-01-05"},
    {"to": "0001-01-01"},  # the default start, 90 days earlier, lay before year 1
    {"from": "9999-12-30", "to": "9999-12-31"},  # the day after the period lay after 9999
    {"from": "1969-12-31", "to": "1970-01-02"},
]


@pytest.mark.parametrize("period", PERIODS)
def test_report_api_refuses_a_period_outside_the_accepted_range(
    organization: Organization, api_client_for: Callable[..., APIClient], period: dict[str, str]
) -> None:
    client = api_client_for(organization, "reports:read")
    client.raise_request_exception = False

    response = client.get("/api/v1/reports/compliance", period)

    body = assert_problem(response, 422, "validation-error")
    assert pointers(body) & {"?from", "?to"}
    assert "between 1970-01-01 and 2200-12-31" in body["detail"]


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("suffix", ["", "report.pdf", "csv/consent-daily.csv"], ids=["page", "pdf", "csv"])
def test_report_page_csv_and_pdf_answer_400_with_the_reason(
    organization: Organization, client_user_of: Callable[..., Any], period: dict[str, str], suffix: str
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(client_user_of(organization))
    audit_before = AuditLogEntry.objects.count()

    response = client.get(f"/reports/org/{organization.slug}/{suffix}", period)

    assert response.status_code == 400
    assert "between 1970-01-01 and 2200-12-31" in response.content.decode()
    assert response["Cache-Control"] == "private, no-store"
    assert AuditLogEntry.objects.count() == audit_before
