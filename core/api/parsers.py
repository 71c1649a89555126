"""JSON parsing that answers a clear 4xx for anything unusable, never a 500.

Beyond DRF's parser it refuses absurd nesting (400) and strings holding a lone UTF-16 surrogate
escape such as ``"\\ud800"`` (422): such strings cannot be stored, logged or echoed as UTF-8.

orjson reads the body first (a sixth of the time of ``json.loads`` for a thousand stamps or events, issue #16); any
body it refuses goes to ``json.loads``, whose answer (value or error) stands, and so does any body with a run of 19
or more digits (an integer past 64 bits, which orjson would read as a float), and any body nested deeper than orjson
writes (255 levels: orjson reads 1,024, more than ``json.loads`` can on Python's stack, and the serializers then broke).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.problems import InvalidInput

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
_ORJSON_WRITE_DEPTH = 254  # fewer brackets than this cannot nest deeper than orjson writes


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _lone_surrogate_pointer(value: Any, pointer: str = "") -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return pointer or "/"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _lone_surrogate_pointer(key, pointer) or _lone_surrogate_pointer(item, f"{pointer}/{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate_pointer(item, f"{pointer}/{index}")
            if found:
                return found
    return None


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        if not _LONG_DIGITS.search(raw):
            try:
                data = orjson.loads(raw)
                if raw.count(b"[") + raw.count(b"{") > _ORJSON_WRITE_DEPTH:
                    # orjson reads 1,024 levels, json.loads (on Python's stack) fewer: a body nested deeper than
                    # orjson writes (it refuses past 255) goes to json.loads, whose limit answered 400 before.
                    orjson.dumps(data)
            except (orjson.JSONDecodeError, orjson.JSONEncodeError):
                pass  # json.loads words the error (or reads what orjson would not, such as a huge number)
            else:
                return self._checked(raw, data)
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        return self._checked(raw, data)

    @staticmethod
    def _checked(raw: bytes, data: Any) -> Any:
        if _SURROGATE_ESCAPE.search(raw):
            pointer = _lone_surrogate_pointer(data)
            if pointer:
                raise InvalidInput(
                    "The body contains a lone UTF-16 surrogate; send valid Unicode text.",
                    errors=[{"pointer": pointer, "detail": "lone UTF-16 surrogate"}],
                )
        return data
