"""Security audit item 11 (the shared part): subject ids are what they look like."""

from __future__ import annotations

import re

import pytest
from rest_framework import serializers

from core.api.fields import SubjectIdField, validate_subject_id
from core.identifiers import IdentifierRefused, identifier_skeleton, normalized_identifier


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("alice\u202egnp.exe", "bidi override"),
        ("ali\u200bce", "zero-width space"),
        ("alice\u2066", "bidi isolate"),
        ("\ufeffalice", "byte-order mark"),
        ("alice\x07", "control character"),
        (".", "'.' or '..'"),
        ("..", "'.' or '..'"),
        ("alice\U000e0041", "invisible or unassigned"),  # a tag character (Cf)
    ],
)
def test_invisible_and_unreachable_identifiers_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(IdentifierRefused, match=reason):
        normalized_identifier(raw)
    with pytest.raises(serializers.ValidationError):
        SubjectIdField().run_validation(raw)
    with pytest.raises(serializers.ValidationError):
        validate_subject_id(raw)


def test_subject_ids_are_nfc_normalized() -> None:
    decomposed, composed = "jose\u0301", "jos\u00e9"
    assert SubjectIdField().run_validation(decomposed) == composed
    assert SubjectIdField().run_validation(composed) == composed
    with pytest.raises(serializers.ValidationError, match="NFC"):
        validate_subject_id(decomposed)  # a validator can't normalize: it refuses what a field would change


@pytest.mark.parametrize(
    "variant",
    [
        "\u0430lice@example.com",  # Cyrillic a (U+0430)
        "ALICE@EXAMPLE.COM",
        "ali\u200bce@example.com",  # zero-width space
        "alice@\u0435xample.com",  # Cyrillic ie (U+0435)
        "\uff41lice@example.com",  # fullwidth a
    ],
)
def test_confusable_spellings_share_a_skeleton(variant: str) -> None:
    assert identifier_skeleton(variant) == identifier_skeleton("alice@example.com")


@pytest.mark.parametrize(("first", "second"), [("cust-1", "cust-l"), ("b0b", "bob"), ("alice", "alicia")])
def test_distinct_ascii_identifiers_keep_distinct_skeletons(first: str, second: str) -> None:
    assert identifier_skeleton(first) != identifier_skeleton(second)


def test_every_ascii_character_is_kept_or_refused_as_before() -> None:
    """Issue #16: plain ASCII ids skip the per-character Unicode lookups; every printable ASCII character is kept
    as given, every control character refused in the same words, and '.' and '..' still refused."""
    for code in range(128):
        char = chr(code)
        if char.isprintable():
            assert normalized_identifier(f"a{char}b") == f"a{char}b"
        else:
            with pytest.raises(IdentifierRefused, match=f"control character \\(U\\+{code:04X}\\)"):
                normalized_identifier(f"a{char}b")
    for refused in (".", ".."):
        with pytest.raises(IdentifierRefused, match=re.escape("'.' or '..'")):
            normalized_identifier(refused)
    assert normalized_identifier("...") == "..."
