"""The privacy center's request pages: the form (every right the person's jurisdiction grants) and the status page
a signed link opens.

No JavaScript: the form first asks where the person lives (a GET, which changes nothing) and then offers exactly the
rights that place's law grants. Filing goes through ``services.dsar_file_from_privacy_center`` (the API's intake
path); the answer page is the same whether or not we know the email. Filing is throttled per client address and
per email."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View

from core.models import Organization
from core.problems import DomainError, InvalidInput
from dsar import selectors, services
from dsar.enums import NO_VERIFICATION_NEEDED, RequestStatus, RequestType
from dsar.pages.common import center_context, organization_or_404, request_throttled
from dsar.pages.links import link_problem_page, private
from dsar.rights import FormJurisdiction, form_jurisdiction, form_jurisdictions, rights_of_regime
from dsar.status_links import status_link_url

FORM_TEMPLATE = "privacy_center/request_form.html"

# What each right means, in the person's words (the law's name for it is the regime's business).
RIGHT_TEXTS: dict[str, tuple[str, str]] = {
    RequestType.ACCESS: ("Get a copy of my data", "Learn what we hold about you and receive a copy of it."),
    RequestType.PORTABILITY: (
        "Take my data elsewhere",
        "Receive the data you gave us in a machine-readable format, to take it to another service.",
    ),
    RequestType.DELETION: ("Delete my data", "Ask us to erase the personal data we hold about you."),
    RequestType.CORRECTION: ("Correct my data", "Ask us to correct data about you that is wrong or incomplete."),
    RequestType.OPT_OUT_OF_SALE: (
        "Do not sell or share my data",
        "Opt out of the sale of your data and of its sharing for targeted advertising.",
    ),
    RequestType.LIMIT_SENSITIVE: (
        "Limit the use of my sensitive data",
        "Limit our use of your sensitive personal information to what is needed to serve you.",
    ),
    RequestType.RESTRICT: (
        "Restrict the processing of my data",
        "Ask us to keep your data but not use it while a question about it is settled.",
    ),
    RequestType.OBJECT: (
        "Object to the processing of my data",
        "Object to our use of your data, for example for marketing.",
    ),
}


def _rights(place: FormJurisdiction) -> list[dict[str, Any]]:
    return [
        {
            "value": right,
            "label": _(RIGHT_TEXTS[right][0]),
            "help": _(RIGHT_TEXTS[right][1]),
            "needs_verification": right not in NO_VERIFICATION_NEEDED,
        }
        for right in rights_of_regime(place.regime)
    ]


def _client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


class RequestFormPage(View):
    """GET /privacy/<org>/requests/ (optionally ``?jurisdiction=DE``): the form; POST files the request."""

    http_method_names = ["get", "head", "post"]

    def _form(
        self,
        request: HttpRequest,
        organization: Organization,
        *,
        place: FormJurisdiction | None,
        values: dict[str, str],
        errors: dict[str, str],
        status: int = 200,
    ) -> HttpResponse:
        context = {
            **center_context(request, organization),
            "jurisdictions": form_jurisdictions(),
            "place": place,
            "rights": _rights(place) if place is not None else [],
            "values": values,
            "errors": errors,
        }
        return private(render(request, FORM_TEMPLATE, context, status=status))

    def get(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        organization = organization_or_404(organization_slug)
        code = request.GET.get("jurisdiction", "")
        place = form_jurisdiction(code) if code else None
        errors = {"jurisdiction": _("Choose where you live from the list.")} if code and place is None else {}
        return self._form(request, organization, place=place, values={"jurisdiction": code}, errors=errors)

    def post(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        organization = organization_or_404(organization_slug)
        values = {name: str(request.POST.get(name, ""))[:300] for name in ("jurisdiction", "type", "email", "name")}
        place = form_jurisdiction(values["jurisdiction"]) if values["jurisdiction"] else None
        refusal = request_throttled(
            scope="dsar-request", organization=organization, address=_client_address(request), email=values["email"]
        )
        if refusal is not None:
            return refusal
        try:
            filed = services.dsar_file_from_privacy_center(
                organization=organization,
                jurisdiction=values["jurisdiction"],
                request_type=values["type"],
                email=values["email"],
                name=values["name"],
                language=get_language() or "",
            )
        except InvalidInput as exc:
            return self._form(request, organization, place=place, values=values, errors=_field_errors(exc), status=422)
        needs_verification = filed.type not in NO_VERIFICATION_NEEDED
        context = {
            **center_context(request, organization),
            "request_id": filed.public_id,
            "right": _(RIGHT_TEXTS[filed.type][0]),
            "needs_verification": needs_verification,
            # Someone who needs to verify gets the status link once they have (the verification page shows it).
            "status_url": ""
            if needs_verification
            else status_link_url(filed.public_id, organization_slug=organization.slug),
        }
        return private(render(request, "privacy_center/request_filed.html", context))


_FIELD_MESSAGES = {
    "/jurisdiction": "Choose where you live from the list.",
    "/type": "Choose one of the requests offered for where you live.",
    "/email": "Enter a valid email address.",
    "/name": "The name is too long.",
}


def _field_errors(exc: InvalidInput) -> dict[str, str]:
    """The service's JSON-pointer errors as the form's fields, in the person's language."""
    errors: dict[str, str] = {}
    for error in exc.extra.get("errors") or []:
        pointer = str(error.get("pointer", ""))
        if pointer in _FIELD_MESSAGES:
            errors[pointer.lstrip("/")] = _(_FIELD_MESSAGES[pointer])
    return errors or {"type": _(_FIELD_MESSAGES["/type"])}


class RequestStatusPage(View):
    """GET /privacy/<org>/requests/status/<token>: where the request stands. Reads only; shows no personal data."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, organization_slug: str, token: str) -> HttpResponse:
        organization = organization_or_404(organization_slug)
        try:
            view = selectors.request_status_of_link(token)
        except DomainError as exc:
            return link_problem_page(request, exc, organization=organization)
        if view.organization.pk != organization.pk:
            from core.problems import NotFound

            return link_problem_page(
                request, NotFound("This link does not belong to this privacy center."), organization=organization
            )
        context = {
            **center_context(request, organization),
            "view": view,
            "right": _(RIGHT_TEXTS[view.request_type][0]),
            "is_completed": view.status == RequestStatus.COMPLETED,
            "is_closed": view.status == RequestStatus.REJECTED,
            "is_waiting_for_you": view.status == RequestStatus.IDENTITY_PENDING,
        }
        return private(render(request, "privacy_center/request_status.html", context))
