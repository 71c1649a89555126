"""The requester's identity link: public (the signed token is the credential).

Opening the link (GET or HEAD, as mail scanners and previewers do) shows a page that says what confirming does,
with a form; only the POST from that page, carrying its signed confirmation value, verifies. Clients that ask for
JSON (``Accept: application/json``) get the same two steps as JSON: the GET's ``confirmation`` goes back in the
POST body. GET never changes anything in either form."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.parsers import SafeJSONParser
from core.problems import DomainError
from dsar import services
from dsar.erasure_review import erasure_cooling_off, erasure_review_mode
from dsar.identity_links import CONFIRMATION_LIFETIME

PAGE_TEMPLATE = "dsar/verify_identity.html"
PROBLEM_TEMPLATE = "dsar/verify_identity_problem.html"


class DsarVerificationOutputSerializer(serializers.Serializer):
    request_id = serializers.CharField()
    status = serializers.CharField()
    verified = serializers.BooleanField()
    detail = serializers.CharField()
    confirmation = serializers.CharField(required=False)


def wants_json(request: HttpRequest) -> bool:
    """A client that asks for JSON and not for HTML (a browser, a scanner or no Accept header gets the page)."""
    accept = request.headers.get("Accept", "").lower()
    return "json" in accept and "html" not in accept


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _erasure_wait_text() -> str:
    """What happens after confirming a deletion request, in the deployment's review mode."""
    if erasure_review_mode() == "legal":
        return "Our privacy team reviews the request before anything is erased; until then it can still be stopped."
    hours = erasure_cooling_off().total_seconds() / 3600
    if hours <= 0:
        return "The erasure starts right after you confirm."
    return f"The erasure starts {hours:g} hours after you confirm; until then it can still be stopped."


class DsarVerifyLinkApi(APIView):
    """GET/HEAD /api/v1/dsar/verify/<token>: the page (or JSON) explaining what confirming does; POST from it
    verifies. No API key; tampered links answer 400, expired ones 410, a POST without the page's confirmation
    403 (an HTML page, or problem+json for JSON clients); a second use changes nothing."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
    required_scopes: dict[str, str] = {}  # public: the API-key contract table lists none of its methods

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # A browser asking for text/html gets the page this view renders itself, never a 406.
        return super().perform_content_negotiation(request, force=True)

    def _problem_page(self, request: Request, exc: DomainError) -> HttpResponse:
        if wants_json(request):
            raise exc
        context = {"title": exc.title, "detail": exc.detail, "status": exc.status}
        return _private(render(request, PROBLEM_TEMPLATE, context, status=exc.status))

    # A link a person clicks in an email, not an integration operation: kept out of the API-key OpenAPI document.
    @extend_schema(exclude=True)
    def get(self, request: Request, token: str) -> HttpResponse:
        try:
            preview = services.dsar_identity_link_preview(token=token)
        except DomainError as exc:
            return self._problem_page(request, exc)
        detail = (
            "Your identity was confirmed already; nothing changed."
            if preview.is_verified
            else "Confirm by sending a POST with this confirmation value; opening the link changed nothing."
        )
        if wants_json(request):
            body: dict[str, Any] = {
                "request_id": preview.public_id,
                "status": preview.status,
                "verified": preview.is_verified,
                "detail": detail,
            }
            if preview.confirmation:
                body["confirmation"] = preview.confirmation
            return _private(Response(DsarVerificationOutputSerializer(body).data))
        context = {
            "preview": preview,
            "is_deletion": preview.request_type == "deletion",
            "erasure_wait": _erasure_wait_text(),
            "confirmation_minutes": int(CONFIRMATION_LIFETIME.total_seconds() // 60),
            "action": request.path,
        }
        return _private(render(request, PAGE_TEMPLATE, context))

    @extend_schema(exclude=True)
    def post(self, request: Request, token: str) -> HttpResponse:
        data = request.data if hasattr(request.data, "get") else {}
        try:
            outcome = services.dsar_identity_verify_by_link(token=token, confirmation=data.get("confirmation"))
        except DomainError as exc:
            return self._problem_page(request, exc)
        detail = (
            "Thank you: your identity is confirmed and we are processing your request."
            if outcome.is_newly_verified
            else "Your identity was confirmed already; nothing changed."
        )
        if wants_json(request):
            body = {"request_id": outcome.public_id, "status": outcome.status, "verified": True, "detail": detail}
            return _private(Response(DsarVerificationOutputSerializer(body).data))
        context = {"request_id": outcome.public_id, "detail": detail}
        return _private(render(request, "dsar/verify_identity_done.html", context))
