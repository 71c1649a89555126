"""Renderers and content negotiation shared by the signed documents (receipts, certificates)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Final

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer

JOSE_CONTENT_TYPE: Final = "application/jose"


class JoseRenderer(BaseRenderer):
    """``application/jose``: a compact JWS as is; anything else (a problem document) as JSON."""

    media_type = JOSE_CONTENT_TYPE
    format = "jose"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, str):
            return data.encode("ascii")
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class PlainTextRenderer(BaseRenderer):
    """``text/plain``: a text document as is (a signed checkpoint); anything else (a problem document) as JSON."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, str):
            return data.encode("utf-8")
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


class NdjsonRenderer(PlainTextRenderer):
    """``application/x-ndjson``: newline-delimited JSON streamed as is; a problem document as JSON."""

    media_type = "application/x-ndjson"
    format = "ndjson"


class FormatParameterNegotiation(DefaultContentNegotiation):
    """Negotiation by ``Accept`` only: here ``?format=`` names the document's format, not a DRF renderer."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)  # type: ignore[assignment]


class PdfRenderer(BaseRenderer):
    """``application/pdf``: a rendered document as is (its bytes); anything else (a problem document) as JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data, accepted_media_type, renderer_context)
