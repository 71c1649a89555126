"""The requester's identity link: public (the signed token is the credential), idempotent."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dsar import services


class DsarVerificationOutputSerializer(serializers.Serializer):
    request_id = serializers.CharField()
    status = serializers.CharField()
    verified = serializers.BooleanField()
    detail = serializers.CharField()


class DsarVerifyLinkApi(APIView):
    """GET /api/v1/dsar/verify/<token>: the link emailed to the requester. No API key; tampered links answer 400,
    expired ones 410 (problem+json), and a second use changes nothing."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    required_scopes: dict[str, str] = {}  # public: the API-key contract table lists none of its methods

    # A link a person clicks in an email, not an integration operation: kept out of the API-key OpenAPI document.
    @extend_schema(exclude=True)
    def get(self, request: Request, token: str) -> Response:
        outcome = services.dsar_identity_verify_by_link(token=token)
        detail = (
            "Thank you: your identity is confirmed and we are processing your request."
            if outcome.is_newly_verified
            else "Your identity was confirmed already; nothing changed."
        )
        body = DsarVerificationOutputSerializer(
            {"request_id": outcome.public_id, "status": outcome.status, "verified": True, "detail": detail}
        ).data
        response = Response(body)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response
