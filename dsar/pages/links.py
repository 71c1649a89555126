"""The privacy center's pages behind the links we email: confirming one's identity and downloading an export.

Opening a link (GET or HEAD, as mail scanners and previewers do) shows a page that says what it is and changes
nothing; only the POST from that page, carrying its signed confirmation value (bound to the link's token), acts.
A link that does not work (tampered, expired, purged, for another organization) answers a clear page with its
status. The token is the credential: no cookie, no CSRF token (the confirmation value does that job)."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from core.link_confirmations import CONFIRMATION_LIFETIME
from core.models import Organization
from core.problems import DomainError, NotFound
from dsar import selectors, services
from dsar.enums import RequestType
from dsar.erasure_review import erasure_cooling_off, erasure_review_mode
from dsar.pages.rights import right_label
from dsar.pages.site import TRANSLATED_LANGUAGES, PrivacyCenter, privacy_center_for, render_page
from dsar.status_links import status_link_url

PROBLEM_TEMPLATE = "privacy_center/request_link_problem.html"
# For a link that names no organization we could show (only the old API routes meet one): unbranded.
STANDALONE_PROBLEM_TEMPLATE = "privacy_center/request_link_problem_standalone.html"


def private(response: HttpResponse) -> HttpResponse:
    """The pages behind signed links: never cached, never indexed, never leaking the token as a referrer."""
    response["Cache-Control"] = "no-store"
    response.setdefault("Referrer-Policy", "no-referrer")  # the center's pages keep theirs (same-origin)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def zip_response(download: services.ExportDownload) -> HttpResponse:
    response = HttpResponse(download.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return private(response)


def download_page_path(organization_slug: str, token: str) -> str:
    return reverse("privacy_center:download", kwargs={"slug": organization_slug, "token": token})


def verify_page_path(organization_slug: str, token: str) -> str:
    return reverse("privacy_center:verify", kwargs={"slug": organization_slug, "token": token})


# The problem types a person can meet here, in their words (the English detail of a DomainError is for APIs).
_BAD_LINK = (
    gettext_lazy("This link does not work"),
    gettext_lazy("The link is incomplete or was changed. Open it again from our email, exactly as we sent it."),
)
_CONFIRM_AGAIN = (
    gettext_lazy("Please confirm again"),
    gettext_lazy(
        "The confirmation of this page ran out or does not belong to this link. Open the link from our email "
        "again and press the button."
    ),
)
_PROBLEM_TEXTS: dict[str, tuple[Promise, Promise]] = {
    "verification-link-invalid": _BAD_LINK,
    "verification-link-expired": (
        gettext_lazy("This link has expired"),
        gettext_lazy(
            "For your safety our links work only for a while. We send a reminder with a fresh link; you can also "
            "make your request again."
        ),
    ),
    "verification-confirmation-invalid": _CONFIRM_AGAIN,
    "request-closed": (
        gettext_lazy("This request is closed"),
        gettext_lazy("The request was closed; confirming it changes nothing."),
    ),
    "export-link-invalid": _BAD_LINK,
    "export-link-expired": (
        gettext_lazy("This download link has expired"),
        gettext_lazy("For your safety a download link works for seven days. Write to us and we send you a new one."),
    ),
    "export-purged": (
        gettext_lazy("This copy of your data was deleted"),
        gettext_lazy(
            "We keep a copy of your data only for a limited time, and never after your data was erased. Make a "
            "new access request if you still need it."
        ),
    ),
    "export-unreadable": (
        gettext_lazy("This copy cannot be opened"),
        gettext_lazy("Write to us and we prepare a new one."),
    ),
    "export-confirmation-invalid": _CONFIRM_AGAIN,
    "status-link-invalid": _BAD_LINK,
    "status-link-expired": (
        gettext_lazy("This status link has expired"),
        gettext_lazy("Write to us to learn where your request stands."),
    ),
    "not-found": (
        gettext_lazy("This link does not work"),
        gettext_lazy("What it pointed to does not exist, or not in this privacy center."),
    ),
}


def link_problem_page(request: HttpRequest, exc: DomainError, *, center: PrivacyCenter | None) -> HttpResponse:
    """A clear page for a link that does not work, with the problem's status code; nothing was changed."""
    title, detail = _PROBLEM_TEXTS.get(exc.slug, _PROBLEM_TEXTS["not-found"])
    if center is not None:
        context = {"title": title, "detail": detail, "slug": exc.slug}
        return private(render_page(request, center, PROBLEM_TEMPLATE, context, status=exc.status))
    language = translation.get_language_from_request(request)
    language = language if language in TRANSLATED_LANGUAGES else TRANSLATED_LANGUAGES[0]
    with translation.override(language):
        context = {"title": title, "detail": detail, "slug": exc.slug, "language": language}
        response = render(request, STANDALONE_PROBLEM_TEMPLATE, context, status=exc.status)
    response["Content-Language"] = language
    return private(response)


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


def _same_organization(public_id: str, organization: Organization) -> None:
    """A link shown under another organization's privacy center is not valid there (404, nothing said)."""
    if selectors.dsar_for_organization(organization=organization, public_id=public_id) is None:
        raise NotFound("This link does not belong to this privacy center.")


@method_decorator(csrf_exempt, name="dispatch")
class VerifyIdentityPage(View):
    """GET/HEAD /privacy/<org>/verify/<token>: what confirming does; POST from it verifies the request."""

    http_method_names = ["get", "head", "post"]

    def get(self, request: HttpRequest, slug: str, token: str) -> HttpResponse:
        center = privacy_center_for(request, slug)
        try:
            preview = services.dsar_identity_link_preview(token=token)
            _same_organization(preview.public_id, center.organization)
        except DomainError as exc:
            return link_problem_page(request, exc, center=center)
        status_url = (
            status_link_url(preview.public_id, privacy_center_url=selectors.privacy_center_url(center.organization))
            if preview.is_verified
            else ""
        )
        with translation.override(center.language):
            context = {
                "preview": preview,
                "right": right_label(preview.request_type),
                "is_deletion": preview.request_type == RequestType.DELETION,
                "erasure_wait": _erasure_wait_text(),
                "confirmation_minutes": _minutes(CONFIRMATION_LIFETIME),
                "status_url": status_url,
            }
        return private(render_page(request, center, "privacy_center/verify_identity.html", context))

    def post(self, request: HttpRequest, slug: str, token: str) -> HttpResponse:
        center = privacy_center_for(request, slug)
        try:
            preview = services.dsar_identity_link_preview(token=token)
            _same_organization(preview.public_id, center.organization)
            outcome = services.dsar_identity_verify_by_link(token=token, confirmation=request.POST.get("confirmation"))
        except DomainError as exc:
            return link_problem_page(request, exc, center=center)
        context = {
            "request_id": outcome.public_id,
            "is_newly_verified": outcome.is_newly_verified,
            "status_url": status_link_url(
                outcome.public_id, privacy_center_url=selectors.privacy_center_url(center.organization)
            ),
        }
        return private(render_page(request, center, "privacy_center/verify_identity_done.html", context))


@method_decorator(csrf_exempt, name="dispatch")
class ExportDownloadPage(View):
    """GET/HEAD /privacy/<org>/download/<token>: what the link is and until when it works; POST from it downloads
    the ZIP (audited)."""

    http_method_names = ["get", "head", "post"]

    def get(self, request: HttpRequest, slug: str, token: str) -> HttpResponse:
        center = privacy_center_for(request, slug)
        try:
            preview = selectors.export_link_preview(token)
            if preview.organization.pk != center.organization.pk:
                raise NotFound("This link does not belong to this privacy center.")
        except DomainError as exc:
            return link_problem_page(request, exc, center=center)
        context = {
            "preview": preview,
            "is_portability": preview.request_type == RequestType.PORTABILITY,
            "size_kib": max(1, round(preview.size_bytes / 1024)),
            "confirmation_minutes": _minutes(CONFIRMATION_LIFETIME),
        }
        return private(render_page(request, center, "privacy_center/download.html", context))

    def post(self, request: HttpRequest, slug: str, token: str) -> HttpResponse:
        center = privacy_center_for(request, slug)
        try:
            if selectors.export_link_organization(token).pk != center.organization.pk:
                raise NotFound("This link does not belong to this privacy center.")
            download = services.dsar_export_download(token=token, confirmation=request.POST.get("confirmation"))
        except DomainError as exc:
            return link_problem_page(request, exc, center=center)
        return zip_response(download)
