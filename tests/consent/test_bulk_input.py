"""The bulk endpoint's fast input path (issue #16) accepts only what the serializer accepts and builds the same
items; whatever it is unsure of goes to the serializer, so errors are the serializer's."""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any

import pytest
from rest_framework import serializers

from consent.api import serializers as s
from consent.api.bulk_input import plain_bulk_events
from consent.services import ConsentEventInput

BASE: dict[str, Any] = {
    "subject_id": "subject-1",
    "purpose": "marketing-email",
    "action": "grant",
    "occurred_at": "2026-11-20T10:00:00.123456Z",
    "source": "web-signup",
    "collection_method": "web_form",
    "jurisdiction": "DE",
    "evidence": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
}


def through_serializer(body: Any) -> list[ConsentEventInput] | None:
    serializer = s.ConsentEventBulkInputSerializer(data=body)
    if not serializer.is_valid():
        return None
    return [
        s.event_input(item, raw=body["events"][i], pointer=f"/events/{i}", idempotency_key=None)
        for i, item in enumerate(serializer.validated_data["events"])
    ]


def comparable(item: ConsentEventInput) -> dict[str, Any]:
    fields = asdict(item)
    fields["occurred_at"] = item.occurred_at.isoformat()
    fields["action"] = str(item.action)
    fields["collection_method"] = str(item.collection_method)
    return fields


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
    variant(evidence=None),
    variant(evidence=KeyError),
    variant(jurisdiction="us-ca", occurred_at="2026-11-20T10:00:00+02:00"),
    variant(action="withdraw", gpc=True, explicit_confirmation=False, policy_version="v1", idempotency_key="k-1"),
    variant(action="invalidate", supersedes="01JABCDEFGHJKMNPQRSTVWXYZ0"),
    variant(subject_email="Ada@Example.com", evidence={"ip_address": "2001:db8::1", "user_agent": ""}),
    variant(subject_id="user@example.com", policy_version=None, supersedes=None, subject_email=None),
]

UNSURE = [
    variant(subject_id="cafe\u0301"),  # NFD: the serializer normalizes (and the fast path hands it over)
    variant(purpose=" marketing-email "),  # trimmed by the serializer
    variant(purpose="", source="web-signup"),
    variant(jurisdiction="XX"),
    variant(occurred_at="2026-11-20T10:00:00"),  # naive
    variant(occurred_at="0001-01-01T00:00:00Z"),
    variant(gpc="true"),
    variant(action="expire"),
    variant(collection_method="carrier-pigeon"),
    variant(evidence={"ip_address": "999.1.1.1"}),
    variant(evidence={"ip_address": "203.0.113.7", "extra": 1}),
    variant(unknown_field=1),
    variant(subject_id="a/b"),
    variant(subject_id="x" * 256),
    variant(purpose=7),
    variant(subject_email="not-an-email"),
    variant(user_agent="Mozilla"),
    "not an object",
]


@pytest.mark.parametrize("item", PLAIN, ids=range(len(PLAIN)))
def test_plain_items_take_the_fast_path_and_equal_the_serializers(item: dict[str, Any]) -> None:
    body = {"events": [item, variant(subject_id="subject-2")]}

    fast = plain_bulk_events(body)
    slow = through_serializer(body)

    assert fast is not None
    assert slow is not None
    assert [comparable(i) for i in fast] == [comparable(i) for i in slow]


@pytest.mark.parametrize("item", UNSURE, ids=range(len(UNSURE)))
def test_anything_else_is_left_to_the_serializer(item: Any) -> None:
    body = {"events": [variant(), item]}

    fast = plain_bulk_events(body)

    assert fast is None or fast == through_serializer(body)


@pytest.mark.parametrize(
    "body",
    [{"events": []}, {"events": {}}, {"events": [BASE] * 1001}, {"events": [BASE], "extra": 1}, [BASE], None],
    ids=["empty", "object", "too-many", "extra-key", "list", "null"],
)
def test_bodies_of_the_wrong_shape_are_left_to_the_serializer(body: Any) -> None:
    assert plain_bulk_events(body) is None
    with pytest.raises(serializers.ValidationError):
        s.ConsentEventBulkInputSerializer(data=body).is_valid(raise_exception=True)
