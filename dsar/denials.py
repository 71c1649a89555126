"""What a denial must tell the person. Pure text, no ORM.

GDPR Art. 12(4): the reasons for not taking action, and the possibility of lodging a complaint with a
supervisory authority and seeking a judicial remedy. US state laws: how to appeal, and within what
time the appeal is decided (e.g. Virginia: 60 days, Va. Code §59.1-577(C))."""

from __future__ import annotations

EU_REGIMES = frozenset({"gdpr", "uk_gdpr"})
NOTICE_MARKER = "Notice:"


def denial_notice(*, regime: str, appeal_response_days: int | None) -> str:
    if regime in EU_REGIMES:
        authority = "the Information Commissioner's Office" if regime == "uk_gdpr" else "a supervisory authority"
        return (
            f"{NOTICE_MARKER} you have the right to lodge a complaint with {authority} and to seek a judicial "
            "remedy (GDPR Art. 12(4), 77-79)."
        )
    within = f"; the appeal is decided within {appeal_response_days} days" if appeal_response_days else ""
    return (
        f"{NOTICE_MARKER} you may appeal this decision by replying to this message{within}. If the appeal is "
        "denied you may contact your state Attorney General (or, in California, the California Privacy "
        "Protection Agency)."
    )


def with_denial_notice(reason: str, *, regime: str, appeal_response_days: int | None) -> str:
    """The reason, followed by the remedies the person has (unless the reason already states them)."""
    if NOTICE_MARKER in reason:
        return reason
    return f"{reason.rstrip()} {denial_notice(regime=regime, appeal_response_days=appeal_response_days)}"
