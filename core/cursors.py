"""Opaque list cursors: a position signed with the site's key and bound to its list, to the organization that read
it and to the filters it was read with, so a client can pass one back but neither forge nor edit one (issue #17),
nor use it under another organization's key or with other filters (which would skip or repeat rows). Used by the
API's pagination and by commands that take a cursor."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any, Final

from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from core.problems import InvalidInput

_SALT: Final = "provenant.api.cursor"
_BINDING_SALT: Final = "provenant.api.cursor.binding"
INVALID_CURSOR_MESSAGE: Final = (
    "Invalid cursor: pass back the `cursor` of a page of this list, unchanged, with the same filters and the same "
    "API key's organization."
)
INVALID_CURSOR_DETAIL: Final = "not a cursor of this list with these filters"


def cursor_binding(organization_id: int, filters: Iterable[tuple[str, str]]) -> str:
    """What binds a cursor to the organization that read the list and to the filter values that shaped it: a
    short keyed digest (128 bits), so the cursor reveals neither. ``filters`` are (name, value) pairs; their
    order across names does not matter, the order of one name's values does."""
    ordered = sorted(filters, key=lambda pair: pair[0])  # stable: one name's values keep their order
    material = json.dumps([organization_id, ordered], separators=(",", ":"))
    digest = salted_hmac(_BINDING_SALT, material, algorithm="sha256").digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def invalid_cursor(parameter: str = "after") -> InvalidInput:
    """The 422 of a cursor this list does not take: forged, edited, another list's, another organization's, or
    read with other filters (one answer for all, so it tells nothing about which)."""
    return InvalidInput(INVALID_CURSOR_MESSAGE, errors=[{"pointer": f"?{parameter}", "detail": INVALID_CURSOR_DETAIL}])


def encode_cursor(kind: str, position: Any, *, binding: str | None = None) -> str:
    """An opaque, signed cursor holding ``position`` (JSON values) for the list named ``kind``, bound to
    ``binding`` (from :func:`cursor_binding`) when given."""
    payload: dict[str, Any] = {"k": kind, "p": position}
    if binding is not None:
        payload["b"] = binding
    return signing.dumps(payload, salt=_SALT, compress=True)


def decode_cursor(value: str, kind: str, *, parameter: str = "after", binding: str | None = None) -> Any:
    """The position a cursor from :func:`encode_cursor` holds; a 422 naming ``parameter`` when it was not made
    by this service for this list and this ``binding`` (edited, truncated, forged, another list's, another
    organization's or other filters'). A list that binds its cursors takes no unbound one, and the reverse."""
    try:
        payload = signing.loads(value, salt=_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        payload = None
    if not isinstance(payload, dict) or payload.get("k") != kind or "p" not in payload:
        raise invalid_cursor(parameter)
    bound = payload.get("b")
    if binding is None or bound is None:
        if binding != bound:
            raise invalid_cursor(parameter)
    elif not isinstance(bound, str) or not constant_time_compare(bound, binding):
        raise invalid_cursor(parameter)
    return payload["p"]
