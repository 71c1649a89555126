"""The privacy center's request pages: the form (every right the person's jurisdiction grants) and the status page
a signed link opens.

No JavaScript: the form first asks where the person lives (a GET, which changes nothing) and then offers exactly the
rights that place's law grants. Filing goes through ``services.dsar_file_from_privacy_center`` (the API's intake
path) and is throttled per client address and per email; the answer page is the same whether or not we know the
email."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from core.problems import DomainError, InvalidInput, NotFound
from core.throttling import Throttle, throttle_allows
from dsar import selectors, services
from dsar.enums import NO_VERIFICATION_NEEDED, RequestStatus
from dsar.pages.links import link_problem_page, private
from dsar.pages.rights import form_rights, right_label
from dsar.pages.site import PrivacyCenter, privacy_center_for, render_page
from dsar.rights import FormJurisdiction, form_jurisdiction, form_jurisdictions
from dsar.status_links import status_link_url

FORM_TEMPLATE = "privacy_center/request_form.html"
FIELDS = ("jurisdiction", "type", "email", "name")
MAX_FIELD_LENGTH = 300

_FIELD_MESSAGES: dict[str, Promise] = {
    "/jurisdiction": gettext_lazy("Choose where you live from the list."),
    "/type": gettext_lazy("Choose one of the requests offered for where you live."),
    "/email": gettext_lazy("Enter a valid email address."),
    "/name": gettext_lazy("The name is too long."),
}


def request_throttle() -> Throttle:
    return Throttle(
        "privacy_center.request",
        per_address=settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_ADDRESS,
        per_identifier=settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_EMAIL,
    )


def _field_errors(exc: InvalidInput) -> dict[str, Promise]:
    """The service's JSON-pointer errors as the form's fields, in the person's language."""
    errors: dict[str, Promise] = {}
    for error in exc.extra.get("errors") or []:
        pointer = str(error.get("pointer", "")) if isinstance(error, dict) else ""
        if pointer in _FIELD_MESSAGES:
            errors[pointer.lstrip("/")] = _FIELD_MESSAGES[pointer]
    return errors or {"type": _FIELD_MESSAGES["/type"]}


# No CSRF token: the form carries no ambient authority (no session, no cookie), so a POST from another site files
# exactly what its author could file here, and the throttles bound that. It also works where cookies are blocked
# and where a browser posts with ``Origin: null`` (a no-referrer policy), which Django's CSRF check refuses.
@method_decorator(csrf_exempt, name="dispatch")
class RequestFormPage(View):
    """GET /privacy/<org>/requests/ (``?jurisdiction=DE`` picks the place): the form; POST files the request."""

    http_method_names = ["get", "head", "post"]

    def _form(
        self,
        request: HttpRequest,
        center: PrivacyCenter,
        *,
        place: FormJurisdiction | None,
        values: dict[str, str],
        errors: dict[str, Promise],
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "active_page": "requests",
            "jurisdictions": form_jurisdictions(),
            "place": place,
            "rights": form_rights(place) if place is not None else [],
            "values": values,
            "errors": errors,
            "form_url": reverse("privacy_center:request_form", kwargs={"slug": center.slug}),
        }
        return private(render_page(request, center, FORM_TEMPLATE, context, status=status))

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        center = privacy_center_for(request, slug)
        code = str(request.GET.get("jurisdiction", ""))[:MAX_FIELD_LENGTH]
        place = form_jurisdiction(code) if code else None
        errors = {"jurisdiction": _FIELD_MESSAGES["/jurisdiction"]} if code and place is None else {}
        return self._form(request, center, place=place, values={"jurisdiction": code}, errors=errors)

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        center = privacy_center_for(request, slug)
        values = {name: str(request.POST.get(name, ""))[:MAX_FIELD_LENGTH] for name in FIELDS}
        place = form_jurisdiction(values["jurisdiction"]) if values["jurisdiction"] else None
        if not throttle_allows(request, request_throttle(), identifier=values["email"].strip() or None):
            response = render_page(request, center, "privacy_center/request_throttled.html", status=429)
            response["Retry-After"] = "3600"
            return private(response)
        try:
            filed = services.dsar_file_from_privacy_center(
                organization=center.organization,
                jurisdiction=values["jurisdiction"],
                request_type=values["type"],
                email=values["email"],
                name=values["name"],
                language=center.language,
            )
        except InvalidInput as exc:
            return self._form(request, center, place=place, values=values, errors=_field_errors(exc), status=422)
        needs_verification = filed.type not in NO_VERIFICATION_NEEDED
        context = {
            "active_page": "requests",
            "request_id": filed.public_id,
            "right": right_label(filed.type),
            "needs_verification": needs_verification,
            # Whoever must verify gets the status link once they have (the verification page shows it): until then
            # it would only tell a stranger who used their email whether its owner confirmed.
            "status_url": ""
            if needs_verification
            else status_link_url(filed.public_id, privacy_center_url=selectors.privacy_center_url(center.organization)),
        }
        return private(render_page(request, center, "privacy_center/request_filed.html", context))


class RequestStatusPage(View):
    """GET /privacy/<org>/requests/status/<token>: where the request stands. Reads only; shows no personal data."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, slug: str, token: str) -> HttpResponse:
        center = privacy_center_for(request, slug)
        try:
            view = selectors.request_status_of_link(token)
            if view.organization.pk != center.organization.pk:
                raise NotFound("This link does not belong to this privacy center.")
        except DomainError as exc:
            return link_problem_page(request, exc, center=center)
        context = {
            "active_page": "requests",
            "view": view,
            "right": right_label(view.request_type),
            "is_completed": view.status == RequestStatus.COMPLETED,
            "is_closed": view.status == RequestStatus.REJECTED,
            "is_waiting_for_you": view.status == RequestStatus.IDENTITY_PENDING,
            "form_url": reverse("privacy_center:request_form", kwargs={"slug": center.slug}),
        }
        return private(render_page(request, center, "privacy_center/request_status.html", context))
