"""OpenAPI helpers: every operation names its scope and its problem responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from core.api.fields import StrictSerializer


class ProblemErrorSerializer(serializers.Serializer):
    pointer = serializers.CharField(help_text="JSON pointer into the request body")
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details (application/problem+json)."""

    type = serializers.URLField(help_text="Stable URI identifying the problem type")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    request_id = serializers.CharField(required=False)
    errors = ProblemErrorSerializer(many=True, required=False)  # type: ignore[assignment]


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A retry with the same key and body returns the first response and creates nothing; "
    "the same key with another body answers 409.",
)
SUBJECT_ID = OpenApiParameter("subject_id", OpenApiTypes.STR, OpenApiParameter.PATH)

_STANDARD = {
    # Before any view logic: a body that is not JSON (`malformed-request`) or a NUL character in an identifier or
    # query parameter (`bad-request`). Found by schemathesis (issue #15).
    400: "The body could not be parsed, or an identifier or parameter holds a NUL character.",
    401: "Missing, unknown or revoked API key (`unauthenticated`).",
    403: "The API key lacks the scope (`insufficient-scope`).",
}


def api_operation(
    *,
    scope: str,
    summary: str,
    request: Any = None,
    responses: dict[int, Any] | dict[tuple[int, str], Any] | None = None,
    problems: dict[int, str] | None = None,
    **kwargs: Any,
) -> Callable[[Any], Any]:
    """``extend_schema`` with the scope in the description and problem+json error responses."""
    description = kwargs.pop("description", "")
    all_responses: dict[Any, Any] = dict(responses or {})
    for status, text in {**_STANDARD, **(problems or {})}.items():
        all_responses[(status, "application/problem+json")] = OpenApiResponse(
            response=ProblemSerializer, description=text
        )
    return extend_schema(
        summary=summary,
        description=f"{description}\n\n**Scope:** `{scope}`".strip(),
        request=request,
        responses=all_responses,
        extensions={"x-required-scope": scope},
        **kwargs,
    )


__all__ = ["IDEMPOTENCY_HEADER", "SUBJECT_ID", "ProblemSerializer", "StrictSerializer", "api_operation"]
