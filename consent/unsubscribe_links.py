"""Signed per-person, per-purpose unsubscribe links for recipients to put in their emails, with the RFC 8058
one-click headers.

The token names the organization, the subject by its uuid (never its external id, which may be an email: PII never
in a URL) and the purpose key, signed with Django's signer under its own salt and valid for
PROVENANT_UNSUBSCRIBE_LINK_DAYS (365 by default: an unsubscribe link must keep working long after the email was
sent). It can only ever withdraw consent, and a replay withdraws nothing more (``consent_unsubscribe`` is
idempotent), so a leaked link can do no more than what it says. All links are revoked by rotating
DJANGO_SECRET_KEY; an erased subject's links do nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from consent.preference_links import PreferenceLinkExpired, PreferenceLinkInvalid

SALT: Final = "provenant.consent.unsubscribe"
ONE_CLICK_BODY: Final = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class UnsubscribeTarget:
    organization_id: int
    subject_uuid: str
    purpose_key: str


@dataclass(frozen=True)
class UnsubscribeHeaders:
    """The link and the two header values to put in the email (RFC 2369 ``List-Unsubscribe``, RFC 8058
    ``List-Unsubscribe-Post``)."""

    url: str
    list_unsubscribe: str
    list_unsubscribe_post: str


def link_lifetime() -> timedelta:
    return timedelta(days=settings.PROVENANT_UNSUBSCRIBE_LINK_DAYS)


def unsubscribe_token(target: UnsubscribeTarget) -> str:
    return signing.dumps(
        {"o": target.organization_id, "s": target.subject_uuid, "p": target.purpose_key}, salt=SALT, compress=True
    )


def unsubscribe_headers(url: str) -> UnsubscribeHeaders:
    return UnsubscribeHeaders(url=url, list_unsubscribe=f"<{url}>", list_unsubscribe_post=ONE_CLICK_BODY)


def target_from_token(token: str) -> UnsubscribeTarget:
    """What the token names; PreferenceLinkExpired (410) after its lifetime, PreferenceLinkInvalid (400)."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=link_lifetime())
    except signing.SignatureExpired as exc:
        raise PreferenceLinkExpired("This unsubscribe link has expired.") from exc
    except signing.BadSignature as exc:
        raise PreferenceLinkInvalid("This unsubscribe link is not valid.") from exc
    if not isinstance(payload, dict):
        raise PreferenceLinkInvalid("This unsubscribe link is not valid.")
    organization_id, subject_uuid, purpose_key = payload.get("o"), payload.get("s"), payload.get("p")
    if not (
        isinstance(organization_id, int)
        and isinstance(subject_uuid, str)
        and subject_uuid
        and isinstance(purpose_key, str)
        and purpose_key
    ):
        raise PreferenceLinkInvalid("This unsubscribe link is not valid.")
    return UnsubscribeTarget(organization_id, subject_uuid, purpose_key)
