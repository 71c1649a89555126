"""Subject chain locks: every writer to a subject's hash chain (recording, GPC, links) takes its lock first.

The locks are taken in one global order, so concurrent writers over overlapping subjects queue instead of
deadlocking, and a subject that does not exist yet is created under its lock.
"""

from __future__ import annotations

import hashlib
import uuid
from functools import partial

from django.db import connection
from django.utils import timezone

from consent import ledger
from consent.models import Subject
from consent.services.validation import refuse_suppressed_ids
from consent.subject_ids import external_id_forms
from consent.subject_keys import new_subject_wrapped_key
from core.copy_rows import COPY_MIN_ROWS, copy_upsert
from core.db import in_list, insert_rows, select_rows
from core.models import Organization

_SUBJECT_FIELDS = (
    "id",
    "organization_id",
    "external_id",
    "uuid",
    "email_sealed",
    "email_index",
    "wrapped_data_key",
    "data_key_destroyed_at",
    "jurisdiction",
    "ledger_length",
    "ledger_head_hash",
    "created_at",
)


def _select_subjects(organization: Organization, external_ids: list[str]) -> dict[str, Subject]:
    """The subjects by the external id asked for; an erased subject (which carries ``erased-<keyed hash>``
    instead) is found by its original id, so its chain continues and no second subject is created."""
    meta = Subject._meta
    asked_by_form = {form: x for x in external_ids for form in external_id_forms(organization.pk, x)}
    matches, params = in_list("external_id", sorted(asked_by_form))
    rows = select_rows(
        f"SELECT {', '.join(_SUBJECT_FIELDS)} FROM {meta.db_table} "  # noqa: S608
        f"WHERE organization_id = %s AND {matches}",
        [organization.pk, *params],
        [meta.get_field(name) for name in _SUBJECT_FIELDS],
    )
    subjects: dict[str, Subject] = {}
    for row in rows:
        subject = Subject.from_db(connection.alias, _SUBJECT_FIELDS, row)
        asked = asked_by_form[subject.external_id]
        if asked not in subjects or subject.external_id == asked:
            subjects[asked] = subject
    return subjects


def chain_lock_key(organization_id: int, external_id: str) -> int:
    """The advisory lock key of one subject's hash chain (64 bits of a keyed BLAKE2b)."""
    digest = hashlib.blake2b(
        f"{organization_id}\x00{external_id}".encode(), digest_size=8, person=b"pvn-chain"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_subjects(organization: Organization, external_ids: set[str]) -> dict[str, Subject]:
    """Take the subjects' chain locks, then read (creating when missing) their rows.

    On PostgreSQL the locks are transaction-scoped advisory locks taken in one statement in
    ascending key order, before any row is read or inserted: every writer acquires in the same
    global order, so concurrent batches over overlapping subjects queue and never deadlock, even
    while they create the same new subjects. (Row locks cannot give that: a row created by another
    writer after our first read would be locked out of order.) SQLite serialises writers anyway.
    """
    if not external_ids:
        return {}
    ordered = sorted(external_ids)
    if connection.vendor == "postgresql":
        keys = sorted({chain_lock_key(organization.pk, x) for x in ordered})
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", [keys])
    subjects = _select_subjects(organization, ordered)
    missing = [x for x in ordered if x not in subjects]
    if missing:
        # No subject is ever created for a suppressed identifier (an erased person), whoever writes.
        refuse_suppressed_ids(organization, {x: "/subject_id" for x in missing})
        created_at = timezone.now()
        insert = copy_upsert if len(missing) >= COPY_MIN_ROWS else partial(insert_rows, skip_conflicts=True)
        insert(
            Subject,
            (
                "organization_id",
                "external_id",
                "uuid",
                "email_sealed",
                "email_index",
                "wrapped_data_key",
                "jurisdiction",
                "ledger_length",
                "ledger_head_hash",
                "created_at",
            ),
            [
                (organization.pk, x, u, "", "", new_subject_wrapped_key(u), "", 0, ledger.GENESIS_HASH, created_at)
                for x, u in ((x, uuid.uuid4()) for x in missing)
            ],
        )
        subjects.update(_select_subjects(organization, missing))
    return subjects
