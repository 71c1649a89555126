"""The requester's identity link: an expiring signed token naming the request, and the reminder schedule.

A link carries only the request's public id, signed with Django's ``TimestampSigner`` under its own salt; the
requester's address is read from the sealed contact when a message goes out and never appears in a URL or a log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from dsar.problems import VerificationLinkExpired, VerificationLinkInvalid

SALT: Final = "provenant.dsar.identity-verification"


def link_lifetime() -> timedelta:
    return timedelta(hours=settings.PROVENANT_DSAR_VERIFICATION_LINK_HOURS)


def identity_link_token(public_id: str) -> str:
    """A URL-safe token naming the request, with its signing time."""
    return signing.dumps({"r": public_id}, salt=SALT)


def identity_link_url(public_id: str) -> str:
    base = settings.PROVENANT_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/api/v1/dsar/verify/{identity_link_token(public_id)}"


def public_id_from_identity_token(token: str) -> str:
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
