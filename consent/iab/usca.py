"""GPP Extension: California Privacy Technical Specification v1 (usca, section id 8), against the IAB reference
encoder (@iabgpp/cmpapi)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consent.iab.gpp import BitWriter, gpp_string
from consent.iab.us_sections import check_section_values, read_gpc_subsection, section_readers, with_gpc_subsection

USCA_SECTION_ID = 8


USCA_VERSION = 1


USCA_SENSITIVE_DATA_CATEGORIES = 9


USCA_KNOWN_CHILD_CATEGORIES = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class UscaFields:
    """The usca core sub-section fields and the optional GPC sub-section (gpc=None leaves it out)."""

    # Notices: 0 = not applicable (the business does not sell / share / use sensitive data), 1 = yes, 2 = no.
    sale_opt_out_notice: int
    sharing_opt_out_notice: int
    sensitive_data_limit_use_notice: int
    # Opt-outs: 0 = not applicable, 1 = opted out, 2 = did not opt out.
    sale_opt_out: int
    sharing_opt_out: int
    # Limit use of sensitive data, 9 categories (SSN/ID numbers, account log-in, precise geolocation,
    # origin/beliefs/union, communications, genetic, biometric, health, sex life): 0 / 1 opted out / 2 did not.
    sensitive_data_processing: tuple[int, ...]
    # Consumers under 16: (1) consent to sell, (2) consent to share; 0 = N/A, 1 = no consent, 2 = consent.
    known_child_sensitive_data_consents: tuple[int, ...]
    # Consent to incompatible purposes: 0 = not applicable, 1 = no consent, 2 = consent.
    personal_data_consents: int
    # MSPA covered transaction: 1 = yes, 2 = no (0 is not allowed). The modes: 0 = N/A, 1 = yes, 2 = no.
    mspa_covered_transaction: int
    mspa_opt_out_option_mode: int
    mspa_service_provider_mode: int
    # GPC sub-section (SubsectionType 1): the Sec-GPC value seen, or None when the sub-section is omitted.
    gpc: bool | None

    def __post_init__(self) -> None:
        check_section_values(
            single_values={
                "sale_opt_out_notice": self.sale_opt_out_notice,
                "sharing_opt_out_notice": self.sharing_opt_out_notice,
                "sensitive_data_limit_use_notice": self.sensitive_data_limit_use_notice,
                "sale_opt_out": self.sale_opt_out,
                "sharing_opt_out": self.sharing_opt_out,
                "personal_data_consents": self.personal_data_consents,
                "mspa_opt_out_option_mode": self.mspa_opt_out_option_mode,
                "mspa_service_provider_mode": self.mspa_service_provider_mode,
            },
            mspa_covered_transaction=self.mspa_covered_transaction,
            lists={
                "sensitive_data_processing": (self.sensitive_data_processing, USCA_SENSITIVE_DATA_CATEGORIES),
                "known_child_sensitive_data_consents": (
                    self.known_child_sensitive_data_consents,
                    USCA_KNOWN_CHILD_CATEGORIES,
                ),
            },
            gpc=self.gpc,
        )


def usca_section(fields: UscaFields) -> str:
    """The encoded usca section: the core sub-section, then ".<GPC sub-section>" when gpc is set."""
    # California spec, "Core Sub-section": Version Int(6), then Int(2) fields and N-Bitfield(2, n) lists.
    core = BitWriter()
    core.write_int(USCA_VERSION, 6)
    for value in (
        fields.sale_opt_out_notice,
        fields.sharing_opt_out_notice,
        fields.sensitive_data_limit_use_notice,
        fields.sale_opt_out,
        fields.sharing_opt_out,
        *fields.sensitive_data_processing,
        *fields.known_child_sensitive_data_consents,
        fields.personal_data_consents,
        fields.mspa_covered_transaction,
        fields.mspa_opt_out_option_mode,
        fields.mspa_service_provider_mode,
    ):
        core.write_int(value, 2)
    return with_gpc_subsection(core, fields.gpc)


def gpp_string_usca(
    *,
    sale_opt_out_notice: int,
    sharing_opt_out_notice: int,
    sensitive_data_limit_use_notice: int,
    sale_opt_out: int,
    sharing_opt_out: int,
    sensitive_data_processing: Sequence[int],
    known_child_sensitive_data_consents: Sequence[int],
    personal_data_consents: int,
    mspa_covered_transaction: int,
    mspa_opt_out_option_mode: int,
    mspa_service_provider_mode: int,
    gpc: bool | None,
) -> str:
    """A GPP string holding only the usca section (gpp_sid [8]); field values as documented on UscaFields."""
    fields = UscaFields(
        sale_opt_out_notice=sale_opt_out_notice,
        sharing_opt_out_notice=sharing_opt_out_notice,
        sensitive_data_limit_use_notice=sensitive_data_limit_use_notice,
        sale_opt_out=sale_opt_out,
        sharing_opt_out=sharing_opt_out,
        sensitive_data_processing=tuple(sensitive_data_processing),
        known_child_sensitive_data_consents=tuple(known_child_sensitive_data_consents),
        personal_data_consents=personal_data_consents,
        mspa_covered_transaction=mspa_covered_transaction,
        mspa_opt_out_option_mode=mspa_opt_out_option_mode,
        mspa_service_provider_mode=mspa_service_provider_mode,
        gpc=gpc,
    )
    return gpp_string({USCA_SECTION_ID: usca_section(fields)})


def decode_gpp_usca(gpp: str) -> UscaFields:
    """The usca fields of a GPP string, for round-trip checks; raises ValueError if it has no valid usca section."""
    core, subsections = section_readers(gpp, USCA_SECTION_ID, "usca", USCA_VERSION)
    notices_and_opt_outs = [core.read_int(2) for _ in range(5)]
    sensitive = tuple(core.read_int(2) for _ in range(USCA_SENSITIVE_DATA_CATEGORIES))
    children = tuple(core.read_int(2) for _ in range(USCA_KNOWN_CHILD_CATEGORIES))
    personal, covered, opt_out_mode, service_provider_mode = (core.read_int(2) for _ in range(4))
    return UscaFields(
        sale_opt_out_notice=notices_and_opt_outs[0],
        sharing_opt_out_notice=notices_and_opt_outs[1],
        sensitive_data_limit_use_notice=notices_and_opt_outs[2],
        sale_opt_out=notices_and_opt_outs[3],
        sharing_opt_out=notices_and_opt_outs[4],
        sensitive_data_processing=sensitive,
        known_child_sensitive_data_consents=children,
        personal_data_consents=personal,
        mspa_covered_transaction=covered,
        mspa_opt_out_option_mode=opt_out_mode,
        mspa_service_provider_mode=service_provider_mode,
        gpc=read_gpc_subsection(subsections),
    )
