"""Effective permission for (subject, purpose): consent status read through the jurisdiction's regime and
the purpose's lawful basis.

Consent purposes: under opt-in regimes (GDPR and the like) nothing on record means not permitted; under
opt-out regimes (CCPA and the US state laws) nothing on record means permitted for non-sensitive purposes
until an opt-out. A missing signal never counts as an opt-in.

Purposes resting on another lawful basis (GDPR Art. 6(1)(b)-(f)) do not need consent, so its absence,
expiry or staleness does not matter. Still: a GPC signal or a US opt-out is honored whatever the basis,
and a refusal or withdrawal is an objection (Art. 21(1)) to a purpose based on legitimate interest or a
public task. Sensitive purposes are always judged on consent (Art. 9 needs explicit consent unless an
exception this table does not model applies). Pure, no ORM.
"""

from __future__ import annotations

from consent.enums import OPT_IN_STATUSES, OPT_OUT_STATUSES, ConsentStatus, LawfulBasis

BASES = (
    "explicit_opt_in",
    "no_opt_out_on_record",
    "opted_out",
    "withdrawn",
    "expired",
    "stale_policy",
    "gpc_opt_out",
    "no_consent_on_record",
    "objected",
    # The purpose's lawful basis, when it is not consent and nothing on record stops the processing.
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interest",
)
CONSENT = LawfulBasis.CONSENT
# GDPR Art. 21(1): the person may object to processing based on Art. 6(1)(e) or (f).
OBJECTABLE_BASES: frozenset[str] = frozenset({LawfulBasis.PUBLIC_TASK, LawfulBasis.LEGITIMATE_INTEREST})


def effective_permission(
    *, status: str, gpc_opt_out: bool, regime: str, is_sensitive: bool, legal_basis: str = CONSENT
) -> tuple[bool, str]:
    """``(permitted, basis)``; ``basis`` is one of BASES."""
    if gpc_opt_out:
        return False, "gpc_opt_out"
    if legal_basis != CONSENT and not is_sensitive:
        return _permission_without_consent(status=status, regime=regime, legal_basis=legal_basis)
    if status in OPT_IN_STATUSES:
        return True, "explicit_opt_in"
    if status == ConsentStatus.WITHDRAWN:
        return False, "withdrawn" if regime == "opt_in" else "opted_out"
    if status == ConsentStatus.REFUSED:
        return False, "opted_out"
    if status == ConsentStatus.EXPIRED:
        return False, "expired"
    if status == ConsentStatus.STALE:
        return False, "stale_policy"
    # unknown or invalidated: the regime's default
    if regime == "opt_out" and not is_sensitive:
        return True, "no_opt_out_on_record"
    return False, "no_consent_on_record"


def _permission_without_consent(*, status: str, regime: str, legal_basis: str) -> tuple[bool, str]:
    said_no = status in OPT_OUT_STATUSES
    if said_no and regime == "opt_out":
        return False, "opted_out"  # the US laws' right to opt out does not depend on the GDPR basis
    if said_no and legal_basis in OBJECTABLE_BASES:
        return False, "objected"
    return True, legal_basis
