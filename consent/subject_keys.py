"""A subject's data key: wrapped by the master key and bound to its owner, the subject
(``consent_subject/<uuid>/data-key``), so a wrapped key copied to another subject's row does not open.

Keys wrapped before they were bound (format ``pvk1``) are accepted as they are (lazily) until
``manage.py rewrap_keys`` re-wraps every registered column bound to its owner; from then on a copied key
is refused everywhere.
"""

from __future__ import annotations

from typing import Any

from core.crypto import CryptoError, key_owner, new_data_key, unwrap_data_key
from core.problems import Conflict

SUBJECT_TABLE = "consent_subject"
DATA_KEY_PURPOSE = "data-key"


class SubjectKeyUnavailable(Conflict):
    slug = "subject-key-unavailable"
    title = "The subject's data key can't be opened"


def subject_key_owner(subject_uuid: Any) -> str:
    return key_owner(SUBJECT_TABLE, subject_uuid, DATA_KEY_PURPOSE)


def new_subject_wrapped_key(subject_uuid: Any) -> bytes:
    """A fresh data key for the subject ``subject_uuid``, wrapped and bound to it (what is stored)."""
    return new_data_key(owner=subject_key_owner(subject_uuid))[1]


def subject_data_key(subject: Any) -> bytes:
    """The subject's data key in clear. :class:`CryptoError` when it was destroyed (erasure);
    :class:`SubjectKeyUnavailable` (409) when a key is there but does not open for this subject (a key copied
    from another row, or a master key that is no longer configured)."""
    if subject.wrapped_data_key is None:
        raise CryptoError("the data key was destroyed")
    try:
        return unwrap_data_key(subject.wrapped_data_key, owner=subject_key_owner(subject.uuid))
    except CryptoError as exc:
        raise SubjectKeyUnavailable(
            "This subject's data key does not open for this subject (it belongs to another row, or its master "
            "key is not configured); its personal data can't be read or written."
        ) from exc
