"""Global Privacy Control signals, subject links, privacy status, solicitation and /.well-known/gpc.json:
request validation and response shapes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from consent.gpc import GpcOutcome
from consent.ledger import format_instant
from consent.selectors import GpcSignalPreview, PrivacyStatus
from core.api.fields import (
    AwareDateTimeField,
    StrictBooleanField,
    StrictCharField,
    StrictSerializer,
    SubjectIdField,
)
from core.jurisdictions import normalize_jurisdiction


class SignalInputSerializer(StrictSerializer):
    subject_id = SubjectIdField()
    gpc = StrictBooleanField(help_text="navigator.globalPrivacyControl as the client saw it")
    jurisdiction = StrictCharField(
        max_length=6, required=False, help_text="Required for a subject Provenant has not seen before"
    )
    occurred_at = AwareDateTimeField(required=False, help_text="When the client saw the signal; default now")

    def validate_jurisdiction(self, value: str) -> str:
        try:
            return normalize_jurisdiction(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class SignalOutputSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    gpc = serializers.BooleanField()
    honored = serializers.BooleanField()
    legally_required = serializers.BooleanField(help_text="A law of the jurisdiction makes the signal binding")
    jurisdiction = serializers.CharField(allow_null=True)
    purposes_opted_out = serializers.ListField(child=serializers.CharField())
    events_written = serializers.IntegerField(help_text="0 when the purposes were already opted out by GPC")
    subjects = serializers.ListField(child=serializers.CharField(), help_text="The subject and those linked to it")


def signal_representation(subject_id: str, outcome: GpcOutcome | None) -> dict[str, Any]:
    if outcome is None:
        return {
            "subject_id": subject_id,
            "gpc": True,
            "honored": False,
            "legally_required": False,
            "jurisdiction": None,
            "purposes_opted_out": [],
            "events_written": 0,
            "subjects": [subject_id],
        }
    return {
        "subject_id": subject_id,
        "gpc": True,
        "honored": outcome.decision.is_honored,
        "legally_required": outcome.decision.is_legally_required,
        "jurisdiction": outcome.decision.jurisdiction,
        "purposes_opted_out": outcome.purposes if outcome.decision.is_honored else [],
        "events_written": outcome.events_written,
        "subjects": outcome.subjects,
    }


class SubjectLinkInputSerializer(StrictSerializer):
    subject_id = SubjectIdField(
        help_text="The subject to link (a device or cookie id, or the known person's id)",
    )


class SubjectLinksOutputSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    linked_subjects = serializers.ListField(
        child=serializers.CharField(), help_text="Every subject known to be the same person, this one included"
    )


GPC_ON_READ_NOTE = (
    "A read never writes: the signal was not recorded. Recording it needs a consent:write key: "
    "POST /api/v1/signals, or send Sec-GPC: 1 with a write (POST /api/v1/consent-events)."
)


class GpcSignalOnReadSerializer(serializers.Serializer):
    recorded = serializers.BooleanField(help_text="Always false: a GET never records the signal")
    required_scope = serializers.CharField(help_text="The scope that records it: consent:write")
    how_to_record = serializers.CharField()
    jurisdiction = serializers.CharField(allow_null=True)
    would_be_honored = serializers.BooleanField()
    legally_required = serializers.BooleanField(help_text="A law of the jurisdiction makes the signal binding")
    would_opt_out = serializers.ListField(
        child=serializers.CharField(),
        help_text="Purposes recording the signal would opt out of now (not yet opted out by GPC)",
    )
    subjects = serializers.ListField(child=serializers.CharField(), help_text="The subject and those linked to it")


GPC_SIGNAL_ON_READ_HELP = (
    "Set when the GET carried Sec-GPC: 1: what recording the signal would do. Null without the header."
)


def gpc_signal_on_read_representation(preview: GpcSignalPreview | None) -> dict[str, Any] | None:
    if preview is None:
        return None
    return {
        "recorded": False,
        "required_scope": "consent:write",
        "how_to_record": GPC_ON_READ_NOTE,
        "jurisdiction": preview.jurisdiction,
        "would_be_honored": preview.would_be_honored,
        "legally_required": preview.is_legally_required,
        "would_opt_out": preview.would_opt_out,
        "subjects": preview.subjects,
    }


class PrivacyStatusOutputSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    opt_out_preference_signal = serializers.ChoiceField(choices=["honored", "received", "not_received"])
    signal_received = serializers.BooleanField()
    received_at = serializers.DateTimeField(allow_null=True)
    last_received_at = serializers.DateTimeField(allow_null=True)
    honored = serializers.BooleanField()
    honored_at = serializers.DateTimeField(allow_null=True)
    legally_required = serializers.BooleanField()
    purposes_opted_out = serializers.ListField(child=serializers.CharField())
    display_text = serializers.CharField(
        allow_null=True, help_text='What to show the person, e.g. "Opt-Out Request Honored" (CCPA regs §7025(c)(6))'
    )
    gpc_signal_on_read = GpcSignalOnReadSerializer(allow_null=True, help_text=GPC_SIGNAL_ON_READ_HELP)


def privacy_status_representation(
    subject_id: str, status: PrivacyStatus, preview: GpcSignalPreview | None = None
) -> dict[str, Any]:
    return {
        "subject_id": subject_id,
        "opt_out_preference_signal": status.opt_out_preference_signal,
        "signal_received": status.signal_received,
        "received_at": format_instant(status.received_at),
        "last_received_at": format_instant(status.last_received_at),
        "honored": status.honored,
        "honored_at": format_instant(status.honored_at),
        "legally_required": status.legally_required,
        "purposes_opted_out": status.purposes_opted_out,
        "display_text": status.display_text,
        "gpc_signal_on_read": gpc_signal_on_read_representation(preview),
    }


class SolicitationOutputSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    purpose = serializers.CharField()
    may_solicit = serializers.BooleanField(help_text="Whether the person may be asked to opt in now")
    earliest = serializers.DateField(allow_null=True, help_text="The earliest date an opt-in may be solicited")
    reason = serializers.ChoiceField(choices=["allowed", "already_opted_in", "within_resolicitation_window"])
    rule = serializers.CharField(allow_null=True)


class GpcWellKnownSerializer(serializers.Serializer):
    gpc = serializers.BooleanField()
    lastUpdate = serializers.DateField()
