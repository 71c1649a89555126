"""Each regime's periods, calendar, time zone and citations, from the jurisdiction rule table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from core.jurisdiction_rules import NO_DSAR_REGIME, JurisdictionRule, Period, RuleTable
from dsar.deadlines.types import DeadlineError, UnknownRegime

# --- the regime, from the rule table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Citations:
    response: str
    extension: str
    notice: str
    pause: str
    optout: str = ""
    limit: str = ""
    confirm: str = ""
    verification: str = ""


_CITATIONS: Final[Mapping[str, _Citations]] = MappingProxyType(
    {
        "gdpr": _Citations(
            response="GDPR Art. 12(3)",
            extension="GDPR Art. 12(3) (two further months)",
            notice="GDPR Art. 12(3) (notice within one month of receipt)",
            pause="EDPB Guidelines 01/2022 §159 (suspension)",
        ),
        "uk_gdpr": _Citations(
            response="UK GDPR Art. 12(3)",
            extension="UK GDPR Art. 12(3) (two further months)",
            notice="UK GDPR Art. 12(3) (notice within one month of receipt)",
            pause="EDPB Guidelines 01/2022 §159 (suspension), by analogy",
        ),
        "ccpa": _Citations(
            response="Cal. Code Regs. tit. 11 §7021(b)",
            extension="Civ. Code §1798.130(a)(2)(A); Cal. Code Regs. tit. 11 §7021(b)",
            notice="Civ. Code §1798.130(a)(2)(A) (notice within the first 45-day period)",
            pause="Cal. Code Regs. tit. 11 §7021(b) (45 days regardless of time required to verify)",
            optout="Cal. Code Regs. tit. 11 §7026 (15 business days)",
            limit="Cal. Code Regs. tit. 11 §7027 (15 business days) [verify]",
            confirm="Cal. Code Regs. tit. 11 §7021(a) (10 business days)",
            verification="Cal. Code Regs. tit. 11 §7021(b) (unverified within 45 days: may be denied)",
        ),
        "vcdpa": _Citations("Va. Code §59.1-577", "Va. Code §59.1-577", "Va. Code §59.1-577", ""),
        "cpa": _Citations("C.R.S. 6-1-1306", "C.R.S. 6-1-1306", "C.R.S. 6-1-1306", ""),
        "ctdpa": _Citations("Conn. Gen. Stat. §42-520", "Conn. Gen. Stat. §42-520", "Conn. Gen. Stat. §42-520", ""),
        "njdpa": _Citations("N.J.S.A. 56:8-166.7", "N.J.S.A. 56:8-166.7", "N.J.S.A. 56:8-166.7", ""),
        "ocpa": _Citations(
            "ORS 646A.570-.589", "ORS 646A.570-.589", "ORS 646A.570-.589", "", optout="ORS 646A.578(1)(d)"
        ),
        "fadp": _Citations("FADP Art. 25(7); DPO Art. 18", "", "DPO Art. 18 (notice within 30 days)", ""),
    }
)


@dataclass(frozen=True)
class Regime:
    """One regime's periods, default calendar and time zone, and citations, as the engine uses them."""

    key: str
    law: str
    response: Period
    extension: Period | None
    notice_within: Period | None
    confirm_business_days: int | None
    optout_business_days: int | None
    optout_calendar_days: int | None
    default_calendar: str | None
    default_time_zone: str | None
    is_us: bool
    citations: _Citations


def regime_spec(regime: str, table: RuleTable) -> Regime:
    """The regime's rules from the table; UnknownRegime when no jurisdiction of the table has it."""
    key = regime.strip().lower() if isinstance(regime, str) else ""
    rules: list[JurisdictionRule] = [rule for rule in table if rule.dsar.regime == key]
    if key == NO_DSAR_REGIME or not rules:
        raise UnknownRegime(f"{regime!r} is not a DSAR regime of the jurisdiction rule table")
    first = rules[0]
    shapes = {
        (
            rule.dsar.response,
            rule.dsar.extension,
            rule.dsar.extension_notice_within,
            rule.dsar.confirm_receipt_business_days,
            rule.optout_processing_business_days,
            rule.optout_processing_calendar_days,
        )
        for rule in rules
    }
    if len(shapes) != 1 or first.dsar.response is None:
        raise DeadlineError(f"the rule table gives regime {key!r} different periods in different jurisdictions")
    calendars = {rule.dsar.holiday_calendar for rule in rules}
    zones = {rule.dsar.time_zone for rule in rules}
    law = first.law if len(rules) == 1 else key.upper()
    generic = f"{first.law} [verify]"
    return Regime(
        key=key,
        law=law,
        response=first.dsar.response,
        extension=first.dsar.extension,
        notice_within=first.dsar.extension_notice_within,
        confirm_business_days=first.dsar.confirm_receipt_business_days,
        optout_business_days=first.optout_processing_business_days,
        optout_calendar_days=first.optout_processing_calendar_days,
        default_calendar=calendars.pop() if len(calendars) == 1 else None,
        default_time_zone=zones.pop() if len(zones) == 1 else None,
        is_us=all(rule.code.startswith("US-") for rule in rules),
        citations=_CITATIONS.get(key) or _Citations(generic, generic, generic, ""),
    )
