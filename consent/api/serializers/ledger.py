"""Consent events (one, bulk), a subject's consent and history, and ledger verification: request
validation and response shapes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from consent.api.serializers.gpc import GPC_SIGNAL_ON_READ_HELP, GpcSignalOnReadSerializer
from consent.enums import CLIENT_ACTIONS, Action, CollectionMethod, ConsentStatus
from consent.ledger import format_instant
from consent.models import ConsentEvent
from consent.permission import BASES
from consent.selectors import PurposeConsent, event_evidence, shared_evidence
from consent.services import ConsentEventInput, request_digest
from core.api.fields import (
    AwareDateTimeField,
    StrictBooleanField,
    StrictCharField,
    StrictSerializer,
    SubjectIdField,
)
from core.jurisdictions import normalize_jurisdiction


class EvidenceInputSerializer(StrictSerializer):
    ip_address = serializers.IPAddressField(required=False, allow_null=True)
    user_agent = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=1024)


class ConsentEventInputSerializer(StrictSerializer):
    subject_id = SubjectIdField()
    subject_email = serializers.EmailField(required=False, allow_null=True, max_length=254)
    purpose = StrictCharField(max_length=64)
    action = serializers.ChoiceField(choices=list(CLIENT_ACTIONS))
    occurred_at = AwareDateTimeField(help_text="When the person acted (RFC 3339 with offset).")
    source = StrictCharField(max_length=64, help_text="Key of a registered source.")  # type: ignore[assignment]
    collection_method = serializers.ChoiceField(choices=CollectionMethod.choices)
    policy_version = StrictCharField(
        max_length=64,
        required=False,
        allow_null=True,
        help_text="Version label; defaults to the purpose's version in effect at occurred_at.",
    )
    jurisdiction = StrictCharField(max_length=6, help_text="ISO 3166 country or subdivision: DE, US-CA.")
    gpc = StrictBooleanField(
        required=False,
        default=False,
        help_text="The client saw navigator.globalPrivacyControl === true: recorded, and honored as an "
        "opt-out of sale/sharing (see README, 'How GPC is honored').",
    )
    explicit_confirmation = StrictBooleanField(
        required=False,
        default=False,
        help_text="A grant the person explicitly confirmed after a GPC opt-out; it re-permits where the "
        "jurisdiction allows consent after the signal and the person is known.",
    )
    evidence = EvidenceInputSerializer(required=False, allow_null=True)
    supersedes = StrictCharField(
        max_length=26, required=False, allow_null=True, help_text="event_id of the grant an 'invalidate' cancels."
    )
    idempotency_key = StrictCharField(
        max_length=255,
        required=False,
        allow_null=True,
        help_text="Bulk only; single events use the Idempotency-Key header.",
    )

    def validate_jurisdiction(self, value: str) -> str:
        try:
            return normalize_jurisdiction(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


def event_input(data: dict[str, Any], *, raw: Any, pointer: str, idempotency_key: str | None) -> ConsentEventInput:
    evidence = data.get("evidence") or {}
    return ConsentEventInput(
        subject_id=data["subject_id"],
        subject_email=data.get("subject_email"),
        purpose=data["purpose"],
        action=data["action"],
        occurred_at=data["occurred_at"],
        source=data["source"],
        collection_method=data["collection_method"],
        policy_version=data.get("policy_version"),
        jurisdiction=data["jurisdiction"],
        gpc=data.get("gpc", False),
        explicit_confirmation=data.get("explicit_confirmation", False),
        ip_address=evidence.get("ip_address"),
        user_agent=evidence.get("user_agent"),
        supersedes=data.get("supersedes"),
        idempotency_key=idempotency_key if idempotency_key is not None else data.get("idempotency_key"),
        request_digest=request_digest(raw),
        pointer=pointer,
    )


class ConsentEventBulkInputSerializer(StrictSerializer):
    events = serializers.ListField(
        child=ConsentEventInputSerializer(), min_length=1, max_length=settings.PROVENANT_BULK_MAX_EVENTS
    )


# ---------------------------------------------------------------------------------------------
# Responses (the views build plain dicts with these shapes; the serializers document them)
# ---------------------------------------------------------------------------------------------


class ConsentStateOutputSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    status = serializers.ChoiceField(choices=ConsentStatus.values)
    dpv_status = serializers.URLField(help_text="DPV ConsentStatus IRI")
    opt_in = serializers.BooleanField()
    since = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    policy_version = serializers.CharField(allow_null=True)
    jurisdiction = serializers.CharField(allow_null=True)
    gpc = serializers.BooleanField()
    event_id = serializers.CharField(allow_null=True)
    permitted = serializers.BooleanField(
        help_text="May data be processed for this purpose now, under the subject's jurisdiction"
    )
    basis = serializers.ChoiceField(choices=list(BASES), help_text="Why `permitted` is what it is")
    gpc_conflict = serializers.BooleanField(
        help_text="A GPC opt-out overrode an opt-in in force: the person may be offered a non-interstitial "
        "way to consent again"
    )


def state_representation(state: PurposeConsent) -> dict[str, Any]:
    return {
        "purpose": state.purpose,
        "status": state.status,
        "dpv_status": state.dpv_status,
        "opt_in": state.opt_in,
        "since": format_instant(state.since),
        "valid_until": format_instant(state.valid_until),
        "source": state.source,
        "policy_version": state.policy_version,
        "jurisdiction": state.jurisdiction,
        "gpc": state.gpc,
        "event_id": state.event_id,
        "permitted": state.permitted,
        "basis": state.basis,
        "gpc_conflict": state.gpc_conflict,
    }


class IabSignalsOutputSerializer(serializers.Serializer):
    us_privacy = serializers.CharField(help_text="IAB US Privacy string (1--- where the CCPA does not apply)")
    gpp = serializers.CharField(
        allow_null=True,
        help_text="GPP string with a GPC sub-section: the usca section for California, the usnat section for "
        "other US states with a privacy law; null elsewhere in the US",
    )
    gpp_sid = serializers.ListField(
        child=serializers.IntegerField(), help_text="Section ids of the GPP string: [8] usca, [7] usnat, [] none"
    )


class SubjectConsentOutputSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    at = serializers.DateTimeField()
    jurisdiction = serializers.CharField(allow_null=True, help_text="The subject's last reported jurisdiction")
    gpc_honored = serializers.BooleanField(help_text="A GPC signal of this person was honored")
    iab = IabSignalsOutputSerializer(allow_null=True, help_text="US subjects only")
    purposes = ConsentStateOutputSerializer(many=True)
    gpc_signal_on_read = GpcSignalOnReadSerializer(allow_null=True, help_text=GPC_SIGNAL_ON_READ_HELP)


class EvidenceDocumentOutputSerializer(serializers.Serializer):
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes")
    sha256 = serializers.CharField(help_text="SHA-256 of the document, hex")
    content_base64 = serializers.CharField(
        required=False,
        help_text="The document, standard base64: only in an evidence pack (the ledger's reads name the document, "
        "they never carry it)",
    )


class EvidenceOutputSerializer(serializers.Serializer):
    ip_address = serializers.CharField(required=False)
    user_agent = serializers.CharField(required=False)
    received_by = serializers.CharField(
        required=False, help_text="Recorded by the legal team in the admin: letter, phone, email or in_person"
    )
    recorded_by = serializers.CharField(
        required=False, help_text="The staff user who recorded it (user:<id>): only in an evidence pack"
    )
    note = serializers.CharField(required=False, help_text="The legal team's note: only in an evidence pack")
    document = EvidenceDocumentOutputSerializer(required=False, help_text="The letter or call note, as uploaded")


class ConsentEventOutputSerializer(serializers.Serializer):
    event_id = serializers.CharField(help_text="ULID")
    subject_id = serializers.CharField()
    subject_uuid = serializers.UUIDField(help_text="What the hash covers instead of the external id")
    chain_index = serializers.IntegerField()
    purpose = serializers.CharField()
    action = serializers.ChoiceField(choices=Action.choices)
    occurred_at = serializers.DateTimeField()
    recorded_at = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]
    collection_method = serializers.CharField()
    policy_version = serializers.CharField(allow_null=True)
    jurisdiction = serializers.CharField()
    gpc = serializers.BooleanField()
    explicit_confirmation = serializers.BooleanField()
    lifts_gpc_opt_out = serializers.BooleanField(help_text="This grant overrode an earlier GPC opt-out")
    supersedes = serializers.CharField(allow_null=True)
    evidence = EvidenceOutputSerializer(
        allow_null=True,
        help_text="In clear on reads of the ledger (null when none was sent or after erasure); "
        "null in the response to a write, which never echoes personal data",
    )
    evidence_sealed = serializers.CharField(allow_null=True, help_text="The ciphertext the hash covers")
    prev_hash = serializers.CharField()
    hash = serializers.CharField()


class EventLogPlacementSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField(help_text="The event's leaf in the organization's log, from 0")
    leaf_hash = serializers.CharField(help_text="SHA-256(0x00 || the event's 32-byte hash), standard base64")
    tree_size = serializers.IntegerField(help_text="The size of the tree the proof is for")
    root_hash = serializers.CharField(help_text="That tree's root, standard base64")
    proof = serializers.ListField(child=serializers.CharField(), help_text="RFC 9162 inclusion path")
    event_id = serializers.CharField()
    checkpoint = serializers.CharField(
        allow_null=True,
        help_text="The signed checkpoint (C2SP signed-note) of tree_size; null before one covers the event",
    )


class ConsentEventDetailOutputSerializer(ConsentEventOutputSerializer):
    ledger_log = EventLogPlacementSerializer(
        allow_null=True,
        help_text="The event's place in the transparency log with its inclusion proof against the latest "
        "checkpoint that covers it; null until sequenced (within PROVENANT_LEDGER_SEQUENCE_SECONDS)",
    )


def event_representation(event: ConsentEvent, *, with_evidence: bool = False) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "subject_id": event.subject.external_id,
        "subject_uuid": str(event.subject.uuid),
        "chain_index": event.chain_index,
        "purpose": event.purpose.key,
        "action": event.action,
        "occurred_at": format_instant(event.occurred_at),
        "recorded_at": format_instant(event.recorded_at),
        "valid_until": format_instant(event.valid_until),
        "source": event.source.key,
        "collection_method": event.collection_method,
        "policy_version": event.policy_version.version if event.policy_version else None,
        "jurisdiction": event.jurisdiction,
        "gpc": event.gpc,
        "explicit_confirmation": event.explicit_confirmation,
        "lifts_gpc_opt_out": event.lifts_gpc_opt_out,
        "supersedes": event.supersedes.event_id if event.supersedes else None,
        "evidence": shared_evidence(event_evidence(event)) if with_evidence else None,
        "evidence_sealed": event.evidence_sealed or None,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


class ConsentEventCreatedSerializer(ConsentEventOutputSerializer):
    consent = ConsentStateOutputSerializer(help_text="The purpose's state after this event")


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField()
    hash = serializers.CharField()
    replayed = serializers.BooleanField(help_text="True when the idempotency key matched an earlier event")


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    replayed = serializers.IntegerField()
    events = BulkItemResultSerializer(many=True)


class ConsentHistoryOutputSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    ledger_length = serializers.IntegerField()
    ledger_head_hash = serializers.CharField()
    next = serializers.CharField(allow_null=True, help_text="URL of the next page")
    cursor = serializers.CharField(allow_null=True, help_text="Opaque: pass it back as `after` to read on")
    results = ConsentEventOutputSerializer(many=True)
    gpc_signal_on_read = GpcSignalOnReadSerializer(allow_null=True, help_text=GPC_SIGNAL_ON_READ_HELP)


class LedgerVerificationOutputSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    verified_at = serializers.DateTimeField()
    subjects_checked = serializers.IntegerField()
    events_checked = serializers.IntegerField()
    ledger_root = serializers.CharField(
        help_text="SHA-256 over every chain as found in the events (length and last hash per subject); keep it"
    )
    first_break = serializers.JSONField(allow_null=True)
