"""Identity verification of requesters: expiring signed links and the texts of the messages they receive.

A link carries only the request's public id, signed with Django's ``TimestampSigner`` under its own salt; the
requester's address is read from the sealed contact when a message goes out and never appears in a URL or a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from core.problems import DomainError

SALT: Final = "provenant.dsar.identity-verification"


class VerificationLinkInvalid(DomainError):
    status = 400
    slug = "verification-link-invalid"
    title = "The verification link is not valid"


class VerificationLinkExpired(DomainError):
    status = 410
    slug = "verification-link-expired"
    title = "The verification link has expired"


def link_lifetime() -> timedelta:
    return timedelta(hours=settings.PROVENANT_DSAR_VERIFICATION_LINK_HOURS)


def verification_token(public_id: str) -> str:
    """A URL-safe token naming the request, with its signing time."""
    return signing.dumps({"r": public_id}, salt=SALT)


def verification_url(public_id: str) -> str:
    base = settings.PROVENANT_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/api/v1/dsar/verify/{verification_token(public_id)}"


def public_id_from_token(token: str) -> str:
    """The request id the token names; VerificationLinkExpired (410) or VerificationLinkInvalid (400) otherwise."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=link_lifetime())
    except signing.SignatureExpired as exc:
        raise VerificationLinkExpired("This verification link has expired; ask for a new one.") from exc
    except signing.BadSignature as exc:
        raise VerificationLinkInvalid("This verification link is not valid.") from exc
    public_id = payload.get("r") if isinstance(payload, dict) else None
    if not isinstance(public_id, str) or not public_id:
        raise VerificationLinkInvalid("This verification link is not valid.")
    return public_id


def reminder_days() -> tuple[int, ...]:
    """The days after the identity request on which an unverified requester is reminded, ascending."""
    raw = settings.PROVENANT_DSAR_REMINDER_DAYS
    return tuple(sorted({int(part) for part in str(raw).split(",") if part.strip()}))


# --- messages ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def link_message(*, public_id: str, url: str) -> Message:
    hours = settings.PROVENANT_DSAR_VERIFICATION_LINK_HOURS
    return Message(
        subject=f"Please confirm your privacy request {public_id}",
        body=(
            "We received a privacy request in your name. To confirm that it was you, open this link:\n\n"
            f"{url}\n\n"
            f"The link works for {hours} hours. If you did not make this request, ignore this message.\n"
        ),
    )


def reminder_message(*, public_id: str, url: str, day: int) -> Message:
    hours = settings.PROVENANT_DSAR_VERIFICATION_LINK_HOURS
    return Message(
        subject=f"Reminder: please confirm your privacy request {public_id}",
        body=(
            f"{day} days ago we asked you to confirm your privacy request {public_id}. We cannot act on it until "
            "you do. Open this link to confirm:\n\n"
            f"{url}\n\n"
            f"The link works for {hours} hours. If you did not make this request, ignore this message.\n"
        ),
    )


def gdpr_unable_to_identify_reason(*, requested_on: date, cutoff: date) -> str:
    """GDPR Art. 12(2), 12(4) and REGULATORY.md A3: the reason recorded and sent when nobody answered."""
    return (
        "Unable to identify the data subject: the identity request of "
        f"{requested_on.isoformat()} was not answered by {cutoff.isoformat()} (GDPR Art. 12(2), 12(6); "
        "REGULATORY.md A3). Art. 12(4) notice: we are not taking action on the request because we could not "
        "identify you. You have the right to lodge a complaint with a supervisory authority and to seek a "
        "judicial remedy."
    )


def ccpa_unverified_reason(*, requested_on: date, day_45: date) -> str:
    """CCPA: a request that cannot be verified may be denied; the reason and how to contest it are recorded."""
    return (
        "Denied: the requester's identity could not be verified; the identity request of "
        f"{requested_on.isoformat()} was not answered by day 45 ({day_45.isoformat()}) (Cal. Civ. Code "
        "§1798.130(a)(2); Cal. Code Regs. tit. 11 §7060-7062). Notice: you may appeal this decision by replying "
        "to this message, or make a new request with the information we need to verify your identity; you may "
        "also contact the California Privacy Protection Agency or the California Attorney General."
    )


def closure_message(*, public_id: str, reason: str) -> Message:
    return Message(subject=f"Your privacy request {public_id} was closed", body=reason + "\n")
