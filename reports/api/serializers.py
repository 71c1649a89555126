"""Output serializers of the compliance report: they document its JSON shape in OpenAPI and render it."""

from __future__ import annotations

from rest_framework import serializers

# "from" is a Python keyword: the period's fields are declared by name.
ReportPeriodSerializer = type(
    "ReportPeriodSerializer",
    (serializers.Serializer,),
    {
        "from": serializers.DateField(help_text="First UTC day of the period (inclusive)."),
        "to": serializers.DateField(help_text="Last UTC day of the period (inclusive)."),
    },
)


class ConsentDailySerializer(serializers.Serializer):
    purpose = serializers.CharField()
    day = serializers.DateField()
    grants = serializers.IntegerField()
    refusals = serializers.IntegerField()
    withdrawals = serializers.IntegerField()


class OptInRateSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    grants = serializers.IntegerField()
    refusals = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True, help_text="grants / (grants + refusals); null without either.")


class ConsentFiguresSerializer(serializers.Serializer):
    daily = ConsentDailySerializer(many=True, help_text="Events per purpose and UTC day in the period.")
    opt_in_rate = OptInRateSerializer(many=True)
    expiring_next_30_days = serializers.DictField(
        child=serializers.IntegerField(), help_text="Consents in force that expire within 30 days, per purpose."
    )
    stale_grants = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Grants in force given before a material policy version took effect, per purpose.",
    )


class SubjectCompletenessSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    with_source = serializers.IntegerField(help_text="People with a consent record from a non-built-in source.")
    with_consent_timestamp = serializers.IntegerField()
    with_policy_version = serializers.IntegerField()
    with_source_share = serializers.FloatField(allow_null=True)
    with_consent_timestamp_share = serializers.FloatField(allow_null=True)
    with_policy_version_share = serializers.FloatField(allow_null=True)


class StampCompletenessSerializer(SubjectCompletenessSerializer):
    complete = serializers.IntegerField(help_text="Stamps carrying all three: source, consent timestamp, policy.")
    complete_share = serializers.FloatField(allow_null=True)


class ProvenanceFiguresSerializer(serializers.Serializer):
    subjects = SubjectCompletenessSerializer()
    stamped_payloads = StampCompletenessSerializer(help_text="Stamps issued in the period (allowed or refused).")
    sources_without_dpa = serializers.ListField(child=serializers.CharField())


class GpcFiguresSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="GPC signals first received in the period.")
    honored = serializers.IntegerField()
    conflicts = serializers.IntegerField(
        help_text="Of the people whose first GPC signal arrived in the period, those who had opted in before."
    )


class StampsPerRecipientSerializer(serializers.Serializer):
    recipient = serializers.CharField()
    stamped = serializers.IntegerField()
    refused = serializers.IntegerField()


class RefusalsPerReasonSerializer(serializers.Serializer):
    recipient = serializers.CharField()
    reason = serializers.CharField()
    count = serializers.IntegerField(help_text="Refused stamps naming this reason (one stamp may name several).")


class StampingFiguresSerializer(serializers.Serializer):
    per_recipient = StampsPerRecipientSerializer(many=True)
    refused_by_reason = RefusalsPerReasonSerializer(many=True)
    open_alerts = serializers.IntegerField(help_text="Provenance alerts open now.")


class DsarTypeRegimeSerializer(serializers.Serializer):
    type = serializers.CharField()
    regime = serializers.CharField()
    received = serializers.IntegerField()
    completed = serializers.IntegerField()


class OpenDsarSerializer(serializers.Serializer):
    public_id = serializers.CharField()
    type = serializers.CharField()
    regime = serializers.CharField()
    status = serializers.CharField()
    due_on = serializers.DateField()
    days_left = serializers.IntegerField(help_text="Negative when overdue.")


class DsarFiguresSerializer(serializers.Serializer):
    by_type_and_regime = DsarTypeRegimeSerializer(many=True)
    on_time_rate = serializers.FloatField(allow_null=True)
    median_days_to_close = serializers.FloatField(allow_null=True, help_text="Null on SQLite (no percentiles).")
    p90_days_to_close = serializers.FloatField(allow_null=True)
    open = OpenDsarSerializer(many=True, help_text="The 50 open requests due soonest.")
    open_total = serializers.IntegerField()
    overdue_now = serializers.IntegerField()
    due_within_7_days = serializers.IntegerField()
    extensions_used = serializers.IntegerField(help_text="Extensions on requests received in the period.")


class LedgerFiguresSerializer(serializers.Serializer):
    verified_at = serializers.DateTimeField()
    is_valid = serializers.BooleanField()  # type: ignore[assignment]  # the metaclass pops fields: no clash
    subjects_checked = serializers.IntegerField()
    events_checked = serializers.IntegerField()


class ComplianceReportSerializer(serializers.Serializer):
    period = ReportPeriodSerializer()
    generated_at = serializers.DateTimeField()
    consent = ConsentFiguresSerializer()
    provenance = ProvenanceFiguresSerializer()
    gpc = GpcFiguresSerializer()
    stamping = StampingFiguresSerializer()
    dsar = DsarFiguresSerializer()
    ledger = LedgerFiguresSerializer(allow_null=True, help_text="The last verification; null if never verified.")
