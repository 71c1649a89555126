"""Jurisdiction codes (core/jurisdictions.py): ISO 3166-1 countries and ISO 3166-2 subdivisions."""

from __future__ import annotations

import pytest

from core.jurisdictions import ISO_3166_1_ALPHA2, country_of, normalize_jurisdiction


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        (" ie ", "IE"),
        ("US-CA", "US-CA"),
        ("us-ca", "US-CA"),
        ("GB-ENG", "GB-ENG"),
        ("FR-75", "FR-75"),
        ("ES-M", "ES-M"),
    ],
)
def test_country_and_subdivision_codes_are_normalized_to_upper_case(raw: str, expected: str) -> None:
    assert normalize_jurisdiction(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "D", "DEU", "XX", "ZZ-01", "USA", "US_CA", "US-", "US-CALI", "US CA", "-CA", "EU", "UK", "U1"],
)
def test_codes_that_are_not_iso_3166_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_jurisdiction(raw)


def test_country_of_a_subdivision_is_its_prefix() -> None:
    assert country_of("US-CA") == "US"
    assert country_of("DE") == "DE"


def test_the_country_table_holds_the_249_assigned_codes() -> None:
    assert len(ISO_3166_1_ALPHA2) == 249
    assert all(len(code) == 2 and code.isupper() for code in ISO_3166_1_ALPHA2)
    assert {"DE", "IE", "US", "GB", "FR"} <= ISO_3166_1_ALPHA2
