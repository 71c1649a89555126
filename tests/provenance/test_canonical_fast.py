"""Stamps' canonical JSON is written by orjson where that gives RFC 8785's bytes (issue #16); the definition stays
``provenance.verify.canonical_json``, the module receivers copy. These tests hold the two to the same bytes, or the
same error, for every kind of value a stamp's data may hold."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.canonical import canonical_json_fast
from provenance.verify import canonical_json


def outcome(write: Any, value: Any) -> tuple[str, Any]:
    try:
        return "bytes", write(value)
    except (TypeError, ValueError) as exc:
        return "error", type(exc)


def assert_same(value: Any) -> None:
    assert outcome(canonical_json_fast, value) == outcome(canonical_json, value), repr(value)[:200]


def test_every_unicode_scalar_value_in_strings_and_in_member_names() -> None:
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(characters), 4096):
        text = "".join(characters[start : start + 4096])
        assert_same(text)
        assert_same({text: text, "a": [text]})
    # Names from U+E000..U+FFFF beside astral ones: UTF-16 order is not code point order there.
    assert_same({"\ue000": 1, "\U0001f600": 2, "z": 3})
    assert_same({"é": 1, "e": 2, "ü": 3})


def test_floats_in_and_out_of_the_fast_range() -> None:
    values = [0.1, 1234.5, -0.5, 1e-4, 0.00009999, 1e-5, 1e-7, 1e15 + 0.5, 1e16, 1e21, 1e22, 5e-324, 0.0, -0.0]
    values += [5.0, -3.0, 2.0**53, 1.7976931348623157e308, 123456789012345.6]
    for value in values:
        assert_same(value)
        assert_same({"v": value, "list": [value, -value]})
    for bits in range(0, 2**64, 2**64 // 40_000 + 7919):
        value = struct.unpack("d", struct.pack("Q", bits))[0]
        if math.isfinite(value):
            assert_same(value)


@pytest.mark.parametrize(
    "value",
    [
        2**53,
        2**53 + 1,
        -(2**53) - 1,
        10**30,
        True,
        None,
        (1, "two", [3]),
        {"nested": {"deeper": [{"x": None}]}},
        "\ud800",  # a lone surrogate: the same ValueError
        {"\ud800": 1},
        float("nan"),
        float("inf"),
        {1: "not a name"},
        {"a": object()},
    ],
)
def test_edge_values_give_the_same_bytes_or_the_same_error(value: Any) -> None:
    assert_same(value)


def test_deeper_than_orjson_writes_is_handed_to_the_definition() -> None:
    value: Any = "leaf"
    for _ in range(300):
        value = [value]
    assert_same(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
        | st.tuples(children, children)
    ),
    max_leaves=30,
)


@settings(max_examples=3000, deadline=None)
@given(json_values)
def test_generated_values_give_the_same_bytes_or_the_same_error(value: Any) -> None:
    assert_same(value)
