"""IAB signals: the legacy US Privacy string and GPP strings with the California (usca) or the US national
(usnat) section. No Django.

Specs: US Privacy String v1 (IAB, deprecated 31 Jan 2024), GPP Consent String Specification v1 ("Core"),
GPP Extension: California Privacy Technical Specification v1 (section id 8), GPP Extension: US National
Privacy Technical Specification (section id 7, the MSPA national approach). Where the spec text and the IAB
reference encoder (@iabgpp/cmpapi) disagree, this module follows the reference encoder, which is what
recipients decode with; the test vectors in tests/unit/test_iab.py pin that behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

GPP_HEADER_TYPE = 3
GPP_VERSION = 1
USPV1_SECTION_ID = 6
USCA_SECTION_ID = 8
USCA_VERSION = 1
USCA_SENSITIVE_DATA_CATEGORIES = 9
USCA_KNOWN_CHILD_CATEGORIES = 2
USNAT_SECTION_ID = 7
# usnat version 1 had 12 sensitive-data and 2 known-child fields; version 2 (the DE, IA, NE, NH, NJ, TN
# release) has 16 and 3. The reference encoder (@iabgpp/cmpapi 3.2.0, UsNat.VERSION) writes version 2.
USNAT_VERSION = 2
USNAT_SENSITIVE_DATA_CATEGORIES = 16
USNAT_KNOWN_CHILD_CATEGORIES = 3
_GPC_SUBSECTION_TYPE = 1

_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_BASE64URL_INDEX = {character: index for index, character in enumerate(_BASE64URL)}


# --- US Privacy string --------------------------------------------------------------------------------------


def us_privacy_string(*, applies: bool, notice_given: bool, opted_out: bool, lspa_covered: bool | None) -> str:
    """The four-character US Privacy string (`us_privacy`), for recipients that still read the legacy signal."""
    # US Privacy String v1: version 1, then Notice, OptOutSale and LspaCovered as Y/N; "-" only when the
    # CCPA does not apply (all three), or for LspaCovered alone when the LSPA question is not applicable.
    if not applies:
        return "1---"
    lspa = "-" if lspa_covered is None else _yes_no(lspa_covered)
    return f"1{_yes_no(notice_given)}{_yes_no(opted_out)}{lspa}"


def _yes_no(value: bool) -> str:
    return "Y" if value else "N"


# --- Bits, Fibonacci integers and base64url (GPP Core, "Section Encoding" data types) -------------------------


def _fibonacci_code(value: int) -> str:
    """Fibonacci code of an integer >= 1: Zeckendorf bits for 1, 2, 3, 5, 8, ... then a closing "1"."""
    # GPP Core, "About Fibonacci Encoding": 1 -> 11, 2 -> 011, 3 -> 0011, 4 -> 1011.
    if value < 1:
        raise ValueError("A Fibonacci-coded integer must be at least 1.")
    fibonacci = [1, 2]
    while fibonacci[-1] + fibonacci[-2] <= value:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    while fibonacci[-1] > value:
        fibonacci.pop()
    bits = ["0"] * len(fibonacci)
    remainder = value
    for index in reversed(range(len(fibonacci))):
        if fibonacci[index] <= remainder:
            bits[index] = "1"
            remainder -= fibonacci[index]
    return "".join(bits) + "1"


def _fibonacci_value(code: str) -> int:
    """The integer of a Fibonacci code (its closing "1" included)."""
    total, current, following = 0, 1, 2
    for bit in code[:-1]:
        if bit == "1":
            total += current
        current, following = following, current + following
    return total


class _BitWriter:
    """Appends GPP data types to a bit string and renders it as base64url without padding."""

    def __init__(self) -> None:
        self._bits: list[str] = []

    def write_int(self, value: int, width: int) -> None:
        """Int(width): a fixed-width unsigned integer, most significant bit first."""
        if not 0 <= value < 1 << width:
            raise ValueError(f"{value} does not fit in {width} bits.")
        self._bits.append(format(value, f"0{width}b"))

    def write_bool(self, value: bool) -> None:
        """Boolean: one bit, 1 = true."""
        # A16: GPP Core's data-type table says "0=true, 1=false", but the California spec's GPC table, the
        # reference encoder and independent decoders all use 1 = true.
        self._bits.append("1" if value else "0")

    def write_fibonacci_range(self, ids: Sequence[int]) -> None:
        """Range(Fibonacci): Int(12) group count, then per group an is-range bit and Fibonacci offsets."""
        # GPP Core, "Range (Fibonacci)": a group's first id is an offset from the last id seen (0 at the
        # start); a range then gives its length (last id minus first id). Ids must be sorted.
        groups: list[tuple[int, int]] = []
        for section_id in sorted(set(ids)):
            if groups and groups[-1][1] + 1 == section_id:
                groups[-1] = (groups[-1][0], section_id)
            else:
                groups.append((section_id, section_id))
        self.write_int(len(groups), 12)
        last = 0
        for first, final in groups:
            self._bits.append("0" if first == final else "1")
            self._bits.append(_fibonacci_code(first - last))
            if first != final:
                self._bits.append(_fibonacci_code(final - first))
            last = final

    def to_base64url(self) -> str:
        """The bits padded with zeros to whole bytes, then to whole 6-bit characters, as base64url."""
        # GPP Core, "Creating a GPP String" asks only for padding to a multiple of 6, but its own examples
        # ("DBABMA", "DBACNYA") and the reference encoder pad to whole bytes first: a 3-bit GPC sub-section
        # is "YA", not "Y". Decoders ignore the trailing zeros either way.
        bits = "".join(self._bits)
        bits += "0" * (-len(bits) % 8)
        bits += "0" * (-len(bits) % 6)
        return "".join(_BASE64URL[int(bits[start : start + 6], 2)] for start in range(0, len(bits), 6))


class _BitReader:
    """Reads GPP data types back from a base64url (sub-)section."""

    def __init__(self, encoded: str) -> None:
        if not encoded or any(character not in _BASE64URL_INDEX for character in encoded):
            raise ValueError("A GPP (sub-)section must be non-empty base64url.")
        self._bits = "".join(format(_BASE64URL_INDEX[character], "06b") for character in encoded)
        self._position = 0

    def read_int(self, width: int) -> int:
        end = self._position + width
        if end > len(self._bits):
            raise ValueError("The GPP (sub-)section is shorter than its fields.")
        value = int(self._bits[self._position : end], 2)
        self._position = end
        return value

    def read_bool(self) -> bool:
        return self.read_int(1) == 1

    def read_fibonacci(self) -> int:
        end = self._bits.find("11", self._position)
        if end < 0:
            raise ValueError("A Fibonacci-coded integer has no closing 11.")
        value = _fibonacci_value(self._bits[self._position : end + 2])
        self._position = end + 2
        return value

    def read_fibonacci_range(self) -> list[int]:
        ids: list[int] = []
        last = 0
        for _ in range(self.read_int(12)):
            is_range = self.read_bool()
            first = last + self.read_fibonacci()
            final = first + self.read_fibonacci() if is_range else first
            ids.extend(range(first, final + 1))
            last = final
        return ids


# --- GPP string ----------------------------------------------------------------------------------------------


def gpp_string(sections: Mapping[int, str]) -> str:
    """A GPP string: the header listing the section ids, then the encoded sections in id order, joined by "~"."""
    # GPP Core, "Creating a GPP String": sections are sorted by id and the header lists them in that order.
    if not sections:
        raise ValueError("A GPP string needs at least one section.")
    if any(section_id < 1 for section_id in sections):
        raise ValueError("GPP section ids are positive integers.")
    if any(not body or "~" in body for body in sections.values()):
        raise ValueError("An encoded GPP section must be non-empty and must not contain '~'.")
    ids = sorted(sections)
    header = _BitWriter()
    header.write_int(GPP_HEADER_TYPE, 6)
    header.write_int(GPP_VERSION, 6)
    header.write_fibonacci_range(ids)
    return "~".join([header.to_base64url(), *(sections[section_id] for section_id in ids)])


def gpp_sid(gpp: str) -> list[int]:
    """The section ids a GPP string's header lists, in string order: the `gpp_sid` transport value."""
    header, *bodies = gpp.split("~")
    reader = _BitReader(header)
    if reader.read_int(6) != GPP_HEADER_TYPE:
        raise ValueError("The GPP string does not start with a GPP header.")
    if reader.read_int(6) != GPP_VERSION:
        raise ValueError("Unsupported GPP version.")
    ids = reader.read_fibonacci_range()
    if len(ids) != len(bodies):
        raise ValueError("The GPP header lists a different number of sections than the string holds.")
    return ids


# --- California (usca, section 8) ----------------------------------------------------------------------------


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
        _check_section_values(
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


def _check_section_values(
    *,
    single_values: Mapping[str, int],
    mspa_covered_transaction: int,
    lists: Mapping[str, tuple[Sequence[int], int]],
    gpc: object,
) -> None:
    """The checks a US state section's fields share: two-bit values, fixed-length lists, a tri-state GPC."""
    for name, value in single_values.items():
        _check_two_bit(name, value, allowed=(0, 1, 2))
    _check_two_bit("mspa_covered_transaction", mspa_covered_transaction, allowed=(1, 2))
    for name, (values, length) in lists.items():
        if len(values) != length:
            raise ValueError(f"{name} needs exactly {length} values.")
        for value in values:
            _check_two_bit(name, value, allowed=(0, 1, 2))
    if gpc is not None and not isinstance(gpc, bool):
        raise ValueError("gpc must be true, false or None.")


def _check_two_bit(name: str, value: int, *, allowed: tuple[int, ...]) -> None:
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}.")


def usca_section(fields: UscaFields) -> str:
    """The encoded usca section: the core sub-section, then ".<GPC sub-section>" when gpc is set."""
    # California spec, "Core Sub-section": Version Int(6), then Int(2) fields and N-Bitfield(2, n) lists.
    core = _BitWriter()
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
    return _with_gpc_subsection(core, fields.gpc)


def _with_gpc_subsection(core: _BitWriter, gpc: bool | None) -> str:
    """The encoded core sub-section, then ".<GPC sub-section>" unless gpc is None."""
    if gpc is None:
        return core.to_base64url()
    # California and US National specs, "GPC Sub-section": SubsectionType Int(2) = 1, then Gpc Boolean.
    subsection = _BitWriter()
    subsection.write_int(_GPC_SUBSECTION_TYPE, 2)
    subsection.write_bool(gpc)
    return f"{core.to_base64url()}.{subsection.to_base64url()}"


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
    core, subsections = _section_readers(gpp, USCA_SECTION_ID, "usca", USCA_VERSION)
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
        gpc=_read_gpc_subsection(subsections),
    )


def _section_readers(gpp: str, section_id: int, name: str, version: int) -> tuple[_BitReader, list[str]]:
    """A reader positioned after the Version field of a section's core sub-section, and its other sub-sections."""
    section_ids = gpp_sid(gpp)
    if section_id not in section_ids:
        raise ValueError(f"The GPP string has no {name} section.")
    core_encoded, *subsections = gpp.split("~")[1 + section_ids.index(section_id)].split(".")
    core = _BitReader(core_encoded)
    if core.read_int(6) != version:
        raise ValueError(f"Unsupported {name} section version.")
    return core, subsections


def _read_gpc_subsection(subsections: Sequence[str]) -> bool | None:
    """The Gpc value of the GPC sub-section (SubsectionType 1), or None when there is none."""
    gpc: bool | None = None
    for encoded in subsections:
        subsection = _BitReader(encoded)
        if subsection.read_int(2) == _GPC_SUBSECTION_TYPE:
            gpc = subsection.read_bool()
    return gpc


# --- US National (usnat, section 7) --------------------------------------------------------------------------


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
        _check_section_values(
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
    core = _BitWriter()
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
    return _with_gpc_subsection(core, fields.gpc)


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
    core, subsections = _section_readers(gpp, USNAT_SECTION_ID, "usnat", USNAT_VERSION)
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
        gpc=_read_gpc_subsection(subsections),
    )
