"""GPP Extension: US National Privacy Technical Specification (usnat, section id 7, the MSPA national approach),
version 2, against the IAB reference encoder (@iabgpp/cmpapi 3.2.0)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from consent.iab.gpp import BitWriter, gpp_string
from consent.iab.us_sections import check_section_values, read_gpc_subsection, section_readers, with_gpc_subsection

USNAT_SECTION_ID = 7


# usnat version 1 had 12 sensitive-data and 2 known-child fields; version 2 (the DE, IA, NE, NH, NJ, TN
# release) has 16 and 3. The reference encoder (@iabgpp/cmpapi 3.2.0, UsNat.VERSION) writes version 2.
USNAT_VERSION = 2


USNAT_SENSITIVE_DATA_CATEGORIES = 16


USNAT_KNOWN_CHILD_CATEGORIES = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class UsnatFields:
    """The usnat (version 2) core sub-section fields and the optional GPC sub-section (gpc=None leaves it out)."""

    # Notices: 0 = not applicable, 1 = notice given, 2 = not given. SharingNotice is the notice of sharing
    # personal data with third parties; the others announce the matching opt-out or limit-use right.
    sharing_notice: int
    sale_opt_out_notice: int
    sharing_opt_out_notice: int
    targeted_advertising_opt_out_notice: int
    sensitive_data_processing_opt_out_notice: int
    sensitive_data_limit_use_notice: int
    # Opt-outs: 0 = not applicable, 1 = opted out, 2 = did not opt out.
    sale_opt_out: int
    sharing_opt_out: int
    targeted_advertising_opt_out: int
    # Sensitive data, 16 categories in the usnat spec's order: 0 = N/A, 1 = opted out / no consent,
    # 2 = did not opt out / consent.
    sensitive_data_processing: tuple[int, ...]
    # Known children, 3 fields in the usnat spec's order: 0 = N/A, 1 = no consent, 2 = consent.
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
                "sharing_notice": self.sharing_notice,
                "sale_opt_out_notice": self.sale_opt_out_notice,
                "sharing_opt_out_notice": self.sharing_opt_out_notice,
                "targeted_advertising_opt_out_notice": self.targeted_advertising_opt_out_notice,
                "sensitive_data_processing_opt_out_notice": self.sensitive_data_processing_opt_out_notice,
                "sensitive_data_limit_use_notice": self.sensitive_data_limit_use_notice,
                "sale_opt_out": self.sale_opt_out,
                "sharing_opt_out": self.sharing_opt_out,
                "targeted_advertising_opt_out": self.targeted_advertising_opt_out,
                "personal_data_consents": self.personal_data_consents,
                "mspa_opt_out_option_mode": self.mspa_opt_out_option_mode,
                "mspa_service_provider_mode": self.mspa_service_provider_mode,
            },
            mspa_covered_transaction=self.mspa_covered_transaction,
            lists={
                "sensitive_data_processing": (self.sensitive_data_processing, USNAT_SENSITIVE_DATA_CATEGORIES),
                "known_child_sensitive_data_consents": (
                    self.known_child_sensitive_data_consents,
                    USNAT_KNOWN_CHILD_CATEGORIES,
                ),
            },
            gpc=self.gpc,
        )


def usnat_section(fields: UsnatFields) -> str:
    """The encoded usnat section: the core sub-section, then ".<GPC sub-section>" when gpc is set."""
    # Field order and widths as the reference encoder's UsNatCoreSegment (USNAT_CORE_SEGMENT_FIELD_NAMES):
    # Version Int(6), nine Int(2) notices and opt-outs, N-Bitfield(2, 16), N-Bitfield(2, 3), four Int(2).
    # 70 bits, padded to 72: twelve characters.
    core = BitWriter()
    core.write_int(USNAT_VERSION, 6)
    for value in (
        fields.sharing_notice,
        fields.sale_opt_out_notice,
        fields.sharing_opt_out_notice,
        fields.targeted_advertising_opt_out_notice,
        fields.sensitive_data_processing_opt_out_notice,
        fields.sensitive_data_limit_use_notice,
        fields.sale_opt_out,
        fields.sharing_opt_out,
        fields.targeted_advertising_opt_out,
        *fields.sensitive_data_processing,
        *fields.known_child_sensitive_data_consents,
        fields.personal_data_consents,
        fields.mspa_covered_transaction,
        fields.mspa_opt_out_option_mode,
        fields.mspa_service_provider_mode,
    ):
        core.write_int(value, 2)
    return with_gpc_subsection(core, fields.gpc)


def gpp_string_usnat(
    *,
    sharing_notice: int,
    sale_opt_out_notice: int,
    sharing_opt_out_notice: int,
    targeted_advertising_opt_out_notice: int,
    sensitive_data_processing_opt_out_notice: int,
    sensitive_data_limit_use_notice: int,
    sale_opt_out: int,
    sharing_opt_out: int,
    targeted_advertising_opt_out: int,
    sensitive_data_processing: Sequence[int],
    known_child_sensitive_data_consents: Sequence[int],
    personal_data_consents: int,
    mspa_covered_transaction: int,
    mspa_opt_out_option_mode: int,
    mspa_service_provider_mode: int,
    gpc: bool | None,
) -> str:
    """A GPP string holding only the usnat section (gpp_sid [7]); field values as documented on UsnatFields."""
    fields = UsnatFields(
        sharing_notice=sharing_notice,
        sale_opt_out_notice=sale_opt_out_notice,
        sharing_opt_out_notice=sharing_opt_out_notice,
        targeted_advertising_opt_out_notice=targeted_advertising_opt_out_notice,
        sensitive_data_processing_opt_out_notice=sensitive_data_processing_opt_out_notice,
        sensitive_data_limit_use_notice=sensitive_data_limit_use_notice,
        sale_opt_out=sale_opt_out,
        sharing_opt_out=sharing_opt_out,
        targeted_advertising_opt_out=targeted_advertising_opt_out,
        sensitive_data_processing=tuple(sensitive_data_processing),
        known_child_sensitive_data_consents=tuple(known_child_sensitive_data_consents),
        personal_data_consents=personal_data_consents,
        mspa_covered_transaction=mspa_covered_transaction,
        mspa_opt_out_option_mode=mspa_opt_out_option_mode,
        mspa_service_provider_mode=mspa_service_provider_mode,
        gpc=gpc,
    )
    return gpp_string({USNAT_SECTION_ID: usnat_section(fields)})


def decode_gpp_usnat(gpp: str) -> UsnatFields:
    """The usnat fields of a GPP string, for round-trip checks; raises ValueError if it has no valid usnat
    section. Only version 2 is read: a version 1 section (12 and 2 list fields) is refused, not guessed at."""
    core, subsections = section_readers(gpp, USNAT_SECTION_ID, "usnat", USNAT_VERSION)
    notices_and_opt_outs = [core.read_int(2) for _ in range(9)]
    sensitive = tuple(core.read_int(2) for _ in range(USNAT_SENSITIVE_DATA_CATEGORIES))
    children = tuple(core.read_int(2) for _ in range(USNAT_KNOWN_CHILD_CATEGORIES))
    personal, covered, opt_out_mode, service_provider_mode = (core.read_int(2) for _ in range(4))
    return UsnatFields(
        sharing_notice=notices_and_opt_outs[0],
        sale_opt_out_notice=notices_and_opt_outs[1],
        sharing_opt_out_notice=notices_and_opt_outs[2],
        targeted_advertising_opt_out_notice=notices_and_opt_outs[3],
        sensitive_data_processing_opt_out_notice=notices_and_opt_outs[4],
        sensitive_data_limit_use_notice=notices_and_opt_outs[5],
        sale_opt_out=notices_and_opt_outs[6],
        sharing_opt_out=notices_and_opt_outs[7],
        targeted_advertising_opt_out=notices_and_opt_outs[8],
        sensitive_data_processing=sensitive,
        known_child_sensitive_data_consents=children,
        personal_data_consents=personal,
        mspa_covered_transaction=covered,
        mspa_opt_out_option_mode=opt_out_mode,
        mspa_service_provider_mode=service_provider_mode,
        gpc=read_gpc_subsection(subsections),
    )
