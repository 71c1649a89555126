"""The consent app's keys and keyed indexes, registered with ``core.key_custody`` so ``manage.py rewrap_keys``
and ``manage.py reindex_blind_indexes`` reach them."""

from __future__ import annotations

from typing import Any

from consent.models import PreferenceLink, Subject, SuppressedIdentifier
from consent.subject_ids import email_index, preference_link_email_context, preference_link_key_owner
from consent.subject_keys import DATA_KEY_PURPOSE, subject_key_owner
from core.crypto import unseal, unwrap_data_key
from core.key_custody import (
    BlindIndexColumn,
    WrappedKeyColumn,
    register_blind_index_column,
    register_wrapped_key_column,
)


def subject_email_index(subject: Any) -> dict[str, str] | None:
    """The subject's email index under the current key, or None when there is no email or it was erased."""
    if not subject.email_sealed or subject.wrapped_data_key is None:
        return None
    data_key = unwrap_data_key(subject.wrapped_data_key, owner=subject_key_owner(subject.uuid))
    email = unseal(data_key, subject.email_sealed, context=f"email:{subject.uuid}")
    return {"email_index": email_index(subject.organization_id, email)}


def preference_link_email_index(link: Any) -> dict[str, str] | None:
    data_key = unwrap_data_key(bytes(link.wrapped_data_key), owner=preference_link_key_owner(link.public_id))
    email = unseal(data_key, link.email_sealed, context=preference_link_email_context(link.public_id))
    return {"email_index": email_index(link.organization_id, email)}


def suppressed_identifier_index(row: Any) -> dict[str, str] | None:
    """Only keyed hashes are kept: a suppression entry can't be re-indexed; it keeps matching through the
    previous blind-index keys (PROVENANT_PREVIOUS_BLIND_INDEX_KEYS) and the untenanted form."""
    return None


def register_consent_custody() -> None:
    register_wrapped_key_column(
        WrappedKeyColumn(model=Subject, field="wrapped_data_key", purpose=DATA_KEY_PURPOSE, owner_field="uuid")
    )
    register_blind_index_column(BlindIndexColumn(model=Subject, fields=("email_index",), recompute=subject_email_index))
    register_wrapped_key_column(
        WrappedKeyColumn(
            model=PreferenceLink, field="wrapped_data_key", purpose=DATA_KEY_PURPOSE, owner_field="public_id"
        )
    )
    register_blind_index_column(
        BlindIndexColumn(model=PreferenceLink, fields=("email_index",), recompute=preference_link_email_index)
    )
    register_blind_index_column(
        BlindIndexColumn(
            model=SuppressedIdentifier,
            fields=("identifier_index", "skeleton_index"),
            recompute=suppressed_identifier_index,
        )
    )
