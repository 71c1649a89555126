"""Opaque list cursors: a position signed with the site's key and bound to its list, so a client can pass one back
but neither forge nor edit one (issue #17). Used by the API's pagination and by commands that take a cursor."""

from __future__ import annotations

from typing import Any, Final

from django.core import signing

from core.problems import InvalidInput

_SALT: Final = "provenant.api.cursor"


def encode_cursor(kind: str, position: Any) -> str:
    """An opaque, signed cursor holding ``position`` (JSON values) for the list named ``kind``."""
    return signing.dumps({"k": kind, "p": position}, salt=_SALT, compress=True)


def decode_cursor(value: str, kind: str, *, parameter: str = "after") -> Any:
    """The position a cursor from :func:`encode_cursor` holds; a 422 naming ``parameter`` when it was not made
    by this service for this list (edited, truncated, forged, or another list's)."""
    try:
        payload = signing.loads(value, salt=_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        payload = None
    if not isinstance(payload, dict) or payload.get("k") != kind or "p" not in payload:
        raise InvalidInput(
            "Invalid cursor: pass back the `cursor` of a page of this list, unchanged.",
            errors=[{"pointer": f"?{parameter}", "detail": "not a cursor of this list"}],
        )
    return payload["p"]
