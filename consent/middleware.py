"""``request.gpc``: whether the request carries a Global Privacy Control signal."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from consent.gpc import is_malformed_sec_gpc, parse_sec_gpc

logger = logging.getLogger(__name__)


class GpcMiddleware:
    """Parse ``Sec-GPC`` exactly as the specification says (see consent.gpc.parse_sec_gpc).

    Sets ``request.gpc`` (bool) and ``request.gpc_raw`` (the field value or None) for every view. A
    field that carries no signal ("0", "true", empty...) is logged as malformed, never an error.
    Repeated fields arrive joined with ", " (RFC 9110 §5.3) and count when one is exactly "1".
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("HTTP_SEC_GPC")
        request.gpc = parse_sec_gpc(raw)  # type: ignore[attr-defined]
        request.gpc_raw = raw  # type: ignore[attr-defined]
        if raw is not None and is_malformed_sec_gpc(raw):
            logger.info("Sec-GPC field carries no signal and is ignored: %r", raw[:32])
        return self.get_response(request)
