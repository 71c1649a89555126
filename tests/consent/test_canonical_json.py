"""The ledger's canonical JSON is written by orjson since issue #17; every hash before was written by the standard
library's ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, and every verifier outside
(tests/consent/test_ledger_audit_offline.py, the documented recipe) still writes it that way. These tests hold the two
to the same bytes for everything a ledger document or a plain request body can hold."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consent import ledger
from consent.api.bulk_input import plain_bulk_events
from consent.services import plain_request_digest, request_digest


def standard(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def scalar_values() -> list[str]:
    """Every Unicode scalar value (surrogates cannot be encoded as UTF-8 by either), in strings of 4,096."""
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    return ["".join(characters[i : i + 4096]) for i in range(0, len(characters), 4096)]


def test_every_character_in_a_value_is_written_as_the_standard_library_writes_it() -> None:
    chunks = scalar_values()

    assert len(chunks) == 272
    for chunk in chunks:
        assert ledger.canonical_json({"subject": chunk, "v": 1}) == standard({"subject": chunk, "v": 1})


def test_every_character_in_a_key_sorts_and_is_written_as_the_standard_library_does() -> None:
    for chunk in scalar_values():
        document = {character: index for index, character in enumerate(chunk)}
        assert ledger.canonical_json(document) == standard(document)


def test_a_ledger_document_hashes_as_before() -> None:
    fields = ledger.canonical_fields(
        event_id="01J00000000000000000000000",
        subject_uuid="6f1c5a8e-3b7e-4a8a-9f0e-1e2d3c4b5a69",
        chain_index=2**40,
        purpose="marketing-émail",
        action="grant",
        occurred_at="2026-06-01T10:00:00.000000Z",
        recorded_at="2026-06-01T10:00:01.250000Z",
        valid_until=None,
        source='crm\u2028export\x7f\x00\n"\\',
        collection_method="api_import",
        policy_version="v1 ✓ 😀",
        jurisdiction="US-CA",
        gpc=True,
        explicit_confirmation=False,
        lifts_gpc_opt_out=False,
        evidence_sealed="",
        supersedes=None,
    )
    prev = "ab" * 32

    expected = hashlib.sha256(standard(dict(fields, prev_hash=prev))).hexdigest()

    assert ledger.event_hash(fields, prev) == expected


plain_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
plain_values = st.recursive(
    st.none() | st.booleans() | plain_text,
    lambda children: st.dictionaries(plain_text, children, max_size=5),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(plain_text, plain_values, max_size=8))
def test_a_plain_body_digests_as_request_digest_does(body: dict[str, Any]) -> None:
    assert plain_request_digest(body) == request_digest(body) == hashlib.sha256(standard(body)).hexdigest()


def test_the_bulk_fast_path_digests_each_event_as_the_api_always_has() -> None:
    event = {
        "subject_id": "cust-1",
        "purpose": "marketing-email",
        "action": "grant",
        "occurred_at": "2026-06-01T10:00:00Z",
        "source": "web-signup",
        "collection_method": "web_form",
        "jurisdiction": "DE",
        "gpc": False,
        "evidence": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11)"},
        "policy_version": None,
    }

    parsed = plain_bulk_events({"events": [event]})

    assert parsed is not None
    assert parsed[0].request_digest == hashlib.sha256(standard(event)).hexdigest()


def test_request_digest_of_any_body_is_still_the_standard_librarys() -> None:
    """Bodies outside the fast path (floats among them, which orjson writes differently: 1e-07 against 1e-7) keep
    the standard library's digest, so a retry of a request recorded before the change still replays."""
    body = {"gpc": 1e-7, "n": 10**30, "when": float("inf")}

    assert request_digest(body) == hashlib.sha256(standard(body)).hexdigest()


def test_a_datetime_is_refused_as_the_standard_library_refuses_it() -> None:
    """Instants enter a ledger document as their canonical text (ledger.instant_text); a raw datetime is a bug, never
    written in some other form."""
    with pytest.raises(TypeError):
        standard({"occurred_at": datetime(2026, 1, 1, tzinfo=UTC)})
    with pytest.raises(TypeError):
        ledger.canonical_json({"occurred_at": datetime(2026, 1, 1, tzinfo=UTC)})
