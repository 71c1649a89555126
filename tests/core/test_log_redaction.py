"""Secrets stay out of logs (security audit item 5): tokens and subject ids in a path are logged as the
route, and a path holding a newline can't forge a second log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client

from core.logging import RedactingFormatter, escape_control_characters, route_of

TOKEN = "eyJzZWNyZXQiOiJ0b2tlbiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
SUBJECT = "alice@example.com"


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """What the configured console handler writes (the one with the redacting filter), captured."""
    handlers = [
        handler for handler in logging.getLogger().handlers if isinstance(handler.formatter, RedactingFormatter)
    ]
    assert handlers, "the LOGGING setting gives the console handler the redacting formatter"
    handler = handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    captured = io.StringIO()
    previous = handler.setStream(captured)
    try:
        yield captured
    finally:
        handler.setStream(previous)


def test_route_of_names_parameters_instead_of_values() -> None:
    assert route_of(f"/api/v1/dsar/verify/{TOKEN}") == "/api/v1/dsar/verify/{token}"
    assert route_of(f"/api/v1/dsar/exports/{TOKEN}") == "/api/v1/dsar/exports/{token}"
    assert SUBJECT not in route_of(f"/api/v1/subjects/{SUBJECT}/state")


def test_a_path_matching_no_route_keeps_only_route_words() -> None:
    logged = route_of(f"/api/v1/subjects/{SUBJECT}/no-such-thing/{TOKEN}")
    assert SUBJECT not in logged
    assert TOKEN not in logged
    assert logged.startswith("/api/v1/subjects/")


def test_control_characters_are_escaped() -> None:
    assert escape_control_characters("a\nb\r\x1b[31m\u202e") == "a\\nb\\r\\x1b[31m\\u202e"
    assert "\n" not in escape_control_characters("line\n2023-01-01 ERROR forged")


@pytest.mark.django_db
def test_not_found_log_line_holds_neither_token_nor_subject(console_log: io.StringIO) -> None:
    client = Client()
    client.get(f"/api/v1/dsar/verify-typo/{TOKEN}")
    client.get(f"/api/v1/subjects/{SUBJECT}/nothing-here")
    logged = console_log.getvalue()
    assert "Not Found" in logged, logged  # the lines were written, through the configured handler
    assert TOKEN not in logged
    assert SUBJECT not in logged


@pytest.mark.django_db
def test_a_newline_in_the_path_cannot_forge_a_log_line(console_log: io.StringIO) -> None:
    forged = "/nothing\n2026-12-06 12:00:00,000 ERROR django.security [-] forged line"
    response = Client().get(forged)
    assert response.status_code == 404
    lines = [line for line in console_log.getvalue().splitlines() if line]
    assert lines, "the 404 was logged"
    assert not any(line.startswith("2026-12-06 12:00:00,000 ERROR") for line in lines)


def test_formatter_escapes_without_changing_the_record() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "value %s", ("a\nb",), None)
    assert RedactingFormatter("%(message)s").format(record) == "value a\\nb"
    assert record.getMessage() == "value a\nb"  # other handlers see what was logged
