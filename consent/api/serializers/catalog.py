"""The catalog (sources, purposes, policy versions): request validation and response shapes."""

from __future__ import annotations

from rest_framework import serializers

from consent.enums import CLIENT_SOURCE_KIND_CHOICES, LawfulBasis
from consent.models import PolicyVersion, Purpose, Source
from core.api.fields import AwareDateTimeField, StrictBooleanField, StrictCharField, StrictSerializer
from core.timeutil import parse_iso_duration


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = [
            "key",
            "name",
            "kind",
            "vendor_name",
            "collection_point",
            "lawful_basis",
            "dpa_reference",
            "dpa_date",
            "is_active",
            "is_builtin",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_builtin", "created_at", "updated_at"]


class SourceInputSerializer(StrictSerializer):
    key = StrictCharField(max_length=64)
    name = StrictCharField(max_length=200)
    kind = serializers.ChoiceField(choices=CLIENT_SOURCE_KIND_CHOICES)
    vendor_name = StrictCharField(max_length=200, required=False, allow_blank=True)
    collection_point = StrictCharField(max_length=500, required=False, allow_blank=True)
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices, required=False)
    dpa_reference = StrictCharField(max_length=200, required=False, allow_blank=True)
    dpa_date = serializers.DateField(required=False, allow_null=True)
    is_active = StrictBooleanField(required=False)


class PurposeSerializer(serializers.ModelSerializer):
    current_policy_version = serializers.SerializerMethodField()

    class Meta:
        model = Purpose
        fields = [
            "key",
            "name",
            "description",
            "legal_basis",
            "dpv_purpose_iri",
            "dpv_legal_basis_iri",
            "is_sale_or_sharing",
            "is_targeted_advertising",
            "is_sensitive",
            "validity",
            "retention",
            "recipient_categories",
            "current_policy_version",
            "created_at",
            "updated_at",
        ]

    def get_current_policy_version(self, purpose: Purpose) -> str | None:
        current: dict[int, PolicyVersion] = self.context.get("current_versions", {})
        version = current.get(purpose.pk)
        return version.version if version else None


class PurposeInputSerializer(StrictSerializer):
    key = StrictCharField(max_length=64)
    name = StrictCharField(max_length=200)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000)
    legal_basis = serializers.ChoiceField(choices=LawfulBasis.choices, required=False)
    dpv_purpose_iri = serializers.URLField(required=False, allow_blank=True, max_length=300)
    dpv_legal_basis_iri = serializers.URLField(required=False, allow_blank=True, max_length=300)
    is_sale_or_sharing = StrictBooleanField(required=False)
    is_targeted_advertising = StrictBooleanField(required=False)
    is_sensitive = StrictBooleanField(required=False)
    validity = StrictCharField(
        required=False, allow_blank=True, max_length=40, help_text="ISO 8601 duration, e.g. P6M; empty: no expiry"
    )

    retention = StrictCharField(
        required=False, allow_blank=True, max_length=300, help_text="How long the data is kept, for people to read"
    )
    recipient_categories = StrictCharField(
        required=False, allow_blank=True, max_length=5000, help_text="Categories of recipients, one per line"
    )

    def validate_validity(self, value: str) -> str:
        if value:
            try:
                parse_iso_duration(value)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return value


class PolicyVersionSerializer(serializers.ModelSerializer):
    purpose = serializers.CharField(source="purpose.key", read_only=True)

    class Meta:
        model = PolicyVersion
        fields = [
            "purpose",
            "version",
            "notice_sha256",
            "notice_url",
            "notice_text",
            "effective_at",
            "is_material",
            "created_at",
        ]


class PolicyVersionInputSerializer(StrictSerializer):
    version = StrictCharField(max_length=64)
    notice_sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", help_text="SHA-256 of the notice text, hex")
    notice_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    notice_text = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=100_000,
        help_text="The notice itself (shown in the privacy center); its UTF-8 bytes must hash to notice_sha256",
    )
    effective_at = AwareDateTimeField()
    is_material = StrictBooleanField(required=False, default=False)
