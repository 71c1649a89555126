"""The branding rules (core.branding): WCAG contrast and host names, without a database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.branding import contrast_ratio, is_host_name, meets_aa_on_white, normalize_host

colours = st.from_regex(r"#[0-9a-f]{6}", fullmatch=True)


def test_black_on_white_is_the_maximum_contrast() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_known_pairs_meet_or_miss_aa() -> None:
    # WebAIM's checker: #767676 on white is 4.54:1 (passes), #777777 is 4.48:1 (fails).
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert meets_aa_on_white("#767676")
    assert not meets_aa_on_white("#777777")
    assert meets_aa_on_white("#1f4e79")
    assert meets_aa_on_white("#0b5cad")
    assert not meets_aa_on_white("#ffcc00")


@given(colours, colours)
def test_contrast_is_symmetric_and_between_1_and_21(first: str, second: str) -> None:
    ratio = contrast_ratio(first, second)
    assert ratio == pytest.approx(contrast_ratio(second, first))
    assert 1.0 <= ratio <= 21.0 + 1e-9


def test_a_malformed_colour_is_refused() -> None:
    with pytest.raises(ValueError, match="rrggbb"):
        contrast_ratio("red", "#ffffff")


def test_hosts_are_compared_without_case_port_or_trailing_dot() -> None:
    assert normalize_host("Privacy.Example.COM:443") == "privacy.example.com"
    assert normalize_host("privacy.example.com.") == "privacy.example.com"
    assert is_host_name("privacy.example.com")
    for bad in ("localhost", "-bad.example.com", "exa mple.com", "https://example.com", "[::1]", "a..b"):
        assert not is_host_name(bad)
