"""RFC 8785 (JCS) canonical JSON for the stamping path, written by orjson when that gives the same bytes (issue #16:
canonicalization was 15 % of batch stamping's CPU). ``provenance.verify.canonical_json`` stays the definition (a
receiving system copies that module, which needs only the standard library); this writes its bytes faster for the
values where orjson's output provably equals it, and hands every other value to it:

* strings (orjson escapes exactly as JCS: ``"``, ``\\``, U+0000..U+001F; everything else raw, in UTF-8), booleans,
  null, integers within ±2**53;
* floats that are not whole numbers, with 1e-4 <= |x| < 1e16: shortest round-trip digits in plain decimal
  notation, as ES6 writes them (whole-number floats, which ES6 writes without ``.0``, and the ranges where either
  switches to an exponent, go the slow way);
* objects whose member names are ASCII (byte, code point and UTF-16 order agree), and arrays (lists, tuples).

Anything else (subclasses, other names, huge integers, lone surrogates, NaN) goes to ``canonical_json``, which
writes it or raises as it always did. ``tests/provenance/test_canonical_fast.py`` compares both on generated values.
"""

from __future__ import annotations

from typing import Any

import orjson

from provenance.verify import canonical_json

_SAFE_INTEGER = 2**53


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is dict:  # loops, not all() over generators, and the common leaves inline: stamping checks every item
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            leaf = type(item)
            if leaf is not str and item is not None and leaf is not bool and not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            leaf = type(item)
            if leaf is not str and item is not None and leaf is not bool and not _plain(item):
                return False
        return True
    if kind is int:
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if kind is float:
        return 1e-4 <= abs(value) < 1e16 and not value.is_integer()
    return False


def canonical_json_fast(value: Any) -> bytes:
    """``provenance.verify.canonical_json(value)``: the same bytes, or the same error."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate, or nesting deeper than orjson writes
            pass
    return canonical_json(value)
