"""What reaches the logs: the request id of the request, and never a secret or a forged line.

Paths carry secrets: verification and download tokens, and subject ids (which may be email addresses).
A path is therefore logged as its route (``/api/v1/subjects/{subject_id}/state``), never as sent; a
path that matches no route keeps only the words our routes are made of. Every logged message has its
control characters escaped, so a request path or header holding ``\\n`` can't forge a log line.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatterBase

from core.request_context import current_request_id

_PARAMETER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")
_REGEX_GROUP = re.compile(r"\(\?P<([^>]+)>[^)]*\)")
_UNKNOWN_SEGMENT = "{…}"


def escape_control_characters(text: str) -> str:
    """``text`` with every control, format and line/paragraph separator character escaped (``\\n``,
    ``\\x1b``, ``\\u202e``), so one log record is always one line and shows what was really sent."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif _is_invisible_format(code):
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _is_invisible_format(code: int) -> bool:
    """Zero-width, bidi controls, line/paragraph separators and the byte-order mark."""
    return (
        0x200B <= code <= 0x200F
        or 0x2028 <= code <= 0x202E
        or 0x2060 <= code <= 0x2069
        or code == 0xFEFF
        or code == 0x00AD
    )


def route_of(path: str) -> str:
    """How ``path`` is logged: its URL route with parameters named, not valued."""
    try:
        from django.urls import Resolver404, resolve

        match = resolve(path)
    except Resolver404:
        return _known_words_only(path)
    except Exception:  # Django not set up (gunicorn's master), or a path the resolver can't read
        return _known_words_only(path, known=frozenset())
    return route_pattern(match.route)


def route_pattern(route: str | None) -> str:
    """A resolver match's ``route`` (``api/v1/subjects/<str:subject_id>/state``) as logged and measured:
    ``/api/v1/subjects/{subject_id}/state``. Never the path: its values may be tokens or subject ids."""
    text = _REGEX_GROUP.sub(r"{\1}", route or "")
    text = _PARAMETER.sub(r"{\1}", text).replace("^", "").replace("$", "").replace("\\", "")
    return "/" + text


def _known_words_only(path: str, known: frozenset[str] | None = None) -> str:
    words = _route_words() if known is None else known
    segments = path.split("/")
    kept = [segment if (segment in words or segment == "") else _UNKNOWN_SEGMENT for segment in segments]
    return "/".join(kept)


@lru_cache(maxsize=1)
def _route_words() -> frozenset[str]:
    """The literal path segments of every URL route (``api``, ``v1``, ``subjects``, ...)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    words: set[str] = set()

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            text = str(pattern.pattern)
            for segment in text.split("/"):
                if segment and not _PARAMETER.search(segment) and re.fullmatch(r"[A-Za-z0-9._-]+", segment):
                    words.add(segment)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif not isinstance(pattern, URLPattern):  # pragma: no cover - Django has only these two
                continue

    walk(get_resolver().url_patterns)
    return frozenset(words)


class RequestIdFilter(logging.Filter):
    """Adds the request id (of the request served, or of the one that enqueued the running task) and the
    running Celery task's id to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        if not hasattr(record, "task_id"):
            record.task_id = current_task_id()
        return True


def current_task_id() -> str:
    try:
        from celery import current_task
    except ImportError:  # pragma: no cover - celery is a dependency
        return "-"
    task_id = getattr(getattr(current_task, "request", None), "id", None) if current_task else None
    return str(task_id) if task_id else "-"


# What a JSON log line may hold: the record's own fields and the access line's. Nothing else a caller passes in
# ``extra`` (Django passes the request object itself, whose repr holds the path) is written.
JSON_LOG_FIELDS = frozenset(
    {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "task_id",
        "organization",
        "method",
        "route",
        "status",
        "status_code",
        "latency_ms",
        "exc_info",
        "stack_info",
    }
)


class JsonFormatter(_JsonFormatterBase):  # type: ignore[misc,valid-type]
    """One JSON object a line (``PROVENANT_LOG_FORMAT=json``): time (ISO 8601, UTC), level, logger, message,
    request id, task id, and for the access line organization, method, route, status and latency in ms. The
    message is redacted as the text format's is (a request's path becomes its route)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s")
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        original = (record.msg, record.args)
        record.msg, record.args = redacted_message(record), None
        try:
            return str(super().format(record))
        finally:
            record.msg, record.args = original

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        for key in list(log_data):
            if key not in JSON_LOG_FIELDS:
                del log_data[key]


class RedactingFormatter(logging.Formatter):
    """Formats a record's message redacted: the request's path (Django's ``Not Found: /path`` and other
    ``django.request`` lines) becomes its route, and control characters are escaped. The record itself is
    left as it was (other handlers see it unchanged); tracebacks follow on their own lines as usual."""

    def format(self, record: logging.LogRecord) -> str:
        original = (record.msg, record.args)
        record.msg, record.args = redacted_message(record), None
        try:
            return super().format(record)
        finally:
            record.msg, record.args = original


def redacted_message(record: logging.LogRecord) -> str:
    """``record``'s message with its request's path logged as the route and control characters escaped."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: log what we have rather than lose the record
        message = str(record.msg)
    request: Any = getattr(record, "request", None)
    raw_path = getattr(request, "path", None)
    if isinstance(raw_path, str) and raw_path:
        full_path = request.get_full_path() if hasattr(request, "get_full_path") else raw_path
        routed = route_of(raw_path)
        message = message.replace(full_path, routed).replace(raw_path, routed)
    return escape_control_characters(message)


try:  # gunicorn is how production serves; elsewhere (tests of this module, Celery) it may be absent
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = object  # type: ignore[assignment,misc]


class GunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's access log with the path as its route, no query string, and escaped values.

    ``config/gunicorn.py`` names it as ``logger_class``."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        route = route_of(environ.get("PATH_INFO", "") or "/")
        method = atoms.get("m", "-")
        protocol = atoms.get("H", "-")
        atoms["U"] = route
        atoms["q"] = ""
        atoms["r"] = f"{method} {route} {protocol}"
        atoms["f"] = "-"  # the referer is a URL of ours or another site's: it may carry a token too
        for name in list(atoms):
            if name.endswith("}e") or name in _SECRET_HEADER_ATOMS:
                del atoms[name]  # the environ holds the raw path and query; these headers hold credentials
        for name, value in atoms.items():
            if isinstance(value, str):
                atoms[name] = escape_control_characters(value)
        return atoms


_SECRET_HEADER_ATOMS = frozenset(
    {"{authorization}i", "{cookie}i", "{referer}i", "{x-api-key}i", "{set-cookie}o", "{location}o"}
)
