"""Whether a purpose may go to a recipient, and why not. Pure rules, no ORM."""

from __future__ import annotations

from dataclasses import dataclass

from provenance.enums import SERVICE_PROVIDER_ROLES, StampReason

# The rule each refusal reason comes from.
RULES: dict[str, str] = {
    StampReason.NO_CONSENT: "No consent on record where the jurisdiction requires opt-in (GDPR Art. 6(1)(a), 7(1))",
    StampReason.CONSENT_WITHDRAWN: "Consent withdrawn, refused or opted out of (GDPR Art. 7(3); the US state laws' "
    "right to opt out)",
    StampReason.CONSENT_EXPIRED: "Consent past the purpose's validity",
    StampReason.POLICY_STALE: "Consent given under a notice older than the purpose's current material version",
    StampReason.SALE_SHARE_OPTED_OUT: "Opt-out of sale/sharing, by request or Global Privacy Control "
    "(Cal. Civ. Code §1798.120, CCPA regs §7025-7026; CPA, CTDPA and other state laws)",
    StampReason.PURPOSE_NOT_REGISTERED: "The recipient is not registered to receive data for this purpose",
    StampReason.OBJECTED: "Objection to processing based on legitimate interest or a public task (GDPR Art. 21(1))",
}


@dataclass(frozen=True)
class PurposeVerdict:
    purpose: str
    allowed: bool
    reason: str | None = None

    @property
    def rule(self) -> str | None:
        return RULES.get(self.reason) if self.reason else None


def purpose_verdict(
    *,
    purpose: str,
    permitted: bool,
    basis: str,
    is_sale_or_sharing: bool,
    recipient_is_third_party: bool,
    recipient_receives_purpose: bool,
) -> PurposeVerdict:
    if not recipient_receives_purpose:
        return PurposeVerdict(purpose, False, StampReason.PURPOSE_NOT_REGISTERED)
    if permitted:
        return PurposeVerdict(purpose, True)
    if basis == "gpc_opt_out":
        return PurposeVerdict(purpose, False, StampReason.SALE_SHARE_OPTED_OUT)
    if basis in ("opted_out", "withdrawn"):
        if is_sale_or_sharing and recipient_is_third_party:
            return PurposeVerdict(purpose, False, StampReason.SALE_SHARE_OPTED_OUT)
        return PurposeVerdict(purpose, False, StampReason.CONSENT_WITHDRAWN)
    if basis == "objected":
        return PurposeVerdict(purpose, False, StampReason.OBJECTED)
    if basis == "expired":
        return PurposeVerdict(purpose, False, StampReason.CONSENT_EXPIRED)
    if basis == "stale_policy":
        return PurposeVerdict(purpose, False, StampReason.POLICY_STALE)
    return PurposeVerdict(purpose, False, StampReason.NO_CONSENT)


def restrictions(*, sale_opted_out: bool, share_opted_out: bool, recipient_role: str) -> list[str]:
    """What the recipient may not do with the data."""
    found = []
    if sale_opted_out:
        found.append("no_sale")
    if share_opted_out:
        found.append("no_share")
    if recipient_role in SERVICE_PROVIDER_ROLES:
        found.append("service_provider_use_only")
    return found
