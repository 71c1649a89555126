"""The requester's download link of an access/portability export: public (the signed token is the credential)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from dsar import services


class DsarExportDownloadApi(APIView):
    """GET /api/v1/dsar/exports/<token>: the ZIP. No API key; a tampered link answers 400, an expired one 410
    (problem+json); every download is audited."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    required_scopes: dict[str, str] = {}  # public: the API-key contract table lists none of its methods

    # A link a person clicks in an email, not an integration operation: kept out of the API-key OpenAPI document.
    @extend_schema(exclude=True)
    def get(self, request: Request, token: str) -> HttpResponse:
        download = services.dsar_export_download(token=token)
        response = HttpResponse(download.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response
