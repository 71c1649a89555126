"""The API's JSON parser (issue #16): orjson reads what it reads as ``json.loads`` does; every other body, and every
error, is ``json.loads``'s as before."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from core.api.parsers import SafeJSONParser
from core.problems import InvalidInput


def parsed(raw: bytes) -> Any:
    return SafeJSONParser().parse(io.BytesIO(raw))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_any_document_reads_as_json_loads_reads_it(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert parsed(raw) == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"123456789012345678901234567890", 123456789012345678901234567890),  # orjson: a float
        (b'{"n": [12345678901234567890]}', {"n": [12345678901234567890]}),
        (b'{"a": 1, "a": 2}', {"a": 2}),
        (b"[1e400]", [float("inf")]),  # as before: json.loads reads an overflow as infinity
        (b'"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character
    ],
)
def test_what_orjson_reads_otherwise_is_read_by_json_loads(raw: bytes, expected: Any) -> None:
    assert parsed(raw) == expected


@pytest.mark.parametrize("raw", [b"NaN", b"[Infinity]", b"\xef\xbb\xbf{}", b"[1,]", b"{", b"", b"\xff", b"[01]"])
def test_errors_are_json_loads_s(raw: bytes) -> None:
    with pytest.raises(ParseError) as refused:
        parsed(raw)
    assert str(refused.value.detail).startswith("JSON parse error - ")


def test_nesting_past_any_use_is_refused() -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parsed(b"[" * 100_000 + b"]" * 100_000)


def test_a_lone_surrogate_is_refused_with_its_pointer() -> None:
    with pytest.raises(InvalidInput) as refused:
        parsed(b'{"events": [{"subject_id": "\\ud800"}]}')
    assert refused.value.extra["errors"] == [{"pointer": "/events/0/subject_id", "detail": "lone UTF-16 surrogate"}]


@pytest.mark.parametrize("depth", [256, 960, 1023])
def test_a_body_nested_deeper_than_orjson_writes_is_json_loads_s(depth: int) -> None:
    """orjson reads 1,024 levels; json.loads, on Python's stack, fewer: such bodies get json.loads's answer, as
    before (a deep one reached the serializers, whose json.dumps then failed: a 500)."""
    raw = b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
    try:
        expected: Any = json.loads(raw)
    except RecursionError:
        with pytest.raises(ParseError, match="nested too deeply"):
            parsed(raw)
    else:
        assert parsed(raw) == expected


def test_a_wide_body_keeps_the_fast_path_values() -> None:
    items = [{"data": {"tags": ["a", "b"], "n": i}, "provenance": {"source": "web"}} for i in range(1000)]
    raw = json.dumps({"items": items}).encode()
    assert parsed(raw) == {"items": items}
