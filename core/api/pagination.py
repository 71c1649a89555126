"""One pagination style for every list (issue #17): keyset pages in an envelope ``{results, next, cursor}``.

A page is read with ``?limit=`` (1-500, default 50) and continued with ``?after=<cursor>``: the cursor is the
last row's position in the list's stable order (never an offset), signed so that a client cannot forge or edit
one (a bad cursor is a 422, never a 500) and bound to the list, the organization and the filter values it came
from, so it is valid only under the same key's organization with the same filters (``limit`` aside). ``next`` is
the absolute URL of the following page, also sent as an RFC 8288 ``Link: <...>; rel="next"`` header; both are null
on the last page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

from django.db.models import Model, Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import api_operation
from core.cursors import cursor_binding, decode_cursor, encode_cursor, invalid_cursor
from core.models import Organization
from core.problems import InvalidInput

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 500

M = TypeVar("M", bound=Model)

AFTER_PARAMETER = OpenApiParameter(
    "after",
    OpenApiTypes.STR,
    description="The `cursor` of the previous page, to read the page after it (opaque; valid only with the same "
    "filters and the same key's organization; any other answers 422).",
)
LIMIT_PARAMETER = OpenApiParameter(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    description=f"Items per page, 1-{MAX_LIMIT} (default {DEFAULT_LIMIT}); more than {MAX_LIMIT} answers 422.",
)
PAGINATION_PARAMETERS: Final = [AFTER_PARAMETER, LIMIT_PARAMETER]
# Query parameters that do not shape a list's rows, so a cursor is not bound to them: the page size, the cursor
# itself (and its older name), the change feed's long-poll wait and DRF's output format.
UNBINDING_PARAMETERS: Final = frozenset({"after", "cursor", "limit", "wait", "format"})


def page_limit(request: Request) -> int:
    """``?limit=``: an integer from 1 to 500, default 50; anything else is a 422 pointing at it."""
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be an integer from 1 to {MAX_LIMIT}.",
            errors=[{"pointer": "?limit", "detail": f"an integer from 1 to {MAX_LIMIT}"}],
        )
    return limit


def list_operation(**kwargs: Any) -> Callable[[Any], Any]:
    """``api_operation`` for a list: a query parameter the operation does not declare answers 422 naming it, so a
    misspelt filter (``?updated_sinse=``) never widens the list silently. ``format`` stays DRF's own."""
    known = {"format"} | {
        parameter.name
        for parameter in kwargs.get("parameters", ())
        if isinstance(parameter, OpenApiParameter) and parameter.location == OpenApiParameter.QUERY
    }
    document = api_operation(**kwargs)

    def decorate(handler: Callable[..., Any]) -> Any:
        @functools.wraps(handler)
        def checked(view: Any, request: Request, *args: Any, **handler_kwargs: Any) -> Any:
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                raise InvalidInput(
                    "Unknown query parameter.",
                    errors=[{"pointer": f"?{name}", "detail": "not a parameter of this list"} for name in unknown],
                )
            return handler(view, request, *args, **handler_kwargs)

        return document(checked)

    return decorate


def list_binding(request: Request, organization: Organization) -> str:
    """What this request's cursors are bound to: the organization and every filter value in the query (the raw
    values, as ``next`` repeats them), all but :data:`UNBINDING_PARAMETERS`."""
    filters = [
        (name, value)
        for name, values in request.query_params.lists()
        if name not in UNBINDING_PARAMETERS
        for value in values
    ]
    return cursor_binding(organization.pk, filters)


def request_cursor(request: Request, kind: str, *, organization: Organization, parameter: str = "after") -> Any:
    """The position of ``?after=`` (or ``parameter``), or None when absent; a 422 when the cursor is not one of
    this list read by ``organization`` with this request's filters."""
    raw = request.query_params.get(parameter)
    if raw is None or raw == "":
        return None
    return decode_cursor(raw, kind, parameter=parameter, binding=list_binding(request, organization))


def response_cursor(request: Request, kind: str, position: Any, *, organization: Organization) -> str:
    """The cursor that resumes this list at ``position``, bound like :func:`request_cursor` checks it."""
    return encode_cursor(kind, position, binding=list_binding(request, organization))


def invalid_parameter(name: str, detail: str, message: str) -> InvalidInput:
    """A 422 about query parameter ``name`` (pointer ``?name``)."""
    return InvalidInput(message, errors=[{"pointer": f"?{name}", "detail": detail}])


def known_key_param(request: Request, name: str, find: Callable[[str], M | None]) -> M | None:
    """A list filter naming one of the organization's rows by its key: None when absent, 422 when unknown."""
    key = request.query_params.get(name)
    if key is None:
        return None
    found = find(key)
    if found is None:
        raise invalid_parameter(name, f"unknown {name}", f"Unknown {name} in `{name}`.")
    return found


def choice_param(request: Request, name: str, choices: Sequence[str]) -> str | None:
    """A list filter that takes one of ``choices``: None when absent, a 422 naming the choices when unknown."""
    value = request.query_params.get(name)
    if value is None:
        return None
    if value not in choices:
        raise invalid_parameter(name, "one of " + ", ".join(choices), f"Unknown value in `{name}`.")
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def keyset_page(
    queryset: QuerySet[M], *, order: Sequence[str], position: Any, limit: int
) -> tuple[list[M], list[Any] | None]:
    """One page of ``queryset`` in ``order`` (ascending fields, the last one unique) after ``position`` (the key
    of the previous page's last row), and the key of this page's last row when more rows follow (else None)."""
    if position is not None:
        if not isinstance(position, list) or len(position) != len(order):
            raise invalid_cursor()
        after = Q()
        for depth in range(len(order) - 1, -1, -1):
            step = Q(**{f"{order[depth]}__gt": position[depth]})
            if depth < len(order) - 1:
                step = step | (Q(**{order[depth]: position[depth]}) & after)
            after = step
        queryset = queryset.filter(after)
    rows = list(queryset.order_by(*order)[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, [_json_value(_attribute(last, name)) for name in order]


def _attribute(row: Any, path: str) -> Any:
    for name in path.split("__"):
        row = getattr(row, name)
    return row


def page_url(request: Request, cursor: str, limit: int) -> str:
    """The absolute URL of the page ``cursor`` starts: this request's filters with ``after`` and ``limit``."""
    params = [
        (key, value)
        for key, values in request.query_params.lists()
        if key not in {"after", "cursor", "limit"}
        for value in values
    ]
    params += [("after", cursor), ("limit", str(limit))]
    return request.build_absolute_uri(f"{request.path}?{urlencode(params)}")


def paginated_response(
    request: Request,
    results: list[Any],
    *,
    cursor: str | None,
    limit: int,
    has_next: bool = True,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The envelope ``{results, next, cursor}`` with ``Link: <next>; rel="next"`` when a next page exists.

    ``cursor`` resumes the list after this page; ``has_next`` False (a change feed that is caught up) keeps the
    cursor but gives no ``next``."""
    next_url = page_url(request, cursor, limit) if cursor is not None and has_next else None
    response = Response({**(extra or {}), "results": results, "next": next_url, "cursor": cursor})
    if next_url is not None:
        response["Link"] = f'<{next_url}>; rel="next"'
    return response


def keyset_response(
    request: Request,
    queryset: QuerySet[M],
    *,
    organization: Organization,
    kind: str,
    order: Sequence[str],
    render: Callable[[list[M]], list[Any]],
) -> Response:
    """Read ``?after``/``?limit``, take one keyset page of ``queryset`` (``organization``'s: its cursors are bound
    to it and to the request's filters), render it and answer the envelope."""
    limit = page_limit(request)
    position = request_cursor(request, kind, organization=organization)
    rows, last = keyset_page(queryset, order=order, position=position, limit=limit)
    cursor = response_cursor(request, kind, last, organization=organization) if last is not None else None
    return paginated_response(request, render(rows), cursor=cursor, limit=limit)


_envelopes: dict[str, type[serializers.Serializer]] = {}


def envelope(item: type[serializers.Serializer] | serializers.Serializer, name: str) -> type[serializers.Serializer]:
    """The OpenAPI envelope of a list of ``item``: one component per result type (``name``, unique)."""
    if name in _envelopes:
        return _envelopes[name]
    item_class = type(item) if isinstance(item, serializers.Serializer) else item
    attributes = {
        "results": item_class(many=True),
        "next": serializers.URLField(allow_null=True, help_text="The next page's absolute URL; null on the last"),
        "cursor": serializers.CharField(
            allow_null=True, help_text="Opaque: pass it back as `after` to read on from here"
        ),
        "__doc__": f"A page of {name.removeprefix('Paginated').removesuffix('List')} items.",
        "Meta": type("Meta", (), {"ref_name": name}),
    }
    serializer = type(name + "Serializer", (serializers.Serializer,), attributes)
    _envelopes[name] = serializer
    return serializer


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PAGINATION_PARAMETERS",
    "choice_param",
    "envelope",
    "invalid_parameter",
    "keyset_page",
    "keyset_response",
    "list_binding",
    "page_limit",
    "paginated_response",
    "request_cursor",
    "response_cursor",
]
