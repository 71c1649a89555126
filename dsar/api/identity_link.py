"""The requester's identity link, API route: public (the signed token is the credential).

The link emailed today opens the privacy center's page (``dsar.pages.links``), which says what confirming does;
only the POST from that page, carrying its signed confirmation value, verifies. This route stays for links sent
before, and for clients that ask for JSON (``Accept: application/json``): the same two steps as JSON, the GET's
``confirmation`` going back in the POST body. Every other client (a browser, a scanner, no Accept header) is sent to
the page with 307, which keeps the method: an old page's form POST lands on the page's POST. GET never changes
anything."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
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
from dsar import selectors, services
from dsar.identity_links import public_id_from_identity_token
from dsar.pages.links import link_problem_page, private, verify_page_path
from dsar.problems import VerificationLinkInvalid


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


class TemporaryRedirect(HttpResponseRedirect):
    status_code = 307


class DsarVerifyLinkApi(APIView):
    """GET/HEAD /api/v1/dsar/verify/<token>: JSON explaining what confirming does, with the confirmation value;
    POST with it verifies. Browsers are sent to the privacy center page (307). No API key; tampered links answer
    400, expired ones 410, a POST without the confirmation 403 (problem+json); a second use changes nothing."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
    required_scopes: dict[str, str] = {}  # public: the API-key contract table lists none of its methods

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # A browser asking for text/html is sent to the page, never answered 406.
        return super().perform_content_negotiation(request, force=True)

    def _to_page(self, request: Request, token: str) -> HttpResponse:
        """The privacy center page of the link's organization; a link naming no request answers a clear page."""
        try:
            found = selectors.dsar_by_public_id(public_id_from_identity_token(token))
            if found is None:
                raise VerificationLinkInvalid("This verification link is not valid.")
        except DomainError as exc:
            return link_problem_page(request, exc, center=None)
        return private(TemporaryRedirect(verify_page_path(found.organization.slug, token)))

    # A link a person clicks in an email, not an integration operation: kept out of the API-key OpenAPI document.
    @extend_schema(exclude=True)
    def get(self, request: Request, token: str) -> HttpResponse:
        if not wants_json(request):
            return self._to_page(request, token)
        preview = services.dsar_identity_link_preview(token=token)
        detail = (
            "Your identity was confirmed already; nothing changed."
            if preview.is_verified
            else "Confirm by sending a POST with this confirmation value; opening the link changed nothing."
        )
        body: dict[str, Any] = {
            "request_id": preview.public_id,
            "status": preview.status,
            "verified": preview.is_verified,
            "detail": detail,
        }
        if preview.confirmation:
            body["confirmation"] = preview.confirmation
        return private(Response(DsarVerificationOutputSerializer(body).data))

    @extend_schema(exclude=True)
    def post(self, request: Request, token: str) -> HttpResponse:
        if not wants_json(request) and request.content_type != "application/json":  # a page's form
            return self._to_page(request, token)
        data = request.data if hasattr(request.data, "get") else {}
        outcome = services.dsar_identity_verify_by_link(token=token, confirmation=data.get("confirmation"))
        detail = (
            "Thank you: your identity is confirmed and we are processing your request."
            if outcome.is_newly_verified
            else "Your identity was confirmed already; nothing changed."
        )
        body = {"request_id": outcome.public_id, "status": outcome.status, "verified": True, "detail": detail}
        return private(Response(DsarVerificationOutputSerializer(body).data))
