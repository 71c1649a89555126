"""The confirmation a page's form posts back before a link acts (every link a mail scanner may open changes nothing
until a person confirms): a value signed under the link kind's own salt, bound to a digest of the link's token and,
where the link names one, to the object it acts on, valid for a short while. The identity, download and preference
links share it; each keeps its salt and its refusal."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Final

from django.core import signing

CONFIRMATION_LIFETIME: Final = timedelta(minutes=30)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def confirmation_for(token: str, *, salt: str, names: str = "") -> str:
    """The value the page's form carries: the link's token digest and the object the link names (its public id)."""
    return signing.dumps({"o": names, "t": _token_digest(token)}, salt=salt)


def is_confirmation_for(value: object, token: str, *, salt: str, names: str = "") -> bool:
    """Whether ``value`` was made by the page of this very link (and object), within CONFIRMATION_LIFETIME."""
    if not isinstance(value, str) or not value:
        return False
    try:
        payload = signing.loads(value, salt=salt, max_age=CONFIRMATION_LIFETIME)
    except signing.BadSignature:  # SignatureExpired included
        return False
    return isinstance(payload, dict) and payload.get("o") == names and payload.get("t") == _token_digest(token)
