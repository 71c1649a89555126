"""A fast path for the batch stamping endpoint's input (issue #16; the consent bulk endpoint's twin is
``consent.api.bulk_input``): plain checks (``core.api.plain_input``) over the parsed JSON that accept only what
``StampBatchInputSerializer`` accepts, and build the same validated items. Anything not plainly valid returns
``None`` and the view runs the serializer, so an invalid body gets exactly its problem+json errors.
"""

from __future__ import annotations

from typing import Any, Final

from django.conf import settings
from rest_framework import serializers

from core.api.fields import AwareDateTimeField, validate_subject_id
from core.api.plain_input import NotPlain, plain_label, via_field
from core.jurisdictions import normalize_jurisdiction

_ITEM_KEYS: Final = frozenset({"recipient", "purpose", "purposes", "subject_id", "data", "provenance", "jurisdiction"})
_PROVENANCE_KEYS: Final = frozenset({"source", "collected_at", "collection_method"})
MAX_PURPOSES: Final = 50  # StampInputSerializer.purposes' max_length

# Built once per process: the fields whose parsing is not a plain type check (the serializer's own classes).
_COLLECTED_AT: Final = AwareDateTimeField()


def _subject_id(value: Any) -> str:
    """``StrictCharField(max_length=255, trim_whitespace=False, validators=[validate_subject_id])``."""
    if not isinstance(value, str) or not value or len(value) > 255 or "\x00" in value:
        raise NotPlain
    try:
        validate_subject_id(value)
    except serializers.ValidationError as exc:
        raise NotPlain from exc
    return value


def _provenance(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value.keys() <= _PROVENANCE_KEYS:
        raise NotPlain
    claim: dict[str, Any] = {"source": plain_label(value.get("source"), 64)}
    if "collected_at" in value:
        claim["collected_at"] = via_field(_COLLECTED_AT, value["collected_at"])
    if "collection_method" in value:
        claim["collection_method"] = plain_label(value["collection_method"], 40)
    return claim


def _item(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or not item.keys() <= _ITEM_KEYS or ("purpose" in item) == ("purposes" in item):
        raise NotPlain
    validated: dict[str, Any] = {"recipient": plain_label(item.get("recipient"), 64)}
    if "purpose" in item:
        validated["purpose"] = plain_label(item["purpose"], 64)
    else:
        purposes = item["purposes"]
        if not isinstance(purposes, list) or not 1 <= len(purposes) <= MAX_PURPOSES:
            raise NotPlain
        validated["purposes"] = [plain_label(purpose, 64) for purpose in purposes]
    validated["subject_id"] = _subject_id(item.get("subject_id"))
    if item.get("data") is None:  # absent, or null, which the serializer's JSONField refuses
        raise NotPlain
    # Parsed JSON: what JSONField checks (that json.dumps can write it) always holds, so it is taken as it is.
    validated["data"] = item["data"]
    if "provenance" in item:
        validated["provenance"] = _provenance(item["provenance"])
    if "jurisdiction" in item:
        try:
            validated["jurisdiction"] = normalize_jurisdiction(plain_label(item["jurisdiction"], 6))
        except ValueError as exc:
            raise NotPlain from exc
    return validated


def plain_stamp_items(body: Any) -> list[dict[str, Any]] | None:
    """The batch's items, validated as the serializer would, when every one is plainly valid; ``None`` when the
    serializer must decide."""
    if not isinstance(body, dict) or body.keys() != {"items"}:
        return None
    items = body["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= settings.PROVENANT_BULK_MAX_EVENTS:
        return None
    try:
        return [_item(item) for item in items]
    except NotPlain:
        return None
