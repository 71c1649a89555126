"""The DSAR compliance certificate: every clock event and deadline of a request, signed with the stamping key."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.renderers import JOSE_CONTENT_TYPE, FormatParameterNegotiation, JoseRenderer
from core.api.schema import api_operation
from core.api.views import OrganizationApi
from core.problems import InvalidInput, NotFound
from dsar import selectors
from dsar.certificate import build_certificate, certificate_jws
from provenance.services.keys import active_signing_key

CERTIFICATE_FORMATS = ("json", "jws")


class DsarCertificateEventOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="received, acknowledged, paused, verified, extended, completed, rejected")
    at = serializers.CharField(allow_null=True, help_text="RFC 3339 instant (UTC)")
    date = serializers.DateField(help_text="The date in the deadline time zone")
    actor = serializers.CharField(help_text="Empty for the receipt")
    channel = serializers.CharField(required=False, help_text="received: the intake channel")
    status = serializers.CharField(required=False, help_text="acknowledged: the status the request moved to")
    pauses_clock = serializers.BooleanField(required=False, help_text="paused: whether the regime stops the clock")
    reason_code = serializers.CharField(required=False, help_text="extended: complexity, volume or redaction")
    notice_sent_on = serializers.DateField(required=False, allow_null=True, help_text="extended: notice date")
    reason = serializers.CharField(required=False, help_text="rejected: the reason given")


class DsarCertificateDeadlineOutputSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The deadline's key, as in the request's deadlines")
    due = serializers.DateField()
    rule = serializers.CharField(help_text="The rule or citation it comes from")
    is_enforced = serializers.BooleanField()
    answered_by = serializers.CharField(allow_null=True, help_text="The event kind that answers it")
    met = serializers.BooleanField(allow_null=True, help_text="null: pending, or informational only")


class DsarCertificateRequestOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    organization = serializers.CharField(help_text="The organization's slug")
    type = serializers.CharField()
    regime = serializers.CharField()
    jurisdiction = serializers.CharField()
    channel = serializers.CharField()
    received_at = serializers.CharField(help_text="RFC 3339 instant (UTC)")
    status = serializers.CharField()
    time_zone = serializers.CharField()
    calendar = serializers.CharField()


class DsarCertificateOutcomeOutputSerializer(serializers.Serializer):
    status = serializers.CharField()
    responded_on = serializers.DateField(allow_null=True)
    enforced_key = serializers.CharField()
    enforced_due = serializers.DateField()
    paused_days = serializers.IntegerField()
    met = serializers.BooleanField(allow_null=True, help_text="null while the request is open and not yet due")


class DsarCertificateBodyOutputSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="dsar-compliance-certificate")
    version = serializers.IntegerField()
    issued_at = serializers.CharField(help_text="RFC 3339 instant (UTC)")
    request = DsarCertificateRequestOutputSerializer()
    events = DsarCertificateEventOutputSerializer(many=True, help_text="Clock events, oldest first")
    deadlines = DsarCertificateDeadlineOutputSerializer(many=True)
    outcome = DsarCertificateOutcomeOutputSerializer()


class DsarCertificateOutputSerializer(serializers.Serializer):
    certificate = DsarCertificateBodyOutputSerializer()
    signature = serializers.CharField(
        help_text="Compact JWS (EdDSA), payload embedded: the RFC 8785 JCS bytes of `certificate`"
    )
    kid = serializers.CharField(help_text="The signing key's id in /.well-known/jwks.json")


CERTIFICATE_RESPONSES: dict[Any, Any] = {
    (200, "application/json"): OpenApiResponse(DsarCertificateOutputSerializer, description="The certificate"),
    (200, JOSE_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.STR, description="With format=jws: the compact JWS"),
}


class DsarCertificateApi(OrganizationApi):
    required_scopes = {"GET": "dsar:read"}
    renderer_classes = [JSONRenderer, JoseRenderer]
    content_negotiation_class = FormatParameterNegotiation  # ?format= names the answer's form, not a renderer

    @api_operation(
        scope="dsar:read",
        summary="A signed compliance certificate of a data-subject request",
        description="Every clock event of the request (received, acknowledged, identity requested and verified, "
        "extended with its reason and notice date, completed or rejected) with the deadlines that applied and "
        "whether each was met. `signature` is a compact JWS (EdDSA, not detached) whose payload is the RFC 8785 "
        "canonical JSON of `certificate`, signed with the current stamping key; verify it with "
        "`/.well-known/jwks.json` (header `kid`). With `format=jws` the answer is the JWS alone "
        "(`application/jose`).",
        parameters=[
            OpenApiParameter("request_id", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(CERTIFICATE_FORMATS), default="json"),
        ],
        responses=CERTIFICATE_RESPONSES,
        problems={404: "No such request in your organization.", 422: "Unknown `format`."},
    )
    def get(self, request: Request, request_id: str) -> Response | HttpResponse:
        answer_format = request.query_params.get("format", "json")
        if answer_format not in CERTIFICATE_FORMATS:
            raise InvalidInput(
                f"Unknown format; use one of: {', '.join(CERTIFICATE_FORMATS)}.",
                errors=[{"pointer": "?format", "detail": f"one of {', '.join(CERTIFICATE_FORMATS)}"}],
            )
        found = selectors.dsar_for_organization(organization=self.organization, public_id=request_id)
        if found is None:
            raise NotFound("No data-subject request with this id in your organization.")
        certificate = build_certificate(selectors.dsar_certificate_facts(found), issued_at=timezone.now())
        key = active_signing_key(organization=self.organization)
        jws = certificate_jws(certificate, private_key=key.private_key, kid=key.kid)
        response: Response | HttpResponse
        if answer_format == "jws":
            response = HttpResponse(jws, content_type=JOSE_CONTENT_TYPE)
        else:
            body: dict[str, Any] = {"certificate": certificate, "signature": jws, "kid": key.kid}
            response = Response(body, content_type="application/json")
        response["Cache-Control"] = "no-store"
        return response
