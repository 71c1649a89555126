"""What the US state sections (usca, usnat) share: the checks of their two-bit fields, and the optional GPC
sub-section after the core sub-section. No Django."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from consent.iab.gpp import BitReader, BitWriter, gpp_sid

_GPC_SUBSECTION_TYPE = 1


def check_section_values(
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


def with_gpc_subsection(core: BitWriter, gpc: bool | None) -> str:
    """The encoded core sub-section, then ".<GPC sub-section>" unless gpc is None."""
    if gpc is None:
        return core.to_base64url()
    # California and US National specs, "GPC Sub-section": SubsectionType Int(2) = 1, then Gpc Boolean.
    subsection = BitWriter()
    subsection.write_int(_GPC_SUBSECTION_TYPE, 2)
    subsection.write_bool(gpc)
    return f"{core.to_base64url()}.{subsection.to_base64url()}"


def section_readers(gpp: str, section_id: int, name: str, version: int) -> tuple[BitReader, list[str]]:
    """A reader positioned after the Version field of a section's core sub-section, and its other sub-sections."""
    section_ids = gpp_sid(gpp)
    if section_id not in section_ids:
        raise ValueError(f"The GPP string has no {name} section.")
    core_encoded, *subsections = gpp.split("~")[1 + section_ids.index(section_id)].split(".")
    core = BitReader(core_encoded)
    if core.read_int(6) != version:
        raise ValueError(f"Unsupported {name} section version.")
    return core, subsections


def read_gpc_subsection(subsections: Sequence[str]) -> bool | None:
    """The Gpc value of the GPC sub-section (SubsectionType 1), or None when there is none."""
    gpc: bool | None = None
    for encoded in subsections:
        subsection = BitReader(encoded)
        if subsection.read_int(2) == _GPC_SUBSECTION_TYPE:
            gpc = subsection.read_bool()
    return gpc
