"""The API's JSON renderer (issue #16): orjson's bytes where they are DRF's, DRF's renderer for everything else."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from consent.enums import Action
from core.api.renderers import ApiJSONRenderer

PLAIN: list[Any] = [
    {"allowed": 2, "blocked": 0, "results": [{"index": 0, "decision": "allow", "reasons": []}]},
    {"text": 'Grüße, 東京, emoji \U0001f600, quote " backslash \\ control \x01 tab \t', "n": -12, "ok": True},
    {"separators": "line\u2028paragraph\u2029end", "none": None},
    {"nested": [[[{"a": [1, 2.5, 1234.5, 0.1, -0.0]}]]], "big": 2**53 + 1},
    {"enum": Action.GRANT, "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    [],
    {},
    "a string alone",
]

DRF_ONLY: list[Any] = [
    {"at": datetime(2026, 12, 8, 10, 0, tzinfo=UTC)},  # DRF writes ...Z, orjson +00:00
    {"on": date(2026, 12, 8)},
    {"amount": Decimal("12.50")},
    {"label": gettext_lazy("Consent")},
    {1: "an integer key"},
    {"huge": 2**70},
]


@pytest.mark.parametrize("data", PLAIN)
def test_plain_data_is_written_byte_for_byte_as_drf_writes_it(data: Any) -> None:
    assert ApiJSONRenderer().render(data) == JSONRenderer().render(data)


@pytest.mark.parametrize("data", DRF_ONLY)
def test_anything_else_is_written_by_drf(data: Any) -> None:
    assert ApiJSONRenderer().render(data) == JSONRenderer().render(data)


def test_an_indented_answer_asked_for_is_drf_s() -> None:
    data = {"a": [1, 2]}
    assert ApiJSONRenderer().render(data, "application/json; indent=2") == JSONRenderer().render(
        data, "application/json; indent=2"
    )


def test_a_float_with_an_exponent_is_the_same_number_in_orjson_s_form() -> None:
    data = {"small": 1e-07, "large": 1e16}
    written = ApiJSONRenderer().render(data)
    assert json.loads(written) == data
    assert written == b'{"small":1e-7,"large":1e+16}'
    assert JSONRenderer().render(data) == b'{"small":1e-07,"large":1e+16}'


def test_nothing_is_written_for_nothing() -> None:
    assert ApiJSONRenderer().render(None) == b""
