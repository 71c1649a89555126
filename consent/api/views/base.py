"""The base of every organization-scoped API view: key, scopes, strict input, the organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.views import APIView

from consent import selectors, services
from consent.models import Subject
from core.authentication import ApiClient
from core.models import Organization
from core.problems import InvalidInput, NotFound

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A retry with the same key and body returns the first response and creates nothing; "
    "the same key with another body answers 409.",
)
SUBJECT_ID = OpenApiParameter("subject_id", OpenApiTypes.STR, OpenApiParameter.PATH)


class OrganizationApi(APIView):
    """Base: the caller's organization scopes every query."""

    required_scopes: dict[str, str] = {}

    @property
    def client(self) -> ApiClient:
        return self.request.user  # type: ignore[return-value]

    @property
    def organization(self) -> Organization:
        return self.client.organization

    def validated(self, serializer_class: type, data: Any, **kwargs: Any) -> Any:
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def honor_gpc_header(self, subject_id: str, *, jurisdiction: str | None = None) -> services.GpcOutcome | None:
        """The call is made on the person's behalf: a ``Sec-GPC: 1`` it carries is their signal."""
        if not getattr(self.request, "gpc", False):
            return None
        return services.gpc_signal_record(
            organization=self.organization,
            subject_id=subject_id,
            channel="header",
            raw_value=getattr(self.request, "gpc_raw", None) or "1",
            jurisdiction=jurisdiction,
        )

    def subject_or_404(self, subject_id: str) -> Subject:
        subject = selectors.subject_by_external_id(organization=self.organization, external_id=subject_id)
        if subject is None:
            raise NotFound("No subject with this id in your organization.", subject_id=subject_id)
        return subject


def _parse_instant(value: str | None, name: str) -> datetime | None:
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
    return parsed
