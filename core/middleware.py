"""Request id on every response; oversize API bodies refused before they are read; database outages answered
503; every request measured (core.metrics) and logged once (the access line); rate-limit headers."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from core.authentication import ApiClient
from core.logging import route_of, route_pattern
from core.metrics import observe_request
from core.problems import PROBLEM_CONTENT_TYPE, database_unavailable_response, is_database_unavailable, problem_body
from core.rate_limits import (
    PUBLIC_PATH_PREFIXES,
    api_key_hit,
    public_hit,
    record_state,
    recorded_state,
    too_many_requests,
)
from core.request_context import reset_request_id, set_request_id

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Echo a well-formed client ``X-Request-Id``; otherwise mint one. Logs carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiGuardMiddleware:
    """Refuse what no API view can take before it reaches one: bodies over PROVENANT_MAX_BODY_BYTES
    (413), chunked bodies (411: Django reads a body by its length) and NUL characters in the path or
    query (which no identifier contains and PostgreSQL cannot store)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.PROVENANT_MAX_BODY_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            "\x00" in request.path
            or "\x00" in request.META.get("QUERY_STRING", "")
            or "%00" in request.META.get("QUERY_STRING", "")
        ):
            status = 404 if "\x00" in request.path else 400
            return _problem(
                status,
                slug="not-found" if status == 404 else "bad-request",
                title="Not found" if status == 404 else "Bad request",
                detail="Identifiers and query parameters never contain NUL characters.",
            )
        if request.path.startswith("/api/"):
            if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
                # Django reads a body by its Content-Length; a chunked body would be read as empty and the
                # request answered as if nothing was sent. Say so instead.
                return _problem(
                    411,
                    slug="length-required",
                    title="Length required",
                    detail="Send the body with a Content-Length header; chunked transfer encoding is not accepted.",
                )
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > self.limit:
                return _problem(
                    413,
                    slug="payload-too-large",
                    title="Request body too large",
                    detail=f"The body is {length} bytes; the limit is {self.limit}.",
                    limit_bytes=self.limit,
                )
        return self.get_response(request)


def _problem(status: int, *, slug: str, title: str, detail: str, **extra: object) -> HttpResponse:
    body = problem_body(slug=slug, title=title, status=status, detail=detail, **extra)
    return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


class DatabaseUnavailableMiddleware:
    """A view that meets a database outage answers 503 with Retry-After, never 500: problem+json for the API, a
    small HTML page for a browser's page (privacy center, client reports, admin). What a middleware meets outside
    a view reaches ``core.problems.handler500``, which answers the same."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return database_unavailable_response(request)
        return None


def request_route(request: HttpRequest) -> str | None:
    """The route pattern the request resolves to (``/api/v1/subjects/{subject_id}/state``), also when a
    middleware answered before the view (a redirect to HTTPS), ``None`` when no route matches: never the path
    with its tokens and subject ids."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        except Exception:  # a path the resolver can't read
            return None
    return route_pattern(match.route)


def request_organization(request: HttpRequest) -> str:
    """The slug of the organization an API key authenticated as, ``-`` otherwise. Read without touching a lazy
    session user (which would query the database)."""
    user = request.__dict__.get("user")
    if type(user) is ApiClient:
        return user.organization.slug
    return "-"


class MetricsMiddleware:
    """Counts and times every request by route pattern (core.metrics)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        observe_request(
            method=request.method or "-",
            route=request_route(request) or "unmatched",  # unmatched paths are not labels: unbounded
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


access_logger = logging.getLogger("provenant.access")


class AccessLogMiddleware:
    """One log line per request: method, route pattern, status, latency, organization (the request id comes
    from core.logging's filter). The path, query and headers are never logged: they carry tokens and keys."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        route = request_route(request) or route_of(request.path_info)
        method = request.method or "-"
        access_logger.info(
            "%s %s %s %sms",
            method,
            route,
            response.status_code,
            latency_ms,
            extra={
                "method": method,
                "route": route,
                "status": response.status_code,
                "latency_ms": latency_ms,
                "organization": request_organization(request),
            },
        )
        return response


class RateLimitMiddleware:
    """Per-address budget of the unauthenticated pages and API calls (counted before they run), and the
    ``RateLimit-*`` / ``X-RateLimit-*`` headers on every API answer. Keyed API calls are counted by the API's
    throttle (``core.rate_limits.ApiRateThrottle``); one that never reached it (an unknown key, a missing scope,
    an unknown path) is counted here, after the fact, so that every API answer says where its caller stands."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        is_api = request.path.startswith("/api/")
        has_credentials = bool(request.META.get("HTTP_AUTHORIZATION"))
        if (is_api and not has_credentials) or request.path.startswith(PUBLIC_PATH_PREFIXES):
            allowed, counted = public_hit(request)
            if not allowed:
                return too_many_requests(counted)
            record_state(request, counted)
        response = self.get_response(request)
        state = recorded_state(request)
        if state is None and is_api:
            # DRF sets the API client on the underlying request; an unauthenticated one is still Django's lazy
            # session user, which is not evaluated here (type, not isinstance).
            client = request.__dict__.get("user")
            if type(client) is ApiClient:
                allowed, state = api_key_hit(request, client.api_key)
            else:
                allowed, state = public_hit(request)
                if not allowed:
                    return too_many_requests(state)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        if response.status_code == 429 and "Retry-After" not in response:
            response["Retry-After"] = str(state.retry_after if state is not None else 60)  # every 429 says when
        return response
