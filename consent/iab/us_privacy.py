"""The legacy IAB US Privacy string (``us_privacy``, US Privacy String v1, deprecated 31 Jan 2024). No Django."""

from __future__ import annotations

USPV1_SECTION_ID = 6


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
