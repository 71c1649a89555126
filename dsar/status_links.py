"""The requester's status link: a signed token naming a request, so its status page is reachable only by whom
we gave the link (never by guessing a public id). It carries only the request's public id, signed with Django's
``TimestampSigner`` under its own salt; the page it opens shows no personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from django.core import signing

from dsar.problems import StatusLinkExpired, StatusLinkInvalid

SALT: Final = "provenant.dsar.request-status"
# Long enough to follow a request through its longest extended deadline (90 days) and its answer.
LINK_LIFETIME: Final = timedelta(days=180)


def status_link_token(public_id: str) -> str:
    return signing.dumps({"r": public_id}, salt=SALT)


def status_link_url(public_id: str, *, privacy_center_url: str) -> str:
    """The status page in the organization's privacy center (``privacy_center_url``, e.g.
    https://example.com/privacy/acme)."""
    return f"{privacy_center_url.rstrip('/')}/requests/status/{status_link_token(public_id)}"


def public_id_from_status_token(token: str) -> str:
    """The request id the token names; StatusLinkExpired (410) or StatusLinkInvalid (400) otherwise."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=LINK_LIFETIME)
    except signing.SignatureExpired as exc:
        raise StatusLinkExpired("This status link has expired.") from exc
    except signing.BadSignature as exc:
        raise StatusLinkInvalid("This status link is not valid.") from exc
    public_id = payload.get("r") if isinstance(payload, dict) else None
    if not isinstance(public_id, str) or not public_id:
        raise StatusLinkInvalid("This status link is not valid.")
    return public_id
