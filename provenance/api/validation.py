"""Inbound provenance validation API: a partner's record checked against the ledger."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.fields import StrictCharField, StrictSerializer, validate_subject_id
from core.api.schema import api_operation
from core.api.views import OrganizationApi
from provenance.claims import ABSENT, ProvenanceClaim
from provenance.enums import ValidationProblem
from provenance.services.validation import provenance_record_validate


# The claimed fields accept any JSON value: a wrong type is reported as `malformed` in the 200
# answer, not refused with a 422. Their schema documents the type a well-formed record sends.
@extend_schema_field(OpenApiTypes.STR)
class ClaimedKeyField(serializers.JSONField):
    pass


@extend_schema_field(OpenApiTypes.DATETIME)
class ClaimedInstantField(serializers.JSONField):
    pass


@extend_schema_field(OpenApiTypes.BOOL)
class ClaimedFlagField(serializers.JSONField):
    pass


class ProvenanceValidationInputSerializer(StrictSerializer):
    subject_id = StrictCharField(max_length=255, trim_whitespace=False, validators=[validate_subject_id])
    purposes = serializers.ListField(
        child=StrictCharField(max_length=64), min_length=1, max_length=100, help_text="Purpose keys"
    )
    source = ClaimedKeyField(  # type: ignore[assignment]
        required=False, allow_null=True, help_text="Source identifier (a source key)"
    )
    consent_timestamp = ClaimedInstantField(required=False, allow_null=True, help_text="RFC 3339 with offset")
    opt_in = ClaimedFlagField(required=False, allow_null=True)
    policy_version = ClaimedKeyField(required=False, allow_null=True, help_text="Policy version label")
    jurisdiction = ClaimedKeyField(required=False, allow_null=True, help_text="ISO 3166: DE, US-CA")


class ProvenanceFailureSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The record's field")
    problem = serializers.ChoiceField(choices=ValidationProblem.values)
    detail = serializers.CharField()


class ProvenanceValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    failures = ProvenanceFailureSerializer(many=True)
    alert_id = serializers.CharField(
        allow_null=True,
        help_text="The alert opened for legal (a ULID; an integer before #11); null when valid",
    )


class ProvenanceValidateApi(OrganizationApi):
    required_scopes = {"POST": "stamp"}

    @api_operation(
        scope="stamp",
        summary="Validate the provenance a record claims",
        description="Checks a record's claimed provenance (e.g. from a partner) against the ledger: the "
        "consent timestamp, source identifier and opt-in flag are required; each may be `missing`, "
        "`malformed`, `unknown` or `contradicts_ledger` (timestamps match a grant within 1 s). A failing "
        "record opens a provenance alert for the legal team; it holds the failures, never the record.",
        request=ProvenanceValidationInputSerializer,
        responses={200: ProvenanceValidationResultSerializer},
        problems={400: "Malformed JSON.", 422: "Missing subject_id or purposes, or unknown fields."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(ProvenanceValidationInputSerializer, request.data)
        claim = ProvenanceClaim(
            subject_id=data["subject_id"],
            purposes=tuple(data["purposes"]),
            **{
                name: data.get(name, ABSENT)
                for name in ("source", "consent_timestamp", "opt_in", "policy_version", "jurisdiction")
            },
        )
        outcome = provenance_record_validate(organization=self.organization, claim=claim, actor=self.client.actor)
        return Response(
            {
                "valid": outcome.is_valid,
                "failures": outcome.failures,
                "alert_id": outcome.alert.public_id if outcome.alert else None,
            }
        )
