"""RFC 8785 canonical JSON (provenance.verify.canonical_json): the RFC's own examples, and agreement with
the reference `rfc8785` package for every JSON value hypothesis can build."""

from __future__ import annotations

import enum
import json
import math
import struct
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
import rfc8785  # the reference implementation the property tests compare against (dev extra)
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.verify import canonical_json

# RFC 8785 Appendix B: IEEE 754 binary64 (hex) -> ES6 Number.prototype.toString, every finite row.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),  # minus zero
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),  # round to even
]
# Appendix B's non-finite rows: NaN and Infinity have no JSON form.
APPENDIX_B_REJECTED = ["7fffffffffffffff", "7ff0000000000000"]


def double(hex_bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(hex_bits))[0]
    return value


@pytest.mark.parametrize(("hex_bits", "expected"), APPENDIX_B)
def test_appendix_b_numbers_serialize_as_es6(hex_bits: str, expected: str) -> None:
    assert canonical_json(double(hex_bits)) == expected.encode()


@pytest.mark.parametrize("hex_bits", APPENDIX_B_REJECTED)
def test_appendix_b_non_finite_numbers_are_rejected(hex_bits: str) -> None:
    with pytest.raises(ValueError, match="NaN and Infinity"):
        canonical_json(double(hex_bits))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, [1, {"a": math.nan}]])
def test_nan_and_infinity_are_rejected_anywhere(value: Any) -> None:
    with pytest.raises(ValueError, match="NaN and Infinity"):
        canonical_json(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (-0.0, "0"),
        (100.0, "100"),
        (0.1, "0.1"),
        (1e15, "1000000000000000"),
        (1e16, "10000000000000000"),
        (1.5e20, "150000000000000000000"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (1e-4, "0.0001"),
        (1e-5, "0.00001"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (1.25e-7, "1.25e-7"),
        (-1.25e-7, "-1.25e-7"),
        (123456789.125, "123456789.125"),
    ],
)
def test_floats_use_es6_exponent_rules(value: float, expected: str) -> None:
    assert canonical_json(value) == expected.encode()


def test_rfc_section_3_2_2_example() -> None:
    """RFC 8785 3.2.2: the input with numbers, escapes and literals, and its canonical output."""
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_rfc_section_3_2_3_members_sort_by_utf16_code_units() -> None:
    """RFC 8785 3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33, unlike code point order."""
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    expected = (
        '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical_json(value) == expected.encode("utf-8")
    assert sorted(value) != [name for name in json.loads(expected)]  # code point order would differ


def test_nested_objects_sort_at_every_level_without_whitespace() -> None:
    value = {"b": [{"z": 1, "a": {"y": None, "x": True}}], "a": "", "c": {}}
    assert canonical_json(value) == b'{"a":"","b":[{"a":{"x":true,"y":null},"z":1}],"c":{}}'


@pytest.mark.parametrize("code", range(0x20))
def test_control_characters_are_escaped_like_json_stringify(code: int) -> None:
    short = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}
    expected = short.get(code, f"\\u{code:04x}")
    assert canonical_json(chr(code)) == f'"{expected}"'.encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"', b'"\\""'),
        ("\\", b'"\\\\"'),
        ("/", b'"/"'),
        ("\x7f", b'"\x7f"'),
        ("\u2028\u2029", '"\u2028\u2029"'.encode()),
        ("\U0001f600", '"\U0001f600"'.encode()),
        ("é", b'"\xc3\xa9"'),
    ],
)
def test_only_quote_backslash_and_controls_are_escaped(text: str, expected: bytes) -> None:
    assert canonical_json(text) == expected


def test_lone_surrogates_are_rejected() -> None:
    with pytest.raises(ValueError, match="lone surrogate"):
        canonical_json({"a": "\ud800"})
    with pytest.raises(ValueError, match="lone surrogate"):
        canonical_json({"\ud800": 1, "\ue000": 2})


@pytest.mark.parametrize(
    "value",
    [2**53, -(2**53), 44759702251714300, -44759702251714300, 999999999999999900000],
)
def test_large_integers_printed_as_es6_prints_their_double_are_kept(value: int) -> None:
    """A float such as 4.47597022517143e16 prints as 44759702251714300; Python's json reads that back as
    an int, and the stamp must still verify."""
    assert canonical_json(value) == str(value).encode()
    assert canonical_json(value) == canonical_json(float(value))


@pytest.mark.parametrize(
    "value",
    [2**53 + 1, -(2**53) - 1, 2**60, 44759702251714301, 10**21, 10**400, [1, {"a": 2**64 + 1}]],
)
def test_integers_whose_value_json_would_change_are_rejected(value: Any) -> None:
    with pytest.raises(ValueError, match="IEEE 754"):
        canonical_json(value)


def test_error_messages_do_not_echo_values() -> None:
    with pytest.raises(ValueError) as raised:
        canonical_json(12345678901234567)
    assert "12345678901234567" not in str(raised.value)


@pytest.mark.parametrize("value", [{1: "a"}, {"a": {None: 1}}, {1.5: 1}])
def test_non_string_member_names_are_rejected(value: Any) -> None:
    with pytest.raises(TypeError, match="member names must be strings"):
        canonical_json(value)


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object(), {"a": 1 + 2j}])
def test_non_json_types_are_rejected(value: Any) -> None:
    with pytest.raises(TypeError, match="not a JSON type"):
        canonical_json(value)


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def test_subclasses_and_other_mappings_serialize_by_value() -> None:
    value = OrderedDict([("b", (Colour.RED, Level.HIGH)), ("a", MappingProxyType({"y": 2.0, "x": 1}))])
    assert canonical_json(value) == b'{"a":{"x":1,"y":2},"b":["red",3]}'


def test_scalars_and_empty_containers() -> None:
    assert [canonical_json(v) for v in (None, True, False, 0, -7, "", [], {}, ())] == [
        b"null",
        b"true",
        b"false",
        b"0",
        b"-7",
        b'""',
        b"[]",
        b"{}",
        b"[]",
    ]


# Every JSON value: finite doubles, integers in the I-JSON safe range, and any Unicode scalar values
# (astral planes included; no lone surrogates) in strings and member names.
json_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(json_text, children, max_size=6),
    max_leaves=40,
)


@settings(max_examples=600, deadline=None)
@given(json_values)
def test_output_equals_the_rfc8785_reference_package(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_output_is_stable_through_a_json_round_trip(value: Any) -> None:
    """A receiver that parses the canonical bytes and canonicalizes again gets the same bytes."""
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(json_text, st.integers(0, 9), max_size=12))
def test_member_order_is_utf16_code_unit_order(value: dict[str, int]) -> None:
    names = list(json.loads(canonical_json(value), object_pairs_hook=lambda pairs: [name for name, _ in pairs]))
    assert names == sorted(value, key=lambda name: name.encode("utf-16-be"))
