"""RFC 9457 problem details: every API error has a stable ``type`` URI and a human ``detail``.

Services raise :class:`DomainError` subclasses; :func:`problem_exception_handler` (DRF's exception
handler) and the Django-level handlers turn them and framework errors into
``application/problem+json`` responses.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError as DjangoOperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from core.request_context import current_request_id

logger = logging.getLogger(__name__)

PROBLEM_BASE = "https://provenant.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


class DomainError(Exception):
    """A business rule refused the operation. Nothing was written."""

    status = 422
    slug = "domain-error"
    title = "The request breaks a rule"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class InvalidInput(DomainError):
    status = 422
    slug = "validation-error"
    title = "The request body is not valid"


def full_clean_or_invalid(instance: Any, *, exclude: list[str] | None = None) -> None:
    """Run a model's validation; report its errors as an InvalidInput with JSON pointers."""
    from django.core.exceptions import ValidationError

    try:
        instance.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise InvalidInput(
            "One or more fields are invalid; see errors.",
            errors=[
                {"pointer": f"/{name}" if name != "__all__" else "/", "detail": str(message)}
                for name, messages in exc.message_dict.items()
                for message in messages
            ],
        ) from exc


def problem_body(*, slug: str, title: str, status: int, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
    }
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem_response(*, slug: str, title: str, status: int, detail: str, **extra: Any) -> Response:
    return Response(
        problem_body(slug=slug, title=title, status=status, detail=detail, **extra),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def validation_errors(detail: Any, pointer: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error structure into JSON-pointer addressed entries."""
    errors: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            child = pointer if key == "non_field_errors" else f"{pointer}/{key}"
            errors.extend(validation_errors(value, child))
    elif isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            errors.extend({"pointer": pointer or "/", "detail": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    errors.extend(validation_errors(item, f"{pointer}/{index}"))
    else:
        errors.append({"pointer": pointer or "/", "detail": str(detail)})
    return errors


_DRF_PROBLEMS: list[tuple[type[Exception], str, str]] = [
    (drf_exceptions.ParseError, "malformed-request", "The request body could not be parsed"),
    (drf_exceptions.NotAuthenticated, "unauthenticated", "Authentication required"),
    (drf_exceptions.AuthenticationFailed, "unauthenticated", "Authentication failed"),
    (drf_exceptions.PermissionDenied, "insufficient-scope", "The API key lacks the required scope"),
    (drf_exceptions.NotFound, "not-found", "Not found"),
    (drf_exceptions.MethodNotAllowed, "method-not-allowed", "Method not allowed"),
    (drf_exceptions.NotAcceptable, "not-acceptable", "Not acceptable"),
    (drf_exceptions.UnsupportedMediaType, "unsupported-media-type", "Unsupported media type"),
    (drf_exceptions.Throttled, "rate-limited", "Too many requests"),
]


_UNAVAILABLE = DjangoOperationalError | DjangoInterfaceError


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database can't be reached or lost the connection (an outage, a restart, a
    failover), as opposed to a fault of the request: such requests are answered 503 with Retry-After."""
    import psycopg

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(
            exc, DjangoOperationalError | DjangoInterfaceError | psycopg.OperationalError | psycopg.InterfaceError
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def database_unavailable_body() -> dict[str, Any]:
    return problem_body(
        slug="service-unavailable",
        title="Service unavailable",
        status=503,
        detail="The database is unavailable; nothing was changed that you were not told about. Retry later.",
        unavailable="database",
    )


# A browser's page for the outage: plain markup, no template (a template's context processors may read the
# database, the one thing that is down).
_DATABASE_UNAVAILABLE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Service unavailable</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}</style>
</head><body><h1>Service unavailable</h1>
<p>This service cannot reach its database at the moment. Nothing you sent was saved unless you were told so.</p>
<p>Please try again in {seconds} seconds.</p></body></html>
"""


def wants_html(request: HttpRequest | None) -> bool:
    """A browser's page request (it names text/html before any JSON type), never an API path."""
    if request is None or _is_api(request) or "text/html" not in request.META.get("HTTP_ACCEPT", ""):
        return False
    return request.get_preferred_type(["text/html", PROBLEM_CONTENT_TYPE, "application/json"]) == "text/html"


def database_unavailable_response(request: HttpRequest | None = None) -> HttpResponse:
    """503 with Retry-After, for any request that met a database outage: problem+json for the API and any client
    that does not ask for HTML, a small HTML page for browsers (privacy center, client reports, admin)."""
    logger.warning("database unavailable: answered 503")
    seconds = int(settings.PROVENANT_RETRY_AFTER_SECONDS)
    if wants_html(request):
        response = HttpResponse(
            _DATABASE_UNAVAILABLE_HTML.format(seconds=seconds), status=503, content_type="text/html; charset=utf-8"
        )
        response["Cache-Control"] = "no-store"
    else:
        body = json.dumps(database_unavailable_body())
        response = HttpResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)
    response["Retry-After"] = str(seconds)
    return response


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if is_database_unavailable(exc):
        logger.warning("database unavailable: answered 503")
        response = Response(database_unavailable_body(), status=503, content_type=PROBLEM_CONTENT_TYPE)
        response["Retry-After"] = str(settings.PROVENANT_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, DomainError):
        response = problem_response(slug=exc.slug, title=exc.title, status=exc.status, detail=exc.detail, **exc.extra)
        if isinstance(exc.extra.get("retry_after"), int):  # a refusal that passes with time says when
            response["Retry-After"] = str(exc.extra["retry_after"])
        return response
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if isinstance(exc, drf_exceptions.ValidationError):
        return problem_response(
            slug="validation-error",
            title="The request body is not valid",
            status=422,
            detail="One or more fields are invalid; see errors.",
            errors=validation_errors(exc.detail),
        )
    if isinstance(exc, drf_exceptions.APIException):
        slug, title = "http-error", "Request failed"
        for cls, candidate_slug, candidate_title in _DRF_PROBLEMS:
            if isinstance(exc, cls):
                slug, title = candidate_slug, candidate_title
                break
        detail = (
            exc.detail if isinstance(exc.detail, str) else "; ".join(e["detail"] for e in validation_errors(exc.detail))
        )
        extra: dict[str, Any] = {}
        required = getattr(exc, "required_scope", None)
        if required:
            extra["required_scope"] = required
        response = problem_response(slug=slug, title=title, status=exc.status_code, detail=str(detail), **extra)
        if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
            response["WWW-Authenticate"] = 'Bearer realm="provenant"'
        wait = getattr(exc, "wait", None)
        if isinstance(exc, drf_exceptions.Throttled) and wait:
            response["Retry-After"] = str(int(wait))
        return response
    logger.exception("unhandled error in API view", exc_info=exc)
    return None


def _plain_problem(status: int, slug: str, title: str, detail: str) -> JsonResponse:
    return JsonResponse(
        problem_body(slug=slug, title=title, status=status, detail=detail),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/.well-known/", "/schemas/"))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception or Http404())
    return _plain_problem(404, "not-found", "Not found", "No resource at this URL.")


def handler500(request: HttpRequest) -> HttpResponse:
    # Called inside Django's except block: an outage met in a middleware (a session saved, a key looked up)
    # lands here, and is a 503 to retry rather than a 500.
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response(request)
    if not _is_api(request):
        return defaults.server_error(request)
    return _plain_problem(500, "internal-error", "Internal error", "The error was logged; quote the request id.")


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception or Exception())
    return _plain_problem(400, "bad-request", "Bad request", "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return defaults.permission_denied(request, exception or DjangoPermissionDenied())
    return _plain_problem(403, "forbidden", "Forbidden", "You may not do this.")
