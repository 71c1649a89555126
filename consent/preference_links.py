"""The privacy center's magic link: a signed, expiring token naming a ``PreferenceLink`` row, and the signed value
the confirmation page posts back. No email in the token (PII never in a URL): only the row's public id.

Opening the link shows a page; only its POST (with the confirmation value, bound to this very token) opens the
preference session, once (the row is single use). Mail scanners and link previewers that GET or HEAD the link
change nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.conf import settings
from django.core import signing

from core.link_confirmations import confirmation_for
from core.link_confirmations import is_confirmation_for as is_confirmation
from core.problems import DomainError

SALT: Final = "provenant.consent.preference-link"
CONFIRMATION_SALT: Final = "provenant.consent.preference-confirmation"


class PreferenceLinkInvalid(DomainError):
    status = 400
    slug = "preference-link-invalid"
    title = "This link is not valid"


class PreferenceLinkExpired(DomainError):
    status = 410
    slug = "preference-link-expired"
    title = "This link has expired or was used"


def link_lifetime() -> timedelta:
    return timedelta(minutes=settings.PROVENANT_PRIVACY_CENTER_LINK_MINUTES)


def session_lifetime() -> timedelta:
    return timedelta(minutes=settings.PROVENANT_PRIVACY_CENTER_SESSION_MINUTES)


def preference_link_token(public_id: str) -> str:
    return signing.dumps({"l": public_id}, salt=SALT)


def public_id_from_token(token: str) -> str:
    """The link the token names; PreferenceLinkExpired (410) after its lifetime, PreferenceLinkInvalid (400)."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=link_lifetime())
    except signing.SignatureExpired as exc:
        raise PreferenceLinkExpired("This link has expired; ask for a new one.") from exc
    except signing.BadSignature as exc:
        raise PreferenceLinkInvalid("This link is not valid; ask for a new one.") from exc
    public_id = payload.get("l") if isinstance(payload, dict) else None
    if not isinstance(public_id, str) or not public_id:
        raise PreferenceLinkInvalid("This link is not valid; ask for a new one.")
    return public_id


def confirmation_value(token: str) -> str:
    """What the confirmation page's form posts back: bound to the link's token, valid for a short while."""
    return confirmation_for(token, salt=CONFIRMATION_SALT)


def is_confirmation_for(value: object, token: str) -> bool:
    return is_confirmation(value, token, salt=CONFIRMATION_SALT)
