"""The base of every organization-scoped API view: the caller's key, its scopes and its organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from core.api.prebuilt import prebuilt_validated
from core.authentication import ApiClient
from core.models import Organization
from core.problems import InvalidInput
from core.timeutil import ACCEPTED_DATE_RANGE_TEXT, is_accepted_date


class OrganizationApi(APIView):
    """Base: the caller's organization scopes every query; ``required_scopes`` maps each method to its scope."""

    required_scopes: dict[str, str] = {}

    @property
    def client(self) -> ApiClient:
        return self.request.user  # type: ignore[return-value]

    @property
    def organization(self) -> Organization:
        return self.client.organization

    def validated(self, serializer_class: type[Serializer], data: Any, **kwargs: Any) -> Any:
        """The input's validated data, raising the serializer's ValidationError (a 422 problem). Without
        arguments for the serializer (context, partial), from its prebuilt instance (``core.api.prebuilt``)."""
        if not kwargs:
            return prebuilt_validated(serializer_class, data)
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def parse_instant_param(value: str | None, name: str) -> datetime | None:
    """A query parameter holding an RFC 3339 instant with an offset; None when absent, 422 when malformed."""
    if value is None:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(
            f"'{name}' must be an RFC 3339 date-time with offset.",
            errors=[{"pointer": f"?{name}", "detail": "expected e.g. 2026-05-01T12:00:00Z"}],
        )
    if not is_accepted_date(parsed):
        raise InvalidInput(
            f"'{name}' must be {ACCEPTED_DATE_RANGE_TEXT}.",
            errors=[{"pointer": f"?{name}", "detail": f"must be {ACCEPTED_DATE_RANGE_TEXT}"}],
        )
    return parsed
