"""The privacy center's pages behind the links we email: confirming one's identity and downloading an export.

Opening a link (GET or HEAD, as mail scanners and previewers do) shows a page that says what it is and changes
nothing; only the POST from that page, carrying its signed confirmation value (bound to the link's token), acts.
A link that does not work (tampered, expired, purged, for another organization) answers a clear page with its
status. The token is the credential: no cookie, no CSRF token (the confirmation value does that job)."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from core.models import Organization
from core.problems import DomainError, NotFound
from dsar import selectors, services
from dsar.enums import RequestType
from dsar.erasure_review import erasure_cooling_off, erasure_review_mode
from dsar.export_links import CONFIRMATION_LIFETIME as DOWNLOAD_CONFIRMATION_LIFETIME
from dsar.identity_links import CONFIRMATION_LIFETIME
from dsar.pages.common import center_context, organization_or_404
from dsar.status_links import status_link_url

PROBLEM_TEMPLATE = "privacy_center/link_problem.html"


def private(response: HttpResponse) -> HttpResponse:
    """The pages behind signed links: never cached, never indexed, never leaking the token as a referrer."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def zip_response(download: services.ExportDownload) -> HttpResponse:
    response = HttpResponse(download.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return private(response)


def download_page_path(organization_slug: str, token: str) -> str:
    return f"/privacy/{organization_slug}/download/{token}"


# The problem types a person can meet here, in their words (the English detail of a DomainError is for APIs).
_PROBLEM_TEXTS = {
    "verification-link-invalid": (
        "This link does not work",
        "The link is incomplete or was changed. Open it again from our email, exactly as we sent it.",
    ),
    "verification-link-expired": (
        "This link has expired",
        "For your safety our links work only for a while. We send a reminder with a fresh link; you can also "
        "file your request again.",
    ),
    "verification-confirmation-invalid": (
        "Please confirm again",
        "The confirmation of this page ran out or does not belong to this link. Open the link from our email "
        "again and press the button.",
    ),
    "request-closed": ("This request is closed", "The request was closed; confirming it changes nothing."),
    "export-link-invalid": (
        "This link does not work",
        "The link is incomplete or was changed. Open it again from our email, exactly as we sent it.",
    ),
    "export-link-expired": (
        "This download link has expired",
        "For your safety a download link works for seven days. Contact us and we send you a new one.",
    ),
    "export-purged": (
        "This copy of your data was deleted",
        "We keep a copy of your data only for a limited time, and never after your data was erased. File a new "
        "access request if you still need it.",
    ),
    "export-unreadable": ("This copy cannot be opened", "Contact us and we prepare a new one."),
    "export-confirmation-invalid": (
        "Please confirm again",
        "The confirmation of this page ran out or does not belong to this link. Open the link from our email "
        "again and press the download button.",
    ),
    "status-link-invalid": (
        "This link does not work",
        "The link is incomplete or was changed. Open it again exactly as we gave it to you.",
    ),
    "status-link-expired": ("This status link has expired", "Contact us to learn where your request stands."),
    "not-found": ("This link does not work", "What it pointed to does not exist any more."),
}


def link_problem_page(request: HttpRequest, exc: DomainError, *, organization: Organization | None) -> HttpResponse:
    """A clear page for a link that does not work, with the problem's status code; nothing was changed."""
    title, detail = _PROBLEM_TEXTS.get(exc.slug, (exc.title, exc.detail))
    context = {**center_context(request, organization), "title": _(title), "detail": _(detail), "slug": exc.slug}
    return private(render(request, PROBLEM_TEMPLATE, context, status=exc.status))


def _erasure_wait_text() -> str:
    """What happens after confirming a deletion request, in the deployment's review mode."""
    if erasure_review_mode() == "legal":
        return _("Our privacy team reviews the request before anything is erased; until then it can still be stopped.")
    hours = erasure_cooling_off().total_seconds() / 3600
    if hours <= 0:
        return _("The erasure starts right after you confirm.")
    return _("The erasure starts %(hours)s hours after you confirm; until then it can still be stopped.") % {
        "hours": f"{hours:g}"
    }


def _minutes(lifetime: timedelta) -> int:
    return int(lifetime.total_seconds() // 60)


@method_decorator(csrf_exempt, name="dispatch")
class VerifyIdentityPage(View):
    """GET/HEAD /privacy/<org>/verify/<token>: what confirming does; POST from it verifies the request."""

    http_method_names = ["get", "head", "post"]

    def get(self, request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
        organization = organization_or_404(organization_slug)
        try:
            preview = services.dsar_identity_link_preview(token=token)
            _same_organization(preview.public_id, organization)
        except DomainError as exc:
            return link_problem_page(request, exc, organization=organization)
        context = {
            **center_context(request, organization),
            "preview": preview,
            "is_deletion": preview.request_type == "deletion",
            "erasure_wait": _erasure_wait_text(),
            "confirmation_minutes": _minutes(CONFIRMATION_LIFETIME),
            "status_url": status_link_url(preview.public_id, organization_slug=organization.slug)
            if preview.is_verified
            else "",
        }
        return private(render(request, "privacy_center/verify_identity.html", context))

    def post(self, request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
        organization = organization_or_404(organization_slug)
        try:
            preview = services.dsar_identity_link_preview(token=token)
            _same_organization(preview.public_id, organization)
            outcome = services.dsar_identity_verify_by_link(token=token, confirmation=request.POST.get("confirmation"))
        except DomainError as exc:
            return link_problem_page(request, exc, organization=organization)
        context = {
            **center_context(request, organization),
            "request_id": outcome.public_id,
            "is_newly_verified": outcome.is_newly_verified,
            "status_url": status_link_url(outcome.public_id, organization_slug=organization.slug),
        }
        return private(render(request, "privacy_center/verify_identity_done.html", context))


def _same_organization(public_id: str, organization: Organization) -> None:
    """A link shown under another organization's privacy center is not valid there (404, nothing said)."""
    found = selectors.dsar_for_organization(organization=organization, public_id=public_id)
    if found is None:
        raise NotFound("This link does not belong to this privacy center.")


@method_decorator(csrf_exempt, name="dispatch")
class ExportDownloadPage(View):
    """GET/HEAD /privacy/<org>/download/<token>: what the link is and until when it works; POST from it downloads
    the ZIP (audited)."""

    http_method_names = ["get", "head", "post"]

    def get(self, request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
        organization = organization_or_404(organization_slug)
        try:
            preview = selectors.export_link_preview(token)
            if preview.organization.pk != organization.pk:
                raise NotFound("This link does not belong to this privacy center.")
        except DomainError as exc:
            return link_problem_page(request, exc, organization=organization)
        context = {
            **center_context(request, organization),
            "preview": preview,
            "is_portability": preview.request_type == RequestType.PORTABILITY,
            "size_kib": max(1, round(preview.size_bytes / 1024)),
            "confirmation_minutes": _minutes(DOWNLOAD_CONFIRMATION_LIFETIME),
        }
        return private(render(request, "privacy_center/download.html", context))

    def post(self, request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
        organization = organization_or_404(organization_slug)
        try:
            if selectors.export_link_organization(token).pk != organization.pk:
                raise NotFound("This link does not belong to this privacy center.")
            download = services.dsar_export_download(token=token, confirmation=request.POST.get("confirmation"))
        except DomainError as exc:
            return link_problem_page(request, exc, organization=organization)
        return zip_response(download)
