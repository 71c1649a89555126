"""The batch stamping endpoint's fast input path (issue #16) accepts only what the serializer accepts and builds the
same stamp requests; whatever it is unsure of goes to the serializer, so errors are the serializer's."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework import serializers

from provenance.api import serializers as s
from provenance.api.batch_input import MAX_PURPOSES, plain_stamp_items

BASE: dict[str, Any] = {
    "recipient": "crm",
    "purpose": "marketing-email",
    "subject_id": "subject-1",
    "data": {"email_hash": "ab" * 32, "lifetime_value": 1234.5, "tags": ["a", "b"], "nested": {"x": None}},
    "provenance": {"source": "web-signup", "collection_method": "web_form"},
}


def requests_of(items: list[dict[str, Any]]) -> list[s.StampRequest]:
    return [s.stamp_request(item, f"/items/{i}") for i, item in enumerate(items)]


def through_serializer(body: Any) -> list[s.StampRequest] | None:
    serializer = s.StampBatchInputSerializer(data=body)
    if not serializer.is_valid():
        return None
    return requests_of(serializer.validated_data["items"])


def variant(**changes: Any) -> dict[str, Any]:
    item = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is KeyError:
            item.pop(key, None)
        else:
            item[key] = value
    return item


PLAIN = [
    variant(),
    variant(provenance=None),
    variant(provenance=KeyError),
    variant(provenance={"source": "crm-sync", "collected_at": "2026-11-20T10:00:00+02:00"}),
    variant(purpose=KeyError, purposes=["marketing-email", "analytics"]),
    variant(jurisdiction="us-ca"),
    variant(jurisdiction="DE", subject_id="user@example.com"),
    variant(data="a string"),
    variant(data=[1, 2.5, True, None]),
    variant(data=0),
    variant(subject_id="caf\u00e9"),  # NFC, non-ASCII: valid as it is
]

UNSURE = [
    variant(subject_id="cafe\u0301"),  # NFD: the serializer refuses it
    variant(subject_id=""),
    variant(subject_id="x" * 256),
    variant(subject_id="a\x00b"),
    variant(subject_id=7),
    variant(recipient=" crm "),  # trimmed by the serializer
    variant(recipient=""),
    variant(recipient="r" * 65),
    variant(purpose=KeyError),
    variant(purposes=["analytics"]),  # both purpose and purposes
    variant(purpose=KeyError, purposes=[]),
    variant(purpose=KeyError, purposes=["p"] * (MAX_PURPOSES + 1)),
    variant(purpose=KeyError, purposes="analytics"),
    variant(data=None),
    variant(data=KeyError),
    variant(provenance={"collection_method": "web_form"}),
    variant(provenance={"source": "web-signup", "collected_at": "2026-11-20T10:00:00"}),  # naive
    variant(provenance={"source": "web-signup", "extra": 1}),
    variant(provenance="web-signup"),
    variant(jurisdiction="XX"),
    variant(jurisdiction="DE-BERLIN"),
    variant(unknown_field=1),
    "not an object",
]


@pytest.mark.parametrize("item", PLAIN, ids=range(len(PLAIN)))
def test_plain_items_take_the_fast_path_and_equal_the_serializers(item: dict[str, Any]) -> None:
    body = {"items": [item, variant(subject_id="subject-2")]}

    fast = plain_stamp_items(body)
    slow = through_serializer(body)

    assert fast is not None
    assert slow is not None
    assert requests_of(fast) == slow


@pytest.mark.parametrize("item", UNSURE, ids=range(len(UNSURE)))
def test_anything_else_is_left_to_the_serializer(item: Any) -> None:
    body = {"items": [variant(), item]}

    fast = plain_stamp_items(body)

    assert fast is None or requests_of(fast) == through_serializer(body)


@pytest.mark.parametrize(
    "body",
    [{"items": []}, {"items": {}}, {"items": [BASE] * 1001}, {"items": [BASE], "extra": 1}, [BASE], None],
    ids=["empty", "object", "too-many", "extra-key", "list", "null"],
)
def test_bodies_of_the_wrong_shape_are_left_to_the_serializer(body: Any) -> None:
    assert plain_stamp_items(body) is None
    with pytest.raises(serializers.ValidationError):
        s.StampBatchInputSerializer(data=body).is_valid(raise_exception=True)
