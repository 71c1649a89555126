"""Which request types each DSAR regime grants the person, and which jurisdictions the request form offers.

Pure: the rule table (core.jurisdiction_rules) says which regime a jurisdiction's law is; this table says which
rights that law gives. The privacy center's form offers exactly these, and its intake refuses any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from core.jurisdiction_rules import NO_DSAR_REGIME, jurisdiction_rules
from dsar.enums import DsarRegime, RequestType

_GDPR_RIGHTS: Final = (
    RequestType.ACCESS,  # Art. 15
    RequestType.CORRECTION,  # Art. 16 (rectification)
    RequestType.DELETION,  # Art. 17
    RequestType.RESTRICT,  # Art. 18
    RequestType.PORTABILITY,  # Art. 20
    RequestType.OBJECT,  # Art. 21
)
# The US comprehensive state laws: confirm/access, correct, delete, portable copy, opt out of sale and targeted
# advertising (VCDPA §59.1-577(A) and its followers). [verify] each statute's list against its text.
_US_STATE_RIGHTS: Final = (
    RequestType.ACCESS,
    RequestType.CORRECTION,
    RequestType.DELETION,
    RequestType.PORTABILITY,
    RequestType.OPT_OUT_OF_SALE,
)
# Utah (UCPA §13-61-201) and Iowa (ICDPA §715D.3) give no right to correct. [verify]
_US_NO_CORRECTION: Final = tuple(right for right in _US_STATE_RIGHTS if right != RequestType.CORRECTION)

RIGHTS_BY_REGIME: Final[Mapping[str, tuple[str, ...]]] = {
    DsarRegime.GDPR: _GDPR_RIGHTS,
    DsarRegime.UK_GDPR: _GDPR_RIGHTS,
    # Swiss FADP: access (Art. 25), portability (Art. 28), correction and deletion (Art. 32(1), 32(2)(c)),
    # a ban of a particular processing (Art. 32(2)(a), restrict) and of disclosure (Art. 32(2)(b), object). [verify]
    DsarRegime.FADP: _GDPR_RIGHTS,
    # CCPA/CPRA: know (§1798.110, with a portable copy §1798.130(a)(3)(B)(iii)), delete (§1798.105), correct
    # (§1798.106), opt out of sale/sharing (§1798.120), limit the use of sensitive personal information (§1798.121).
    DsarRegime.CCPA: (
        RequestType.ACCESS,
        RequestType.CORRECTION,
        RequestType.DELETION,
        RequestType.PORTABILITY,
        RequestType.OPT_OUT_OF_SALE,
        RequestType.LIMIT_SENSITIVE,
    ),
    DsarRegime.UCPA: _US_NO_CORRECTION,
    DsarRegime.ICDPA: _US_NO_CORRECTION,
    **{
        regime: _US_STATE_RIGHTS
        for regime in (
            DsarRegime.VCDPA,
            DsarRegime.CPA,
            DsarRegime.CTDPA,
            DsarRegime.TDPSA,
            DsarRegime.OCPA,
            DsarRegime.MCDPA,
            DsarRegime.DPDPA,
            DsarRegime.NHPA,
            DsarRegime.NJDPA,
            DsarRegime.TIPA,
            DsarRegime.MNCDPA,
            DsarRegime.MODPA,
            DsarRegime.INCDPA,
            DsarRegime.KCDPA,
            DsarRegime.RIDTPPA,
            DsarRegime.NDPA,
        )
    },
}


def rights_of_regime(regime: str) -> tuple[str, ...]:
    """The request types the regime grants, in the order the form shows them; none for an unknown regime."""
    return RIGHTS_BY_REGIME.get(regime, ())


@dataclass(frozen=True)
class FormJurisdiction:
    """A place the request form offers: its code, name and the regime its law is."""

    code: str
    name: str
    regime: str


def form_jurisdictions() -> tuple[FormJurisdiction, ...]:
    """Every jurisdiction of the rule table whose law grants data-subject rights, by name."""
    found = [
        FormJurisdiction(rule.code, rule.name, rule.dsar.regime)
        for rule in jurisdiction_rules()
        if rule.dsar.regime != NO_DSAR_REGIME and rights_of_regime(rule.dsar.regime)
    ]
    return tuple(sorted(found, key=lambda place: place.name))


def form_jurisdiction(code: str) -> FormJurisdiction | None:
    """The offered jurisdiction with this exact code, or None (elsewhere no law gives these rights)."""
    wanted = code.strip().upper()
    return next((place for place in form_jurisdictions() if place.code == wanted), None)
