"""What a subject's identifiers are indexed by: the keyed hashes (blind indexes) of emails and suppressed
identifiers, and the id an erased subject carries. No ORM.

Every index is keyed per organization (``tenant=str(organization_id)``): the same email gives unrelated
indexes in two tenants. Look-ups try :func:`core.crypto.blind_index_candidates` (the current key, each
previous blind-index key, and the untenanted form written before indexes were keyed per organization), so
nothing stored earlier is lost before ``manage.py reindex_blind_indexes`` runs.
"""

from __future__ import annotations

from core.crypto import blind_index, blind_index_candidates, key_owner, normalize_email
from core.identifiers import IdentifierRefused, identifier_skeleton, normalized_identifier

EMAIL_NAMESPACE = "email"
ERASED_PREFIX = "erased-"
_ERASED_NAMESPACE = "erased-subject"


def tenant(organization_id: int) -> str:
    return str(organization_id)


def email_index(organization_id: int, email: str) -> str:
    """The index a subject's (already normalized) email is stored under."""
    return blind_index(email, namespace=EMAIL_NAMESPACE, tenant=tenant(organization_id))


def email_index_candidates(organization_id: int, email: str) -> list[str]:
    return blind_index_candidates(email, namespace=EMAIL_NAMESPACE, tenant=tenant(organization_id))


PREFERENCE_LINK_TABLE = "consent_preferencelink"
# A person the privacy center meets by email who is not a subject yet becomes one under this id: the prefix and
# the organization's keyed hash of the email (no PII in the id), so the same person always lands on the same row.
PRIVACY_CENTER_ID_PREFIX = "email-"


def privacy_center_external_id(organization_id: int, email: str) -> str:
    """The external id of the subject the privacy center creates for an (already normalized) email."""
    return PRIVACY_CENTER_ID_PREFIX + email_index(organization_id, email)


def preference_link_key_owner(public_id: str) -> str:
    return key_owner(PREFERENCE_LINK_TABLE, public_id, "data-key")


def preference_link_email_context(public_id: str) -> str:
    return f"preference-link:{public_id}:email"


def erased_external_id(organization_id: int, external_id: str) -> str:
    """The id an erased subject carries instead of its external id (which can be an email): ``erased-`` and
    the organization's keyed hash of it. Nobody can read the original back; whoever holds it finds the row."""
    return ERASED_PREFIX + blind_index(external_id, namespace=_ERASED_NAMESPACE, tenant=tenant(organization_id))


def external_id_forms(organization_id: int, external_id: str) -> list[str]:
    """``external_id`` and every id its subject may carry once erased (under each blind-index key)."""
    erased = blind_index_candidates(external_id, namespace=_ERASED_NAMESPACE, tenant=tenant(organization_id))
    return [external_id, *(ERASED_PREFIX + index for index in erased)]


def _as_given(kind: str, value: str) -> str:
    return normalize_email(value) if kind == "email" else value


def _normalized(kind: str, value: str) -> str:
    value = _as_given(kind, value)
    try:
        return normalized_identifier(value)
    except IdentifierRefused:
        return value  # kept as given: such an id is refused at intake anyway


def suppression_indexes(kind: str, value: str, *, organization_id: int) -> tuple[str, str]:
    """What a suppressed identifier is stored as: its exact index and the index of its skeleton (the same for
    every invisible-character or homoglyph variant of it, see :func:`core.identifiers.identifier_skeleton`)."""
    normalized = _normalized(kind, value)
    exact = blind_index(normalized, namespace=f"suppression:{kind}", tenant=tenant(organization_id))
    skeleton = blind_index(
        identifier_skeleton(normalized), namespace=f"suppression-skeleton:{kind}", tenant=tenant(organization_id)
    )
    return exact, skeleton


def suppression_candidates(kind: str, value: str, *, organization_id: int) -> tuple[list[str], list[str]]:
    """Every exact and skeleton index a suppressed ``value`` may be stored under (current and previous keys,
    tenanted and the legacy untenanted exact form)."""
    normalized = _normalized(kind, value)
    exact = blind_index_candidates(normalized, namespace=f"suppression:{kind}", tenant=tenant(organization_id))
    as_given = _as_given(kind, value)
    if normalized != as_given:
        # Rows written before identifiers were NFC-normalized hashed the value as sent.
        legacy = blind_index_candidates(as_given, namespace=f"suppression:{kind}", tenant=tenant(organization_id))
        exact += [index for index in legacy if index not in exact]
    skeleton = blind_index_candidates(
        identifier_skeleton(normalized), namespace=f"suppression-skeleton:{kind}", tenant=tenant(organization_id)
    )
    return exact, skeleton
