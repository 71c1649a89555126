"""IAB signals (consent/iab.py): US Privacy strings and GPP strings with the usca and usnat sections, against the
reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.iab import (
    UscaFields,
    UsnatFields,
    decode_gpp_usca,
    decode_gpp_usnat,
    fibonacci_code,
    fibonacci_value,
    gpp_sid,
    gpp_string,
    gpp_string_usca,
    gpp_string_usnat,
    us_privacy_string,
    usca_section,
    usnat_section,
)

# Test vectors generated with @iabgpp/cmpapi 3.2.0 (npm), the IAB reference encoder,
# https://github.com/IABTechLab/iabgpp-es: a GppModel per case, usca fields set with setFieldValue
# (GpcSegmentIncluded false for gpc=None), encoded with encode(), and decoded again with a fresh GppModel
# to confirm the field values below.
REFERENCE_DEFAULTS: dict[str, Any] = {
    "sale_opt_out_notice": 0,
    "sharing_opt_out_notice": 0,
    "sensitive_data_limit_use_notice": 0,
    "sale_opt_out": 0,
    "sharing_opt_out": 0,
    "sensitive_data_processing": [0, 0, 0, 0, 0, 0, 0, 0, 0],
    "known_child_sensitive_data_consents": [0, 0],
    "personal_data_consents": 0,
    "mspa_covered_transaction": 1,
    "mspa_opt_out_option_mode": 0,
    "mspa_service_provider_mode": 0,
    "gpc": False,
}
NOTICES_GIVEN = {"sale_opt_out_notice": 1, "sharing_opt_out_notice": 1, "sensitive_data_limit_use_notice": 1}

USCA_REFERENCE_VECTORS: list[tuple[str, str, dict[str, Any]]] = [
    ("reference defaults", "DBABBg~BAAAAABA.QA", {}),
    (
        "opted out of sale and sharing, gpc true",
        "DBABBg~BVUAAABA.YA",
        {**NOTICES_GIVEN, "sale_opt_out": 1, "sharing_opt_out": 1, "gpc": True},
    ),
    (
        "opted out of sale and sharing, gpc false",
        "DBABBg~BVUAAABA.QA",
        {**NOTICES_GIVEN, "sale_opt_out": 1, "sharing_opt_out": 1, "gpc": False},
    ),
    (
        "did not opt out, gpc sub-section absent",
        "DBABBg~BVoAAABA",
        {**NOTICES_GIVEN, "sale_opt_out": 2, "sharing_opt_out": 2, "gpc": None},
    ),
    (
        "sensitive data mixed",
        "DBABBg~BBAZhhpA.YA",
        {
            "sensitive_data_limit_use_notice": 1,
            "sensitive_data_processing": [0, 1, 2, 1, 2, 0, 1, 2, 0],
            "known_child_sensitive_data_consents": [1, 2],
            "personal_data_consents": 2,
            "gpc": True,
        },
    ),
    (
        "mspa not covered",
        "DBABBg~BAAAAACA",
        {"mspa_covered_transaction": 2, "gpc": None},
    ),
    (
        "mspa covered, opt-out option mode",
        "DBABBg~BAAAAABY.QA",
        {"mspa_covered_transaction": 1, "mspa_opt_out_option_mode": 1, "mspa_service_provider_mode": 2},
    ),
    (
        "mspa covered, service provider mode",
        "DBABBg~BAAAAABk.YA",
        {"mspa_covered_transaction": 1, "mspa_opt_out_option_mode": 2, "mspa_service_provider_mode": 1, "gpc": True},
    ),
    (
        "every field 2",
        "DBABBg~Bqqqqqqo.YA",
        {
            **{name: 2 for name in REFERENCE_DEFAULTS if name != "gpc"},
            "sensitive_data_processing": [2] * 9,
            "known_child_sensitive_data_consents": [2, 2],
            "gpc": True,
        },
    ),
]

# usnat (section 7) vectors from the same reference encoder, @iabgpp/cmpapi 3.2.0 (npm),
# https://github.com/IABTechLab/iabgpp-es: a GppModel per case, every usnat field set with
# setFieldValue("usnat", ...) (GpcSegmentIncluded false for gpc=None), encoded with encode(), and decoded again
# with a fresh GppModel to confirm the field values below. The encoder writes usnat version 2 (16 sensitive-data
# and 3 known-child fields).
USNAT_REFERENCE_DEFAULTS: dict[str, Any] = {
    "sharing_notice": 0,
    "sale_opt_out_notice": 0,
    "sharing_opt_out_notice": 0,
    "targeted_advertising_opt_out_notice": 0,
    "sensitive_data_processing_opt_out_notice": 0,
    "sensitive_data_limit_use_notice": 0,
    "sale_opt_out": 0,
    "sharing_opt_out": 0,
    "targeted_advertising_opt_out": 0,
    "sensitive_data_processing": [0] * 16,
    "known_child_sensitive_data_consents": [0, 0, 0],
    "personal_data_consents": 0,
    "mspa_covered_transaction": 1,
    "mspa_opt_out_option_mode": 0,
    "mspa_service_provider_mode": 0,
    "gpc": False,
}
USNAT_NOTICES_GIVEN = {
    "sharing_notice": 1,
    "sale_opt_out_notice": 1,
    "sharing_opt_out_notice": 1,
    "targeted_advertising_opt_out_notice": 1,
    "sensitive_data_processing_opt_out_notice": 1,
    "sensitive_data_limit_use_notice": 1,
}

USNAT_REFERENCE_VECTORS: list[tuple[str, str, dict[str, Any]]] = [
    ("reference defaults", "DBABLA~CAAAAAAAAABA.QA", {}),
    ("all notices given, gpc sub-section absent", "DBABLA~CVVAAAAAAABA", {**USNAT_NOTICES_GIVEN, "gpc": None}),
    (
        "opted out of sale only, gpc true",
        "DBABLA~CVVaAAAAAABA.YA",
        {
            **USNAT_NOTICES_GIVEN,
            "sale_opt_out": 1,
            "sharing_opt_out": 2,
            "targeted_advertising_opt_out": 2,
            "gpc": True,
        },
    ),
    (
        "opted out of sharing only, gpc false",
        "DBABLA~CVVmAAAAAABA.QA",
        {
            **USNAT_NOTICES_GIVEN,
            "sale_opt_out": 2,
            "sharing_opt_out": 1,
            "targeted_advertising_opt_out": 2,
            "gpc": False,
        },
    ),
    (
        "opted out of targeted advertising only, gpc absent",
        "DBABLA~CVVpAAAAAABA",
        {
            **USNAT_NOTICES_GIVEN,
            "sale_opt_out": 2,
            "sharing_opt_out": 2,
            "targeted_advertising_opt_out": 1,
            "gpc": None,
        },
    ),
    (
        "opted out of everything, mspa not covered, gpc true",
        "DBABLA~CVVVAAAAAACA.YA",
        {
            **USNAT_NOTICES_GIVEN,
            "sale_opt_out": 1,
            "sharing_opt_out": 1,
            "targeted_advertising_opt_out": 1,
            "mspa_covered_transaction": 2,
            "gpc": True,
        },
    ),
    (
        "did not opt out, mspa not covered, gpc false",
        "DBABLA~CVVqAAAAAACA.QA",
        {
            **USNAT_NOTICES_GIVEN,
            "sale_opt_out": 2,
            "sharing_opt_out": 2,
            "targeted_advertising_opt_out": 2,
            "mspa_covered_transaction": 2,
            "gpc": False,
        },
    ),
    (
        "sensitive data mixed",
        "DBABLA~CAGAGYYkaWJA.YA",
        {
            "sensitive_data_processing_opt_out_notice": 1,
            "sensitive_data_limit_use_notice": 2,
            "sensitive_data_processing": [0, 1, 2, 1, 2, 0, 1, 2, 0, 2, 1, 0, 1, 2, 2, 1],
            "known_child_sensitive_data_consents": [1, 2, 0],
            "personal_data_consents": 2,
            "gpc": True,
        },
    ),
    (
        "sensitive data all opted out",
        "DBABLA~CAEAVVVVVVRA",
        {
            "sensitive_data_processing_opt_out_notice": 1,
            "sensitive_data_processing": [1] * 16,
            "known_child_sensitive_data_consents": [1, 1, 1],
            "gpc": None,
        },
    ),
    (
        "mspa covered, opt-out option mode",
        "DBABLA~CAAAAAAAAABY.QA",
        {"mspa_covered_transaction": 1, "mspa_opt_out_option_mode": 1, "mspa_service_provider_mode": 2},
    ),
    (
        "mspa covered, service provider mode",
        "DBABLA~CAAAAAAAAABk.YA",
        {"mspa_covered_transaction": 1, "mspa_opt_out_option_mode": 2, "mspa_service_provider_mode": 1, "gpc": True},
    ),
    (
        "every field 2",
        "DBABLA~Cqqqqqqqqqqo.YA",
        {
            **{name: 2 for name in USNAT_REFERENCE_DEFAULTS if name != "gpc"},
            "sensitive_data_processing": [2] * 16,
            "known_child_sensitive_data_consents": [2, 2, 2],
            "gpc": True,
        },
    ),
]

# Two sections at once, from the same reference encoder, both with usnat opted out of everything (mspa not
# covered, GPC true): with uspv1 1YYN, and with usca (SaleOptOutNotice 1, SaleOptOut 1, mspa not covered, GPC false).
USNAT_WITH_USPV1_REFERENCE_VECTOR = "DBABzw~1YYN~CVVVAAAAAACA.YA"
USNAT_WITH_USCA_REFERENCE_VECTOR = "DBABrw~CVVVAAAAAACA.YA~BQQAAACA.QA"
# A version 1 usnat section (12 and 2 list fields), from the reference encoder with Version set to 1.
USNAT_VERSION_1_REFERENCE_VECTOR = "DBABLA~BAAAAAAAAQA"

# The uspv1 section (id 6) from the same reference encoder: (Notice, OptOutSale, LspaCovered) -> GPP string.
USPV1_REFERENCE_VECTORS: list[tuple[dict[str, Any], str]] = [
    ({"applies": True, "notice_given": True, "opted_out": False, "lspa_covered": False}, "DBABTA~1YNN"),
    ({"applies": True, "notice_given": True, "opted_out": True, "lspa_covered": False}, "DBABTA~1YYN"),
    ({"applies": False, "notice_given": False, "opted_out": False, "lspa_covered": None}, "DBABTA~1---"),
    ({"applies": True, "notice_given": True, "opted_out": True, "lspa_covered": True}, "DBABTA~1YYY"),
    ({"applies": True, "notice_given": False, "opted_out": False, "lspa_covered": None}, "DBABTA~1NN-"),
    ({"applies": True, "notice_given": True, "opted_out": False, "lspa_covered": True}, "DBABTA~1YNY"),
]

# Both sections at once, from the same reference encoder: uspv1 1YYN and usca opted out with GPC true.
COMBINED_REFERENCE_VECTOR = "DBACTMA~1YYN~BUUAAABA.YA"

# The Rust crate iab_gpp's independent vector (tests/data/usct_with_gpc.json): usct (section 12), Gpc=true.
INDEPENDENT_USCT_VECTOR = "DBABVg~BVVVVVVg.YA"

# GPP Core, "GPP String Examples" 1-3 (the TCF sections are opaque bodies here).
SPEC_TCF_SECTION = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"


def _usca_fields(overrides: dict[str, Any]) -> dict[str, Any]:
    return {**REFERENCE_DEFAULTS, **overrides}


def _usnat_fields(overrides: dict[str, Any]) -> dict[str, Any]:
    return {**USNAT_REFERENCE_DEFAULTS, **overrides}


# --- US Privacy ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("arguments", "reference_gpp"), USPV1_REFERENCE_VECTORS)
def test_us_privacy_string_matches_the_reference_uspv1_section(arguments: dict[str, Any], reference_gpp: str) -> None:
    # Given a CCPA situation, when it is encoded as US Privacy, then it is the reference's uspv1 body
    usp = us_privacy_string(**arguments)

    assert usp == reference_gpp.split("~")[1]
    assert gpp_string({6: usp}) == reference_gpp


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"applies": True, "notice_given": True, "opted_out": False, "lspa_covered": False}, "1YNN"),
        ({"applies": True, "notice_given": True, "opted_out": True, "lspa_covered": False}, "1YYN"),
        ({"applies": False, "notice_given": True, "opted_out": True, "lspa_covered": True}, "1---"),
    ],
)
def test_us_privacy_string_follows_the_spec_examples(arguments: dict[str, Any], expected: str) -> None:
    # US Privacy String v1 examples; when the CCPA does not apply every other input is ignored
    assert us_privacy_string(**arguments) == expected


# --- GPP usca: encoder against the reference ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reference_gpp", "overrides"), USCA_REFERENCE_VECTORS, ids=[v[0] for v in USCA_REFERENCE_VECTORS]
)
def test_usca_gpp_string_is_identical_to_the_reference_encoder(
    name: str, reference_gpp: str, overrides: dict[str, Any]
) -> None:
    # Given the field values the reference encoder was fed, when we encode them, then the strings are identical
    assert gpp_string_usca(**_usca_fields(overrides)) == reference_gpp


@pytest.mark.parametrize(
    ("name", "reference_gpp", "overrides"), USCA_REFERENCE_VECTORS, ids=[v[0] for v in USCA_REFERENCE_VECTORS]
)
def test_reference_usca_strings_decode_to_their_field_values(
    name: str, reference_gpp: str, overrides: dict[str, Any]
) -> None:
    expected = _usca_fields(overrides)

    decoded = decode_gpp_usca(reference_gpp)

    assert gpp_sid(reference_gpp) == [8]
    assert decoded == UscaFields(
        **{
            **expected,
            "sensitive_data_processing": tuple(expected["sensitive_data_processing"]),
            "known_child_sensitive_data_consents": tuple(expected["known_child_sensitive_data_consents"]),
        }
    )


def test_gpc_sub_section_uses_one_for_true_like_the_reference() -> None:
    # A16: the reference encoder writes Gpc true as bit 1 (".YA" = 01 1 + padding), false as ".QA"
    opted_out = _usca_fields({**NOTICES_GIVEN, "sale_opt_out": 1, "sharing_opt_out": 1})

    assert gpp_string_usca(**{**opted_out, "gpc": True}).endswith(".YA")
    assert gpp_string_usca(**{**opted_out, "gpc": False}).endswith(".QA")
    assert "." not in gpp_string_usca(**{**opted_out, "gpc": None})


def test_uspv1_and_usca_in_one_string_match_the_reference() -> None:
    usca = gpp_string_usca(
        **_usca_fields(
            {
                "sale_opt_out_notice": 1,
                "sharing_opt_out_notice": 1,
                "sale_opt_out": 1,
                "sharing_opt_out": 1,
                "gpc": True,
            }
        )
    )
    usp = us_privacy_string(applies=True, notice_given=True, opted_out=True, lspa_covered=False)

    combined = gpp_string({8: usca.split("~")[1], 6: usp})

    assert combined == COMBINED_REFERENCE_VECTOR
    assert gpp_sid(combined) == [6, 8]
    assert decode_gpp_usca(combined).sale_opt_out == 1


# --- GPP usnat: encoder against the reference ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reference_gpp", "overrides"), USNAT_REFERENCE_VECTORS, ids=[v[0] for v in USNAT_REFERENCE_VECTORS]
)
def test_usnat_gpp_string_is_identical_to_the_reference_encoder(
    name: str, reference_gpp: str, overrides: dict[str, Any]
) -> None:
    # Given the field values the reference encoder was fed, when we encode them, then the strings are identical
    assert gpp_string_usnat(**_usnat_fields(overrides)) == reference_gpp


@pytest.mark.parametrize(
    ("name", "reference_gpp", "overrides"), USNAT_REFERENCE_VECTORS, ids=[v[0] for v in USNAT_REFERENCE_VECTORS]
)
def test_reference_usnat_strings_decode_to_their_field_values(
    name: str, reference_gpp: str, overrides: dict[str, Any]
) -> None:
    expected = _usnat_fields(overrides)

    decoded = decode_gpp_usnat(reference_gpp)

    assert gpp_sid(reference_gpp) == [7]
    assert decoded == UsnatFields(
        **{
            **expected,
            "sensitive_data_processing": tuple(expected["sensitive_data_processing"]),
            "known_child_sensitive_data_consents": tuple(expected["known_child_sensitive_data_consents"]),
        }
    )


def test_usnat_core_sub_section_is_version_2_with_sixteen_and_three_list_fields() -> None:
    # 6 + 9 x 2 + 16 x 2 + 3 x 2 + 4 x 2 = 70 bits, padded to whole bytes and characters: 12 characters
    core = gpp_string_usnat(**_usnat_fields({"gpc": None})).split("~")[1]

    assert len(core) == 12
    assert core.startswith("C")  # version 2 = 000010, the first character


def test_usnat_with_uspv1_and_with_usca_in_one_string_match_the_reference() -> None:
    usnat = usnat_section(
        UsnatFields(
            **{
                **_usnat_fields(USNAT_NOTICES_GIVEN),
                "sale_opt_out": 1,
                "sharing_opt_out": 1,
                "targeted_advertising_opt_out": 1,
                "sensitive_data_processing": (0,) * 16,
                "known_child_sensitive_data_consents": (0, 0, 0),
                "mspa_covered_transaction": 2,
                "gpc": True,
            }
        )
    )
    usca = usca_section(
        UscaFields(
            **{
                **_usca_fields({"sale_opt_out_notice": 1, "sale_opt_out": 1, "mspa_covered_transaction": 2}),
                "sensitive_data_processing": (0,) * 9,
                "known_child_sensitive_data_consents": (0, 0),
            }
        )
    )
    usp = us_privacy_string(applies=True, notice_given=True, opted_out=True, lspa_covered=False)

    with_uspv1 = gpp_string({7: usnat, 6: usp})
    with_usca = gpp_string({8: usca, 7: usnat})

    assert with_uspv1 == USNAT_WITH_USPV1_REFERENCE_VECTOR
    assert with_usca == USNAT_WITH_USCA_REFERENCE_VECTOR
    assert gpp_sid(with_uspv1) == [6, 7]
    assert gpp_sid(with_usca) == [7, 8]
    assert decode_gpp_usnat(with_usca).targeted_advertising_opt_out == 1
    assert (decode_gpp_usca(with_usca).sale_opt_out, decode_gpp_usca(with_usca).gpc) == (1, False)


def test_usnat_version_1_is_refused_rather_than_misread() -> None:
    # Version 1 lays out 12 and 2 list fields; reading it as version 2 would shift every later field
    assert gpp_sid(USNAT_VERSION_1_REFERENCE_VECTOR) == [7]
    with pytest.raises(ValueError, match="Unsupported usnat section version"):
        decode_gpp_usnat(USNAT_VERSION_1_REFERENCE_VECTOR)


def test_usnat_and_usca_decoders_do_not_read_each_others_sections() -> None:
    usnat_only = USNAT_REFERENCE_VECTORS[0][1]
    usca_only = USCA_REFERENCE_VECTORS[0][1]

    with pytest.raises(ValueError, match="no usca section"):
        decode_gpp_usca(usnat_only)
    with pytest.raises(ValueError, match="no usnat section"):
        decode_gpp_usnat(usca_only)


# --- GPP header and helpers against the spec ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({2: SPEC_TCF_SECTION}, f"DBABMA~{SPEC_TCF_SECTION}"),
        ({2: SPEC_TCF_SECTION, 6: "1YNN"}, f"DBACNYA~{SPEC_TCF_SECTION}~1YNN"),
        ({5: SPEC_TCF_SECTION, 6: "1YNN"}, f"DBABjw~{SPEC_TCF_SECTION}~1YNN"),
    ],
)
def test_gpp_header_matches_the_spec_examples(sections: dict[int, str], expected: str) -> None:
    assert gpp_string(sections) == expected
    assert gpp_sid(expected) == sorted(sections)


@pytest.mark.parametrize(
    ("value", "code"), [(1, "11"), (2, "011"), (3, "0011"), (4, "1011"), (5, "00011"), (6, "10011"), (7, "01011")]
)
def test_fibonacci_codes_match_the_spec_table(value: int, code: str) -> None:
    assert fibonacci_code(value) == code
    assert fibonacci_value(code) == value


def test_independent_usct_vector_header_lists_section_12_and_is_not_read_as_usca() -> None:
    # Given iab_gpp's usct vector, the header decodes to [12]; the usca decoder refuses it rather than misread it
    assert gpp_sid(INDEPENDENT_USCT_VECTOR) == [12]
    with pytest.raises(ValueError, match="no usca section"):
        decode_gpp_usca(INDEPENDENT_USCT_VECTOR)


# --- Validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"sale_opt_out": 3},
        {"sale_opt_out": -1},
        {"sharing_opt_out_notice": True},
        {"mspa_covered_transaction": 0},
        {"sensitive_data_processing": [0] * 8},
        {"sensitive_data_processing": [0] * 8 + [3]},
        {"known_child_sensitive_data_consents": [0, 0, 0]},
        {"gpc": 1},
    ],
)
def test_out_of_range_usca_values_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        gpp_string_usca(**_usca_fields(overrides))


@pytest.mark.parametrize(
    "gpp",
    ["", "DBABBg", "DBABBg~BAAAAABA~1YNN", "DBABBg~B*AAAABA", "DBABBg~CAAAAABA", "DBABBg~BA", "EBABBg~BAAAAABA"],
)
def test_malformed_gpp_strings_are_rejected(gpp: str) -> None:
    with pytest.raises(ValueError):
        decode_gpp_usca(gpp)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sale_opt_out": 3},
        {"targeted_advertising_opt_out": 3},
        {"targeted_advertising_opt_out_notice": -1},
        {"sharing_notice": 4},
        {"sensitive_data_processing_opt_out_notice": True},
        {"mspa_covered_transaction": 0},
        {"mspa_covered_transaction": 3},
        {"mspa_service_provider_mode": 3},
        {"sensitive_data_processing": [0] * 12},
        {"sensitive_data_processing": [0] * 15 + [3]},
        {"known_child_sensitive_data_consents": [0, 0]},
        {"known_child_sensitive_data_consents": [0, 0, 3]},
        {"gpc": 1},
    ],
)
def test_out_of_range_usnat_values_are_rejected(overrides: dict[str, Any]) -> None:
    # The reference encoder refuses the same values ("Invalid value '3'" for SaleOptOut 3, MspaCoveredTransaction 0)
    with pytest.raises(ValueError):
        gpp_string_usnat(**_usnat_fields(overrides))


@pytest.mark.parametrize(
    "gpp",
    ["", "DBABLA", "DBABLA~CAAAAAAAAABA~1YNN", "DBABLA~C*AAAAAAAABA", "DBABLA~CAAAAAAA", "EBABLA~CAAAAAAAAABA"],
)
def test_malformed_usnat_gpp_strings_are_rejected(gpp: str) -> None:
    with pytest.raises(ValueError):
        decode_gpp_usnat(gpp)


def test_gpp_string_needs_a_section() -> None:
    with pytest.raises(ValueError):
        gpp_string({})


# --- Properties ---------------------------------------------------------------------------------------------

tri_state = st.integers(min_value=0, max_value=2)
usca_fields = st.builds(
    UscaFields,
    sale_opt_out_notice=tri_state,
    sharing_opt_out_notice=tri_state,
    sensitive_data_limit_use_notice=tri_state,
    sale_opt_out=tri_state,
    sharing_opt_out=tri_state,
    sensitive_data_processing=st.tuples(*[tri_state] * 9),
    known_child_sensitive_data_consents=st.tuples(tri_state, tri_state),
    personal_data_consents=tri_state,
    mspa_covered_transaction=st.integers(min_value=1, max_value=2),
    mspa_opt_out_option_mode=tri_state,
    mspa_service_provider_mode=tri_state,
    gpc=st.none() | st.booleans(),
)


@given(usca_fields)
def test_every_usca_value_round_trips(fields: UscaFields) -> None:
    arguments = {name: getattr(fields, name) for name in UscaFields.__dataclass_fields__}

    gpp = gpp_string_usca(**arguments)

    assert gpp.startswith("D")
    assert gpp_sid(gpp) == [8]
    assert decode_gpp_usca(gpp) == fields


usnat_fields = st.builds(
    UsnatFields,
    sharing_notice=tri_state,
    sale_opt_out_notice=tri_state,
    sharing_opt_out_notice=tri_state,
    targeted_advertising_opt_out_notice=tri_state,
    sensitive_data_processing_opt_out_notice=tri_state,
    sensitive_data_limit_use_notice=tri_state,
    sale_opt_out=tri_state,
    sharing_opt_out=tri_state,
    targeted_advertising_opt_out=tri_state,
    sensitive_data_processing=st.tuples(*[tri_state] * 16),
    known_child_sensitive_data_consents=st.tuples(tri_state, tri_state, tri_state),
    personal_data_consents=tri_state,
    mspa_covered_transaction=st.integers(min_value=1, max_value=2),
    mspa_opt_out_option_mode=tri_state,
    mspa_service_provider_mode=tri_state,
    gpc=st.none() | st.booleans(),
)


@given(usnat_fields)
def test_every_usnat_value_round_trips(fields: UsnatFields) -> None:
    arguments = {name: getattr(fields, name) for name in UsnatFields.__dataclass_fields__}

    gpp = gpp_string_usnat(**arguments)

    assert gpp.startswith("D")
    assert gpp_sid(gpp) == [7]
    assert decode_gpp_usnat(gpp) == fields


@given(st.sets(st.integers(min_value=1, max_value=300), min_size=1, max_size=40))
def test_every_set_of_section_ids_round_trips_through_the_header(section_ids: set[int]) -> None:
    gpp = gpp_string(dict.fromkeys(section_ids, "x"))

    assert gpp_sid(gpp) == sorted(section_ids)


@given(st.integers(min_value=1, max_value=10**12))
def test_every_positive_integer_round_trips_through_fibonacci_coding(value: int) -> None:
    code = fibonacci_code(value)

    assert code.endswith("11")
    assert "11" not in code[:-1]
    assert fibonacci_value(code) == value
