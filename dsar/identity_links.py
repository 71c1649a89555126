"""The requester's identity link: an expiring signed token naming the request, and the reminder schedule.

A link carries only the request's public id, signed with Django's ``TimestampSigner`` under its own salt; the
requester's address is read from the sealed contact when a message goes out and never appears in a URL or a log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from core.link_confirmations import confirmation_for, is_confirmation_for
from dsar.problems import VerificationConfirmationInvalid, VerificationLinkExpired, VerificationLinkInvalid

SALT: Final = "provenant.dsar.identity-verification"
# Opening the link shows a page; only a POST from that page verifies (mail scanners and previewers open links).
# The page's form carries a confirmation value signed under its own salt, bound to the request and to this very
# token, valid for a short while: a POST without one, or with one made for another link, changes nothing.
CONFIRMATION_SALT: Final = "provenant.dsar.identity-confirmation"


def link_lifetime() -> timedelta:
    return timedelta(hours=settings.PROVENANT_DSAR_VERIFICATION_LINK_HOURS)


def identity_link_token(public_id: str) -> str:
    """A URL-safe token naming the request, with its signing time."""
    return signing.dumps({"r": public_id}, salt=SALT)


def identity_link_url(public_id: str, *, privacy_center_url: str = "") -> str:
    """The link emailed to the requester: the verification page of the organization's privacy center
    (``privacy_center_url``, e.g. https://example.com/privacy/acme); without it the API route (JSON clients;
    browsers are sent on to the page)."""
    token = identity_link_token(public_id)
    if privacy_center_url:
        return f"{privacy_center_url.rstrip('/')}/verify/{token}"
    return f"{settings.PROVENANT_PUBLIC_BASE_URL.rstrip('/')}/api/v1/dsar/verify/{token}"


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


def confirmation_value(public_id: str, token: str) -> str:
    """The value the confirmation page's form posts back: names the request and a digest of the link's token."""
    return confirmation_for(token, salt=CONFIRMATION_SALT, names=public_id)


def check_confirmation(value: object, *, public_id: str, token: str) -> None:
    """VerificationConfirmationInvalid (403) unless ``value`` was made by the page of this link, recently."""
    refusal = VerificationConfirmationInvalid(
        "Confirm from the page the link opens: this confirmation is missing, expired or not for this link."
    )
    if not is_confirmation_for(value, token, salt=CONFIRMATION_SALT, names=public_id):
        raise refusal
