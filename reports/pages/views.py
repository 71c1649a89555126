"""Client report pages: sign in, the report for a period, CSV per table, the whole report as PDF.

Thin views: find the organization the user may read (``reports.access``), parse the period, call the
report selector, arrange it (``reports.sections``) and render. Anything not the user's answers 404.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.models import Organization
from core.problems import InvalidInput
from reports import selectors
from reports.access import can_view_any_report, client_organization, organization_for_report
from reports.downloads import report_pdf, table_csv
from reports.layout import PRINTED_ROWS, report_table
from reports.periods import report_period
from reports.sections import TABLE_SECTIONS, report_sections
from reports.signin import signin_failed, signin_is_locked, signin_retry_after, signin_succeeded

STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "reports" / "report.css"
# Nothing but our own stylesheet; forms post only to us; never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["Referrer-Policy"] = "same-origin"
    return response


class ClientLoginView(auth_views.LoginView):
    """Sign-in with throttling (``reports.signin``): a locked name answers 429 whatever the password."""

    template_name = "reports/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))[:150]
        if signin_is_locked(request, username):
            context = self.get_context_data(form=self.get_form(), locked=True)
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(signin_retry_after(request, username))
            return response
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            signin_succeeded(request, username)
        else:
            signin_failed(request, username)
        return response


class ClientLogoutView(auth_views.LogoutView):
    next_page = "reports:login"


@require_GET
@login_required
def report_home(request: HttpRequest) -> HttpResponse:
    """A client goes to their organization's report; legal staff to the organization list in the admin."""
    organization = client_organization(user=request.user)
    if organization is not None:
        return redirect("reports:report", slug=organization.slug)
    if can_view_any_report(request.user):
        return redirect("admin:core_organization_changelist")
    raise Http404


def _organization(request: HttpRequest, slug: str) -> Organization:
    organization = organization_for_report(user=request.user, slug=slug)
    if organization is None:
        raise Http404
    return organization


def _quick_periods(today: date) -> list[tuple[str, str]]:
    """Links for the usual periods, as query strings."""
    periods = (
        ("Last 30 days", today - timedelta(days=30)),
        ("Last 90 days", today - timedelta(days=90)),
        ("Last 12 months", today - timedelta(days=365)),
        ("Year to date", today.replace(month=1, day=1)),
    )
    return [(label, f"from={start.isoformat()}&to={today.isoformat()}") for label, start in periods]


def _report_context(
    request: HttpRequest, organization: Organization, sections: tuple[str, ...] = selectors.SECTIONS
) -> dict[str, Any]:
    now = timezone.now()
    today = now.astimezone(UTC).date()
    period = report_period(request.GET.get("from"), request.GET.get("to"), today=today)
    report = selectors.compliance_report(organization=organization, period=period, now=now, sections=sections)
    query = f"from={period.start.isoformat()}&to={period.end.isoformat()}"
    return {
        "organization": organization,
        "report": report,
        "sections": report_sections(report, today=today),
        "period": period,
        "query": query,
        "is_staff_view": can_view_any_report(request.user),
        "printed_rows": PRINTED_ROWS,
        "quick_periods": _quick_periods(today),
    }


def _period_refused(error: InvalidInput) -> HttpResponse:
    return _private(HttpResponse(error.detail, status=400, content_type="text/plain; charset=utf-8"))


@require_GET
@login_required
def report_page(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(request, slug)
    try:
        context = _report_context(request, organization)
    except InvalidInput as error:
        context = {"organization": organization, "error": error.detail, "query": ""}
        return _private(render(request, "reports/report.html", context, status=400))
    return _private(render(request, "reports/report.html", context))


@require_GET
@login_required
def report_csv(request: HttpRequest, slug: str, table: str) -> HttpResponse:
    organization = _organization(request, slug)
    section = TABLE_SECTIONS.get(table)
    if section is None:
        raise Http404
    try:
        context = _report_context(request, organization, sections=(section,))
    except InvalidInput as error:
        return _period_refused(error)
    found = report_table(context["sections"], table)
    if found is None:
        raise Http404
    period = context["period"]
    response = HttpResponse(table_csv(found), content_type="text/csv; charset=utf-8")
    name = f"{organization.slug}-{found.key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return _private(response)


@require_GET
@login_required
def report_pdf_download(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(request, slug)
    try:
        context = _report_context(request, organization)
    except InvalidInput as error:
        return _period_refused(error)
    html = render_to_string(
        "reports/report.html",
        {**context, "for_print": True, "stylesheet": STYLESHEET.read_text(encoding="utf-8")},
        request=request,
    )
    period = context["period"]
    response = HttpResponse(report_pdf(html), content_type="application/pdf")
    name = f"{organization.slug}-compliance-report-{period.start.isoformat()}-{period.end.isoformat()}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return _private(response)


def report_url(organization: Organization) -> str:
    return reverse("reports:report", kwargs={"slug": organization.slug})
