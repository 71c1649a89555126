"""Request validation and response shapes of the provenance API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from core.api.fields import (
    AwareDateTimeField,
    StrictBooleanField,
    StrictCharField,
    StrictSerializer,
    validate_subject_id,
)
from core.jurisdictions import normalize_jurisdiction
from provenance.enums import STAMP_ERROR, RecipientRole, StampDecision
from provenance.models import Recipient
from provenance.services.stamping import StampRequest


class RecipientSerializer(serializers.ModelSerializer):
    purposes: Any = serializers.SlugRelatedField(slug_field="key", many=True, read_only=True)

    class Meta:
        model = Recipient
        fields = [
            "key",
            "name",
            "role",
            "purposes",
            "data_categories",
            "endpoint_url",
            "webhook_url",
            "legacy_usp",
            "is_active",
            "created_at",
            "updated_at",
        ]


class RecipientInputSerializer(StrictSerializer):
    key = StrictCharField(max_length=64)
    name = StrictCharField(max_length=200)
    role = serializers.ChoiceField(choices=RecipientRole.choices)
    purposes = serializers.ListField(child=StrictCharField(max_length=64), max_length=200)
    data_categories = serializers.ListField(child=StrictCharField(max_length=64), required=False, max_length=50)
    endpoint_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    webhook_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    legacy_usp = StrictBooleanField(required=False)
    is_active = StrictBooleanField(required=False)


class ProvenanceClaimSerializer(StrictSerializer):
    source = StrictCharField(max_length=64, help_text="Key of the source the data came from")  # type: ignore[assignment]
    collected_at = AwareDateTimeField(required=False)
    collection_method = StrictCharField(max_length=40, required=False)


class StampInputSerializer(StrictSerializer):
    recipient = StrictCharField(max_length=64)
    purpose = StrictCharField(max_length=64, required=False)
    purposes = serializers.ListField(child=StrictCharField(max_length=64), required=False, min_length=1, max_length=50)
    subject_id = StrictCharField(max_length=255, trim_whitespace=False, validators=[validate_subject_id])
    data = serializers.JSONField(help_text="The payload to send; any JSON value")  # type: ignore[assignment]
    provenance = ProvenanceClaimSerializer(required=False, allow_null=True)
    jurisdiction = StrictCharField(
        max_length=6, required=False, help_text="For a subject Provenant has not seen: decides the regime"
    )

    def validate_jurisdiction(self, value: str) -> str:
        try:
            return normalize_jurisdiction(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("purpose" in attrs) == ("purposes" in attrs):
            raise serializers.ValidationError({"purposes": ["Send exactly one of 'purpose' or 'purposes'."]})
        return attrs


class StampBatchInputSerializer(StrictSerializer):
    items = serializers.ListField(
        child=StampInputSerializer(), min_length=1, max_length=settings.PROVENANT_BULK_MAX_EVENTS
    )


class StampReasonSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    reason = serializers.CharField()
    rule = serializers.CharField()


class StampOutputSerializer(serializers.Serializer):
    stamp_id = serializers.CharField()
    decision = serializers.ChoiceField(choices=StampDecision.values)
    reasons = StampReasonSerializer(many=True)
    body = serializers.JSONField(allow_null=True, help_text="{data, privacy} — send it serialized as RFC 8785 JCS")
    headers = serializers.DictField(child=serializers.CharField(), help_text="Content-Digest, Privacy-Stamp, Sec-GPC")


class StampBatchItemSerializer(StampOutputSerializer):
    index = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=[*StampDecision.values, STAMP_ERROR])  # type: ignore[assignment]
    errors = serializers.ListField(child=serializers.DictField(), required=False)  # type: ignore[assignment]


class StampBatchOutputSerializer(serializers.Serializer):
    allowed = serializers.IntegerField()
    blocked = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = StampBatchItemSerializer(many=True)


class StampVerifyInputSerializer(StrictSerializer):
    body = serializers.JSONField(help_text="The received body: {data, privacy}")
    privacy_stamp = StrictCharField(max_length=2000, help_text="The Privacy-Stamp header value")
    content_digest = StrictCharField(max_length=200, required=False, help_text="The Content-Digest header, if any")
    expected_recipient = StrictCharField(
        max_length=64, required=False, help_text="Refuse (RECIPIENT_MISMATCH) unless made for this recipient key"
    )
    max_age = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=10 * 366 * 86400,
        help_text="Refuse (EXPIRED) a stamp older than this many seconds",
    )


class StampVerifyOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)
    kid = serializers.CharField(allow_null=True)
    stamp_id = serializers.CharField(allow_null=True)
    consent_still_holds = serializers.BooleanField(
        allow_null=True, help_text="Whether every stamped purpose is still permitted now (null if not valid)"
    )
    purposes_now = serializers.ListField(child=serializers.DictField(), allow_null=True)


def stamp_representation(result: Any) -> dict[str, Any]:
    return {
        "stamp_id": result.stamp_id,
        "decision": result.decision,
        "reasons": result.reasons,
        "body": result.body,
        "headers": result.headers,
    }


def stamp_request(data: dict[str, Any], pointer: str) -> StampRequest:
    """A validated stamp (or delivery) body as the stamping service takes it; ``pointer`` locates it in a batch."""
    purposes = tuple(data["purposes"]) if "purposes" in data else (data["purpose"],)
    return StampRequest(
        recipient=data["recipient"],
        purposes=purposes,
        subject_id=data["subject_id"],
        data=data["data"],
        provenance=_provenance(data.get("provenance")),
        jurisdiction=data.get("jurisdiction"),
        pointer=pointer,
    )


def _provenance(claim: dict[str, Any] | None) -> dict[str, Any] | None:
    if not claim:
        return None
    out = dict(claim)
    if out.get("collected_at") is not None:
        out["collected_at"] = out["collected_at"].isoformat()
    return out
