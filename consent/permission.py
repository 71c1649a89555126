"""Effective permission for (subject, purpose): consent status read through the jurisdiction's regime.

Under opt-in regimes (GDPR and the like) nothing on record means not permitted; under opt-out regimes
(CCPA and the US state laws) nothing on record means permitted for non-sensitive purposes until an
opt-out. A missing signal never counts as an opt-in. Pure, no ORM.
"""

from __future__ import annotations

from consent.state import EXPIRED, GIVEN, REFUSED, RENEWED, STALE, WITHDRAWN

BASES = (
    "explicit_opt_in",
    "no_opt_out_on_record",
    "opted_out",
    "withdrawn",
    "expired",
    "stale_policy",
    "gpc_opt_out",
    "no_consent_on_record",
)


def effective_permission(*, status: str, gpc_opt_out: bool, regime: str, is_sensitive: bool) -> tuple[bool, str]:
    """``(permitted, basis)``; ``basis`` is one of BASES."""
    if gpc_opt_out:
        return False, "gpc_opt_out"
    if status in (GIVEN, RENEWED):
        return True, "explicit_opt_in"
    if status == WITHDRAWN:
        return False, "withdrawn" if regime == "opt_in" else "opted_out"
    if status == REFUSED:
        return False, "opted_out"
    if status == EXPIRED:
        return False, "expired"
    if status == STALE:
        return False, "stale_policy"
    # unknown or invalidated: the regime's default
    if regime == "opt_out" and not is_sensitive:
        return True, "no_opt_out_on_record"
    return False, "no_consent_on_record"
