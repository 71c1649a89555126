"""Global Privacy Control: parsing the signal and deciding what it means. Pure rules, no ORM.

Sources: the GPC specification (a signal only when the field value is exactly "1"; several fields
combined with "," count when one is "1"), RFC 9110 §5.5 (optional whitespace is not part of the
value), CCPA regs §7025, and the jurisdiction rule table (core/data/jurisdiction_rules.json).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from core.jurisdiction_rules import jurisdiction_rules

OWS = " \t"
# When the signal is honored where no law names the categories (A11), it covers the usual ones.
VOLUNTARY_SIGNAL_COVERS = frozenset({"sale", "sharing", "targeted_advertising"})
DISPLAY_HONORED = "Opt-Out Request Honored"
DISPLAY_RECEIVED = "Opt-Out Preference Signal Received"


def parse_sec_gpc(raw: str | None) -> bool:
    """True only when some comma-separated element is exactly "1" once OWS is trimmed (A9)."""
    if raw is None:
        return False
    return any(part.strip(OWS) == "1" for part in raw.split(","))


def is_malformed_sec_gpc(raw: str | None) -> bool:
    """A Sec-GPC field was sent but carries no signal ("0", "true", empty...): logged, never an error."""
    return raw is not None and not parse_sec_gpc(raw)


def purpose_signal_categories(*, is_sale_or_sharing: bool, is_targeted_advertising: bool) -> frozenset[str]:
    """The opt-out categories a purpose falls in. CCPA 'sharing' is cross-context behavioural advertising."""
    categories: set[str] = set()
    if is_sale_or_sharing:
        categories |= {"sale", "sharing"}
    if is_targeted_advertising:
        categories |= {"targeted_advertising", "sharing"}
    return frozenset(categories)


@dataclass(frozen=True)
class GpcDecision:
    """What a signal means for a subject in a jurisdiction on a date."""

    jurisdiction: str | None
    is_honored: bool
    is_legally_required: bool
    covers: frozenset[str]

    def covers_purpose(self, *, is_sale_or_sharing: bool, is_targeted_advertising: bool) -> bool:
        categories = purpose_signal_categories(
            is_sale_or_sharing=is_sale_or_sharing, is_targeted_advertising=is_targeted_advertising
        )
        return self.is_honored and bool(categories & self.covers)


def gpc_decision(*, jurisdiction: str | None, honor_everywhere: bool, on: date) -> GpcDecision:
    """Binding where the rule table says so from its date; elsewhere honored only if the organization
    honors GPC everywhere (the default), with the categories a voluntary honor covers."""
    rules = jurisdiction_rules()
    rule = rules.rule_for(jurisdiction)
    if rules.signal_binds(jurisdiction, on):
        return GpcDecision(jurisdiction, True, True, frozenset(rule.signal_covers))
    if honor_everywhere:
        return GpcDecision(jurisdiction, True, False, frozenset(rule.signal_covers) or VOLUNTARY_SIGNAL_COVERS)
    return GpcDecision(jurisdiction, False, False, frozenset())


def may_override_gpc(*, jurisdiction: str | None, subject_is_known: bool, on: date | None = None) -> bool:
    """Whether a grant the person explicitly confirmed after a GPC opt-out re-permits (A10).

    Only for a known person; where the signal binds, only if the jurisdiction allows consent after
    the signal (CA §7025(c)(3), CO Rule 5.09); where it does not bind, an explicit opt-in is simply
    consent."""
    if not subject_is_known:
        return False
    rules = jurisdiction_rules()
    rule = rules.rule_for(jurisdiction)
    if rule.allows_post_signal_consent:
        return True
    return not rules.signal_binds(jurisdiction, on or date.today())


def covered_purpose_keys(decision: GpcDecision, purposes: Iterable[tuple[str, bool, bool]]) -> list[str]:
    """Keys of the purposes (key, is_sale_or_sharing, is_targeted_advertising) the decision opts out of."""
    return sorted(
        key
        for key, sale_or_sharing, targeted in purposes
        if decision.covers_purpose(is_sale_or_sharing=sale_or_sharing, is_targeted_advertising=targeted)
    )


@dataclass
class GpcOutcome:
    """What one signal did: the decision, the subjects it reached (the subject and those linked to it), how
    many opt-out events it wrote and the purposes it opted out of."""

    decision: GpcDecision
    subjects: list[str]
    events_written: int = 0
    purposes: list[str] = field(default_factory=list)
