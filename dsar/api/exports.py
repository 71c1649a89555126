"""The requester's download link of an access/portability export, API route: public (the signed token is the
credential).

The link emailed today opens the privacy center's download page (``dsar.pages.links``). This route stays for
integrations and for links sent before that page existed, and like the page it downloads only on a confirmed
POST: a GET (or HEAD, as mail scanners send) changes nothing. JSON clients (``Accept: application/json``) get
what the page shows, with the ``confirmation`` value to POST back (JSON or form) for the ZIP; every other client
(a browser, a scanner, no Accept header) is sent to the page (307), or shown a clear page when the link is bad."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
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
from dsar.api.identity_link import wants_json
from dsar.pages.links import download_page_path, link_problem_page, private, zip_response


class DsarExportLinkOutputSerializer(serializers.Serializer):
    request_id = serializers.CharField()
    export_id = serializers.CharField()
    expires_at = serializers.DateTimeField()
    size_bytes = serializers.IntegerField()
    files = serializers.ListField(child=serializers.CharField())
    confirmation = serializers.CharField()
    detail = serializers.CharField()


class TemporaryRedirect(HttpResponseRedirect):
    status_code = 307


class DsarExportDownloadApi(APIView):
    """GET/HEAD /api/v1/dsar/exports/<token>: JSON clients get the link's facts and a confirmation value (nothing
    changes); others are sent to the privacy center page (307). POST with that confirmation: the ZIP, audited. No
    API key; a tampered link answers 400, an expired or purged one 410, a POST without a valid confirmation 403
    (problem+json)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]
    required_scopes: dict[str, str] = {}  # public: the API-key contract table lists none of its methods

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # A browser asking for text/html is redirected, never answered 406.
        return super().perform_content_negotiation(request, force=True)

    # A link a person clicks in an email, not an integration operation: kept out of the API-key OpenAPI document.
    @extend_schema(exclude=True)
    def get(self, request: Request, token: str) -> HttpResponse:
        if not wants_json(request):
            try:
                organization = selectors.export_link_organization(token)
            except DomainError as exc:
                return link_problem_page(request, exc, center=None)
            return private(TemporaryRedirect(download_page_path(organization.slug, token)))
        preview = selectors.export_link_preview(token)
        body = {
            "request_id": preview.request_public_id,
            "export_id": preview.export_public_id,
            "expires_at": preview.expires_at,
            "size_bytes": preview.size_bytes,
            "files": preview.files,
            "confirmation": preview.confirmation,
            "detail": "Download by sending a POST with this confirmation value; opening the link changed nothing.",
        }
        return private(Response(DsarExportLinkOutputSerializer(body).data))

    @extend_schema(exclude=True)
    def post(self, request: Request, token: str) -> HttpResponse:
        data = request.data if hasattr(request.data, "get") else {}
        return zip_response(services.dsar_export_download(token=token, confirmation=data.get("confirmation")))
