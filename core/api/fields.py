"""Strict serializer building blocks: wrong JSON types and unknown fields are errors, not coercions."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Final

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction
from rest_framework import serializers

from core.identifiers import IdentifierRefused, normalized_identifier
from core.timeutil import ACCEPTED_DATE_RANGE_TEXT, is_accepted_date

# A subject id appears in URL paths: no whitespace and none of the characters that would split or escape them.
SUBJECT_ID_PATTERN: Final = re.compile(r"^[^\s/\\?#%]{1,255}$")
# An RFC 3339 instant with its offset, seconds and at most microseconds: what nearly every client sends.
_PLAIN_INSTANT: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})\Z", re.ASCII
)


def normalized_subject_id(value: str) -> str:
    """``value`` in NFC, or a ValidationError: 1-255 characters, no whitespace, none of the characters that
    split or escape a URL path, no control, zero-width or bidi characters, not ``.`` or ``..``."""
    try:
        normalized = normalized_identifier(value)
    except IdentifierRefused as exc:
        raise serializers.ValidationError(f"A subject id {exc}.") from exc
    if not SUBJECT_ID_PATTERN.match(normalized):
        raise serializers.ValidationError(
            "1-255 characters, no whitespace and none of / \\ ? # % (it appears in URLs)."
        )
    return normalized


def validate_subject_id(value: str) -> None:
    """A validator: refuses what :func:`normalized_subject_id` refuses, and a value not already in NFC
    (a serializer field normalizes first; a value that reaches a validator unnormalized is refused)."""
    if normalized_subject_id(value) != value:
        raise serializers.ValidationError("A subject id must be in Unicode NFC.")


class StrictCharField(serializers.CharField):
    default_error_messages = {"type": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("type")
        if "\x00" in data:
            raise serializers.ValidationError("Must not contain NUL characters.")
        return super().to_internal_value(data)


class SubjectIdField(StrictCharField):
    """A subject id as the person's systems spell it, normalized to NFC (so ``é`` typed two ways is one
    subject) and refused when it holds anything invisible (see :func:`normalized_subject_id`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return normalized_subject_id(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"type": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("type")
        return data


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"type": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("type")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """RFC 3339 instant with an explicit offset; a naive time is ambiguous evidence and refused."""

    default_error_messages = {
        "naive": "Must include a time zone offset (e.g. 2026-05-01T12:00:00Z).",
        "type": "Must be an RFC 3339 date-time string.",
        "out_of_range": f"Must be {ACCEPTED_DATE_RANGE_TEXT}.",
    }

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("type")
        if len(value) > 64:
            self.fail("invalid", format="RFC 3339")
        if _PLAIN_INSTANT.match(value) and "timezone" not in self.__dict__ and "input_formats" not in self.__dict__:
            # The common form, read as DRF reads it (Django's parse_datetime tries fromisoformat first) and put in
            # the service's time zone, without DRF's per-call lookups of the current one (issue #16); a field given
            # its own zone or input formats is left to DRF.
            try:
                parsed = datetime.fromisoformat(value).astimezone(timezone.get_default_timezone())
            except (ValueError, OverflowError):  # month 13, a year 1 instant past midnight UTC: DRF's words below
                pass
            else:
                if not is_accepted_date(parsed):
                    self.fail("out_of_range")
                return parsed
        parsed = super().to_internal_value(value)
        stripped = value.strip()
        if not (stripped.endswith(("Z", "z")) or "+" in stripped[10:] or "-" in stripped[10:]):
            self.fail("naive")
        if not is_accepted_date(parsed):
            self.fail("out_of_range")
        return parsed


class BoundedDateField(serializers.DateField):
    """An ISO 8601 calendar date in the range the service accepts (:data:`core.timeutil.EARLIEST_ACCEPTED_DATE`
    to ``LATEST_ACCEPTED_DATE``): a date near year 1 or 9999 is a typo and would overflow deadline arithmetic."""

    default_error_messages = {
        "out_of_range": f"Must be {ACCEPTED_DATE_RANGE_TEXT}.",
        "type": "Must be an ISO 8601 date string (YYYY-MM-DD).",
    }

    def to_internal_value(self, value: Any) -> date:
        if not isinstance(value, str):
            self.fail("type")
        parsed = super().to_internal_value(value)
        if not is_accepted_date(parsed):
            self.fail("out_of_range")
        return parsed


class StrictSerializer(serializers.Serializer):
    """Rejects keys the serializer does not declare, and non-object bodies."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class StrictSerializerSchema(OpenApiSerializerExtension):
    """The schema says what :class:`StrictSerializer` enforces: a request body with no field it does not name
    (``additionalProperties: false``), so clients and schemathesis know an unknown field is a 422."""

    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
