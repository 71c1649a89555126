"""Renderers and content negotiation: the API's JSON, and what the signed documents (receipts, certificates) share."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Final

import orjson
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.settings import api_settings

JOSE_CONTENT_TYPE: Final = "application/jose"

# Datetimes and dataclasses go to DRF's encoder, whose forms (a UTC instant ends in "Z") differ from orjson's.
_FAST_OPTIONS: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class ApiJSONRenderer(JSONRenderer):
    """DRF's JSON renderer, written by orjson when the data holds only what orjson writes as DRF would (strings,
    numbers, booleans, null, lists, dicts with string keys, UUIDs): a tenth of the time, which for a batch of a
    thousand stamps was a seventh of the request's CPU (issue #16). Anything else (a datetime, a Decimal, a lazy
    translation, a non-string key, nesting past orjson's depth) and any request for indented output go to DRF's
    renderer. The bytes are DRF's (compact, UTF-8, U+2028/U+2029 escaped) but for a float with an exponent, which
    orjson writes in its own equal form (``1e-7`` for ``1e-07``); a NaN, which DRF refuses, is written ``null``."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None or not api_settings.COMPACT_JSON or self.ensure_ascii:
            return super().render(data, accepted_media_type, renderer_context)
        if self.get_indent(accepted_media_type or "", renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            written = orjson.dumps(data, option=_FAST_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: a value only DRF's encoder writes
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2\x80\xa8" in written or b"\xe2\x80\xa9" in written:
            # As DRF does: these two are valid JSON but end a line in JavaScript.
            written = written.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return written


class JoseRenderer(BaseRenderer):
    """``application/jose``: a compact JWS as is; anything else (a problem document) as JSON."""

    media_type = JOSE_CONTENT_TYPE
    format = "jose"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, str):
            return data.encode("ascii")
        return ApiJSONRenderer().render(data, accepted_media_type, renderer_context)


class PlainTextRenderer(BaseRenderer):
    """``text/plain``: a text document as is (a signed checkpoint); anything else (a problem document) as JSON."""

    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, str):
            return data.encode("utf-8")
        return ApiJSONRenderer().render(data, accepted_media_type, renderer_context)


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
        return ApiJSONRenderer().render(data, accepted_media_type, renderer_context)
