"""A fast path for the bulk endpoint's input (issue #16): plain type and shape checks over the parsed JSON that
accept only what ``ConsentEventBulkInputSerializer`` accepts and build the same ``ConsentEventInput`` items.

DRF validates a 1,000-event body field by field through several layers of calls per value, which cost as much as
the writes. Here every item is checked with the same normalizers (subject id, jurisdiction, RFC 3339 instant, IP,
email) but without the machinery; anything not plainly valid (a wrong type, an unknown key, a non-ASCII label,
an empty string...) returns ``None`` and the caller runs the serializer, so an invalid body gets exactly the
serializer's problem+json errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.conf import settings
from rest_framework import serializers

from consent.enums import CLIENT_ACTIONS, CollectionMethod
from consent.services import ConsentEventInput, plain_request_digest
from core.api.fields import AwareDateTimeField, normalized_subject_id
from core.api.plain_input import NotPlain, optional_plain_label, plain_label, via_field
from core.jurisdictions import normalize_jurisdiction

_EVENT_KEYS: Final = frozenset(
    {
        "subject_id",
        "subject_email",
        "purpose",
        "action",
        "occurred_at",
        "source",
        "collection_method",
        "policy_version",
        "jurisdiction",
        "gpc",
        "explicit_confirmation",
        "evidence",
        "supersedes",
        "idempotency_key",
    }
)
_EVIDENCE_KEYS: Final = frozenset({"ip_address", "user_agent"})
_ACTIONS: Final = frozenset(str(a) for a in CLIENT_ACTIONS)
_METHODS: Final = frozenset(str(m) for m in CollectionMethod.values)

# Built once per process: the fields whose parsing is not a plain type check (the serializer's own classes).
_OCCURRED_AT: Final = AwareDateTimeField()
_IP_ADDRESS: Final = serializers.IPAddressField(required=False, allow_null=True)
_EMAIL: Final = serializers.EmailField(required=False, allow_null=True, max_length=254)


def _flag(item: dict[str, Any], key: str) -> bool:
    value = item.get(key, False)
    if not isinstance(value, bool):
        raise NotPlain
    return value


def _occurred_at(value: Any) -> datetime:
    if not isinstance(value, str):
        raise NotPlain
    try:
        return _OCCURRED_AT.to_internal_value(value)
    except serializers.ValidationError as exc:
        raise NotPlain from exc


def _subject_id(value: Any) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise NotPlain
    try:
        normalized = normalized_subject_id(value)
    except serializers.ValidationError as exc:
        raise NotPlain from exc
    if not normalized.isascii() and not _encodes(normalized):
        raise NotPlain  # surrogates: the serializer's own message
    return normalized


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _event(item: Any, pointer: str, idempotency_key: str | None = None) -> ConsentEventInput:
    if not isinstance(item, dict) or not item.keys() <= _EVENT_KEYS:
        raise NotPlain
    action = item.get("action")
    method = item.get("collection_method")
    if not isinstance(action, str) or action not in _ACTIONS or not isinstance(method, str) or method not in _METHODS:
        raise NotPlain
    jurisdiction = plain_label(item.get("jurisdiction"), 6)
    try:
        jurisdiction = normalize_jurisdiction(jurisdiction)
    except ValueError as exc:
        raise NotPlain from exc
    evidence = item.get("evidence")
    ip_address = user_agent = None
    if evidence is not None:
        if not isinstance(evidence, dict) or not evidence.keys() <= _EVIDENCE_KEYS:
            raise NotPlain
        if evidence.get("ip_address") is not None:
            ip_address = via_field(_IP_ADDRESS, evidence["ip_address"])
        if evidence.get("user_agent") is not None:
            user_agent = plain_label(evidence["user_agent"], 1024, allow_blank=True)
    email = item.get("subject_email")
    return ConsentEventInput(
        subject_id=_subject_id(item.get("subject_id")),
        subject_email=None if email is None else via_field(_EMAIL, email),
        purpose=plain_label(item.get("purpose"), 64),
        action=action,
        occurred_at=_occurred_at(item.get("occurred_at")),
        source=plain_label(item.get("source"), 64),
        collection_method=method,
        policy_version=optional_plain_label(item, "policy_version", 64),
        jurisdiction=jurisdiction,
        gpc=_flag(item, "gpc"),
        explicit_confirmation=_flag(item, "explicit_confirmation"),
        ip_address=ip_address,
        user_agent=user_agent,
        supersedes=optional_plain_label(item, "supersedes", 26),
        idempotency_key=(
            optional_plain_label(item, "idempotency_key", 255) if idempotency_key is None else idempotency_key
        ),
        request_digest=plain_request_digest(item),  # every value checked above: strings, booleans, nulls
        pointer=pointer,
    )


def plain_bulk_events(body: Any) -> list[ConsentEventInput] | None:
    """The bulk body's events when every one is plainly valid; ``None`` when the serializer must decide."""
    if not isinstance(body, dict) or body.keys() != {"events"}:
        return None
    events = body["events"]
    if not isinstance(events, list) or not 1 <= len(events) <= settings.PROVENANT_BULK_MAX_EVENTS:
        return None
    try:
        return [_event(item, f"/events/{index}") for index, item in enumerate(events)]
    except NotPlain:
        return None


def plain_event(item: Any, *, pointer: str, idempotency_key: str | None) -> ConsentEventInput | None:
    """One event body (an imported row) when it is plainly valid, with ``idempotency_key`` instead of its own when
    given; ``None`` when the serializer must decide."""
    try:
        if isinstance(item, dict) and item.get("idempotency_key") is not None:
            plain_label(item["idempotency_key"], 255)  # the serializer checks a row's own key even when another is used
        return _event(item, pointer, idempotency_key)
    except NotPlain:
        return None
