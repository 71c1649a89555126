"""Strict serializer building blocks: wrong JSON types and unknown fields are errors, not coercions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from rest_framework import serializers

# A subject id appears in URL paths: no whitespace and none of the characters that would split or escape them.
SUBJECT_ID_PATTERN: Final = re.compile(r"^[^\s/\\?#%]{1,255}$")


def validate_subject_id(value: str) -> None:
    if not SUBJECT_ID_PATTERN.match(value):
        raise serializers.ValidationError(
            "1-255 characters, no whitespace and none of / \\ ? # % (it appears in URLs)."
        )


class StrictCharField(serializers.CharField):
    default_error_messages = {"type": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("type")
        if "\x00" in data:
            raise serializers.ValidationError("Must not contain NUL characters.")
        return super().to_internal_value(data)


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
    }

    def to_internal_value(self, value: Any) -> datetime:
        if not isinstance(value, str):
            self.fail("type")
        if len(value) > 64:
            self.fail("invalid", format="RFC 3339")
        parsed = super().to_internal_value(value)
        stripped = value.strip()
        if not (stripped.endswith(("Z", "z")) or "+" in stripped[10:] or "-" in stripped[10:]):
            self.fail("naive")
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
