"""Plain checks for the fast paths of large request bodies (issue #16): DRF validates a 1,000-item body field by
field through several layers of calls per value, which cost as much as the work the items ask for. A fast path
checks the parsed JSON with the plain tests below and builds what the serializer would have; anything not plainly
valid raises ``NotPlain`` and the caller runs the serializer, so an invalid body gets exactly its problem+json
errors. Each test accepts only values the serializer field it stands for accepts unchanged."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class NotPlain(Exception):
    """The value needs the serializer (it may still be valid)."""


def plain_label(value: Any, max_length: int, *, allow_blank: bool = False) -> str:
    """A ``StrictCharField`` value that needs no trimming or normalizing: ASCII, printable, no outer spaces."""
    if not isinstance(value, str) or len(value) > max_length:
        raise NotPlain
    if not value:
        if allow_blank:
            return value
        raise NotPlain
    if not (value.isascii() and value.isprintable()) or value.strip() != value:
        raise NotPlain
    return value


def optional_plain_label(item: dict[str, Any], key: str, max_length: int) -> str | None:
    value = item.get(key)
    return None if value is None else plain_label(value, max_length)


def via_field(field: serializers.Field, value: Any) -> Any:
    """``value`` as a (prebuilt) serializer field takes it; NotPlain when the field refuses it."""
    try:
        return field.run_validation(value)
    except serializers.ValidationError as exc:
        raise NotPlain from exc
