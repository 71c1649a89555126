"""Request validation and response shapes of the DSAR API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework import serializers

from core.api.fields import (
    AwareDateTimeField,
    BoundedDateField,
    StrictCharField,
    StrictSerializer,
    validate_subject_id,
)
from core.api.prebuilt import prebuilt_representation
from dsar.deadlines import CALENDAR_SOURCES, EVENT_TYPES, EXTENSION_REASON_CODES, TZ_SOURCES
from dsar.enums import Channel, DsarRegime, RequestType
from dsar.models import DataSubjectRequest, RequestMessage, RequestTransition
from dsar.selectors import dsar_requester_masked

# --- input -----------------------------------------------------------------------------------------------------


class DsarRequesterInputSerializer(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)


class DsarCreateInputSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=RequestType.choices, help_text="The right the person exercises.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, default=Channel.API)
    jurisdiction = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=6,
        help_text="The requester's ISO 3166 country or subdivision (DE, US-CA); the regime follows from it.",
    )
    regime = serializers.ChoiceField(
        choices=DsarRegime.choices, required=False, help_text="Overrides the regime derived from the jurisdiction."
    )
    subject_id = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=255,
        trim_whitespace=False,
        validators=[validate_subject_id],
        help_text="The subject's external id; blank while unknown.",
    )
    received_at = AwareDateTimeField(
        required=False,
        help_text="When the request arrived (RFC 3339); only for channel email or mail, never in the future. "
        "Default: now.",
    )
    requester = DsarRequesterInputSerializer(
        required=False, help_text="Contact of the person; stored encrypted, shown only masked."
    )
    language = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=16,
        help_text="The requester's language (BCP 47: en, de, de-AT). Messages to them use it; other languages "
        "than English and German get English.",
    )


class DeadlineEventInputSerializer(StrictSerializer):
    type = StrictCharField(help_text=f"One of {', '.join(EVENT_TYPES)}.")  # type: ignore[assignment]
    date = BoundedDateField()

    def validate_type(self, value: str) -> str:
        if value not in EVENT_TYPES:
            raise serializers.ValidationError(f"Must be one of {', '.join(EVENT_TYPES)}.")
        return value


class DeadlineExtensionInputSerializer(StrictSerializer):
    notice_sent_on = BoundedDateField()
    reason_code = serializers.ChoiceField(choices=sorted(EXTENSION_REASON_CODES))


class DeadlineComputeInputSerializer(StrictSerializer):
    regime = serializers.ChoiceField(choices=DsarRegime.choices)
    request_type = StrictCharField(help_text="One of the request types of POST /dsar (access, deletion, ...).")
    received_at = AwareDateTimeField(help_text="When the request arrived (RFC 3339 with offset).")
    tz = StrictCharField(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="IANA time zone. Omitted: the organization's, else the calendar's when its place keeps one "
        "time (IE -> Europe/Dublin), else the regime's.",
    )
    calendar = StrictCharField(
        required=False,
        allow_null=True,
        max_length=32,
        help_text="WEEKENDS_ONLY, US-FED, EU-<CC>, <CC>, <CC>-<REGION>. Omitted: the regime's when it fixes one "
        "(CCPA: US-FED), else the organization's, else the time zone's country (Europe/Dublin -> IE).",
    )
    events = serializers.ListField(child=DeadlineEventInputSerializer(), required=False, max_length=100)
    extension = DeadlineExtensionInputSerializer(required=False, allow_null=True)
    as_of = BoundedDateField(required=False, allow_null=True, help_text="The status on this date")

    def validate_request_type(self, value: str) -> str:
        if value not in RequestType.values:
            raise serializers.ValidationError(f"Must be one of {', '.join(RequestType.values)}.")
        return value


# --- output ----------------------------------------------------------------------------------------------------


def _date() -> serializers.DateField:
    return serializers.DateField(allow_null=True)


class DeadlineResultOutputSerializer(serializers.Serializer):
    """DeadlineResult.to_dict(): null for a deadline that does not apply to the regime or request."""

    regime = serializers.CharField()
    request_type = serializers.CharField()
    time_zone = serializers.CharField()
    tz_source = serializers.ChoiceField(
        choices=TZ_SOURCES,
        help_text="Where the time zone came from: request, organization, jurisdiction (stored requests), "
        "calendar (its place keeps one time), regime",
    )
    calendar = serializers.CharField()
    calendar_source = serializers.ChoiceField(
        choices=CALENDAR_SOURCES,
        help_text="Where the calendar came from: request, organization, jurisdiction (stored requests), regime, "
        "time_zone (the zone's country)",
    )
    receipt_date = serializers.DateField()
    initial_due_unrolled = _date()
    initial_due = _date()
    extension_notice_due = _date()
    extended_due = _date()
    alt_extended_due = _date()
    alt_due_inclusive_pause = _date()
    alt_due_restart = _date()
    identity_reminder_due = _date()
    identity_cutoff = _date()
    response_due = _date()
    response_sla_due = _date()
    max_extended_due = _date()
    confirm_legal_due = _date()
    confirm_sla_due = _date()
    optout_legal_due = _date()
    optout_sla_due = _date()
    enforced_due = serializers.DateField()
    enforced_key = serializers.CharField(help_text="The key of the date the regime enforces")
    paused_days = serializers.IntegerField()
    pause_applied = serializers.BooleanField()
    status = serializers.CharField(
        allow_null=True, help_text="open, overdue, deniable_unverified, closed_unable_to_identify, met, answered_late"
    )
    warnings = serializers.ListField(child=serializers.CharField())
    rules = serializers.DictField(child=serializers.CharField(), help_text="The rule or citation of each key")


class DeadlineSettingsSerializer(StrictSerializer):
    """The organization's deadline calendar and time zone; null when not set."""

    calendar = StrictCharField(
        allow_null=True,
        max_length=32,
        help_text="Holiday calendar id: EU-<CC>, <CC>, <CC>-<REGION>, US-FED, WEEKENDS_ONLY; null clears it",
    )
    time_zone = StrictCharField(allow_null=True, max_length=64, help_text="IANA time zone; null clears it")


class DeadlineSettingsOutputSerializer(serializers.Serializer):
    calendar = serializers.CharField(allow_null=True)
    time_zone = serializers.CharField(allow_null=True)
    implied_time_zone = serializers.CharField(
        allow_null=True, help_text="The zone used when no time zone is set: the calendar's, when its place keeps one"
    )
    implied_calendar = serializers.CharField(
        allow_null=True, help_text="The calendar used when none is set: the time zone's country's"
    )
    updated_at = serializers.DateTimeField(allow_null=True)


class DsarRequesterOutputSerializer(serializers.Serializer):
    email = serializers.CharField(help_text="Masked: j***@example.com")
    name = serializers.CharField(help_text="Masked: J*** D***")


class DsarExtensionOutputSerializer(serializers.Serializer):
    reason_code = serializers.CharField()
    notice_sent_on = BoundedDateField()


class DsarTransitionOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    from_status = serializers.CharField(help_text="Empty for the intake")
    to_status = serializers.CharField()
    reason = serializers.CharField()


class DsarMessageOutputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="receipt, identity.link, identity.reminder, extension, completion, ...")
    status = serializers.CharField(help_text="pending, sending, sent or undeliverable")
    language = serializers.CharField()
    template_version = serializers.CharField(help_text="default:<language>:<digest> or override:<id>:v<version>")
    sha256 = serializers.CharField(help_text="SHA-256 of subject + newline + body as sent; never the text")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class DsarDetailOutputSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="ULID")
    status = serializers.CharField(
        help_text="received, identity_pending, verified, in_progress, awaiting_review, completed or rejected"
    )
    type = serializers.CharField()
    regime = serializers.CharField()
    jurisdiction = serializers.CharField()
    channel = serializers.CharField()
    subject_id = serializers.CharField(help_text="Empty while unknown")
    received_at = serializers.DateTimeField()
    requester = DsarRequesterOutputSerializer()
    rejection_reason = serializers.CharField()
    extension = DsarExtensionOutputSerializer(allow_null=True, help_text="null until the request is extended")
    due_on = serializers.DateField(help_text="The enforced due date")
    deadlines = DeadlineResultOutputSerializer()
    language = serializers.CharField(help_text="The requester's language; empty when not given")
    history = DsarTransitionOutputSerializer(many=True, help_text="Every transition, oldest first")
    messages = DsarMessageOutputSerializer(many=True, help_text="Every message to the requester, oldest first")
    created_at = serializers.DateTimeField()


def dsar_representation(
    request: DataSubjectRequest,
    *,
    history: Sequence[RequestTransition] | None = None,
    messages: Sequence[RequestMessage] | None = None,
) -> dict[str, Any]:
    """The request as the API answers it; its history and messages as given (what intake wrote), else as loaded
    with it (``selectors.dsar_with_history``)."""
    masked = dsar_requester_masked(request)
    extension = None
    if request.is_extended:
        extension = {"reason_code": request.extension_reason_code, "notice_sent_on": request.extension_notice_sent_on}
    body = {
        "id": request.public_id,
        "status": request.status,
        "type": request.type,
        "regime": request.regime,
        "jurisdiction": request.jurisdiction,
        "channel": request.channel,
        "subject_id": request.subject_external_id,
        "received_at": request.received_at,
        "requester": {"email": masked.email, "name": masked.name},
        "rejection_reason": request.rejection_reason,
        "extension": extension,
        "due_on": request.due_on,
        "deadlines": request.deadlines,
        "language": request.language,
        "history": list(request.transitions.all() if history is None else history),
        "messages": list(request.messages.all() if messages is None else messages),
        "created_at": request.created_at,
    }
    return prebuilt_representation(DsarDetailOutputSerializer, body)
