"""Subject chain locks: every writer to a subject's hash chain (recording, GPC, links) takes its lock first.

The locks are transaction-scoped advisory locks taken in one global order (ascending key), before any row is read
or inserted, so concurrent writers over overlapping subjects queue instead of deadlocking, even while they create
the same new subjects. They travel in the same round trip as the read of the rows (issue #16): PostgreSQL runs the
statements of one query string in turn, each with a snapshot taken after the one before finished. (Row locks for
existing subjects beside advisory locks for new ones were tried and deadlocked: one writer held a subject's row
lock and waited for another's advisory lock, while the other, which had found that subject missing, held it and
waited for the row.)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.utils import timezone

from consent import ledger
from consent.models import Subject
from consent.services.validation import refuse_suppressed_ids
from consent.subject_ids import external_id_forms
from consent.subject_keys import new_subject_wrapped_key
from core.db import Statement, array_param, built, convert_rows, in_list, insert_rows, on_postgresql, select_many
from core.models import Organization

# Every concrete column (``core.db.built`` needs them all): a field added to Subject is read here too.
_SUBJECT_FIELDS = tuple(f.attname for f in Subject._meta.concrete_fields)


def subject_forms(organization: Organization, external_ids: Iterable[str]) -> dict[str, str]:
    """Every form the subjects asked for may be stored under (see ``external_id_forms``), each with the id asked
    for: a writer computes them once (keyed hashes) for its locks and its projection read."""
    return {form: x for x in external_ids for form in external_id_forms(organization.pk, x)}


def subjects_statement(
    organization: Organization, external_ids: list[str], forms: Mapping[str, str] | None = None
) -> tuple[Statement, dict[str, str]]:
    """The subjects by the external ids asked for (and the forms an erased subject carries), each row with the
    organization's current catalog version (read after the chain locks: see :func:`lock_chains`)."""
    asked = set(external_ids)
    asked_by_form = (
        {form: x for form, x in forms.items() if x in asked}
        if forms is not None
        else subject_forms(organization, external_ids)
    )
    version = f"(SELECT catalog_version FROM {Organization._meta.db_table} WHERE id = %s)"  # noqa: S608
    if on_postgresql():
        # Each form by the (organization, external id) key, whatever the statistics say (see
        # ``consent.services.projection``: a table grown since its last ANALYZE is read whole otherwise).
        placeholder, forms = array_param(sorted(asked_by_form))
        sql = (
            f"SELECT {', '.join(f'x.{name}' for name in _SUBJECT_FIELDS)}, {version} "  # noqa: S608
            f"FROM unnest({placeholder}) AS f(form) CROSS JOIN LATERAL (SELECT * FROM {Subject._meta.db_table} x0 "
            "WHERE x0.organization_id = %s AND x0.external_id = f.form LIMIT 1) x"
        )
        return (sql, [organization.pk, forms, organization.pk]), asked_by_form
    matches, params = in_list("external_id", sorted(asked_by_form))
    sql = (
        f"SELECT {', '.join(_SUBJECT_FIELDS)}, {version} "  # noqa: S608
        f"FROM {Subject._meta.db_table} WHERE organization_id = %s AND {matches}"
    )
    return (sql, [organization.pk, organization.pk, *params]), asked_by_form


def _subjects_from_rows(
    organization: Organization, rows: list[tuple[Any, ...]], asked_by_form: dict[str, str]
) -> dict[str, Subject]:
    """The subjects of ``rows``, by the external id asked for; an erased subject (which carries
    ``erased-<keyed hash>`` instead) is found by its original id, so its chain continues and no second subject
    is created. A newer catalog version than the caller's organization holds is taken over (see module doc)."""
    meta = Subject._meta
    converted = convert_rows([row[:-1] for row in rows], [meta.get_field(name) for name in _SUBJECT_FIELDS])
    subjects: dict[str, Subject] = {}
    for values, row in zip(converted, rows, strict=True):
        _take_catalog_version(organization, row[-1])
        subject = built(Subject, dict(zip(_SUBJECT_FIELDS, values, strict=True)))
        asked = asked_by_form[subject.external_id]
        if asked not in subjects or subject.external_id == asked:
            subjects[asked] = subject
    return subjects


def _take_catalog_version(organization: Organization, version: int | None) -> None:
    if version is not None and version != organization.catalog_version:
        organization.catalog_version = version


def chain_lock_key(organization_id: int, external_id: str) -> int:
    """The advisory lock key of one subject's hash chain (64 bits of a keyed BLAKE2b)."""
    digest = hashlib.blake2b(
        f"{organization_id}\x00{external_id}".encode(), digest_size=8, person=b"pvn-chain"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_subjects(organization: Organization, external_ids: set[str]) -> dict[str, Subject]:
    """Take the subjects' chain locks and read (creating when missing) their rows; see :func:`lock_chains`."""
    return lock_chains(organization, external_ids)[0]


def lock_chains(
    organization: Organization,
    external_ids: set[str],
    *,
    then: Sequence[Statement] = (),
    forms: Mapping[str, str] | None = None,
) -> tuple[dict[str, Subject], list[list[tuple[Any, ...]]]]:
    """Take the subjects' chain locks, read (creating when missing) their rows, then run the SELECTs ``then``
    (which see everything committed by earlier holders of the locks); returns the subjects by external id and
    the rows of each ``then`` statement. ``forms``: the ids' forms as :func:`subject_forms` gives them, when the
    caller has them already.

    On PostgreSQL the locks (one statement, ascending key order) the read of the rows and the ``then``
    statements go in one round trip: a single write takes its lock and reads its chain, its projection rows and
    its event ids at once. Subjects that do not exist yet are then created under the locks already held. SQLite
    serialises writers anyway.

    Each read also brings the organization's catalog version: a caller whose organization row is older (API
    keys are cached per process) gets the newer version set on it, and sees the change (see
    ``consent.services.appending``). A subject is never created for a suppressed identifier: that check runs
    against a catalog read for the version just seen.
    """
    if not external_ids:
        return {}, select_many(then) if then else []
    ordered = sorted(external_ids)
    statement, asked_by_form = subjects_statement(organization, ordered, forms)
    locks: list[Statement] = []
    if on_postgresql():
        keys_placeholder, keys = array_param(sorted({chain_lock_key(organization.pk, x) for x in ordered}))
        locks = [
            (f"SELECT count(pg_advisory_xact_lock(k)) FROM unnest({keys_placeholder}) AS k", [keys]),  # noqa: S608
            # The version after the locks, also when no subject exists yet (their rows bring it otherwise).
            (f"SELECT catalog_version FROM {Organization._meta.db_table} WHERE id = %s", [organization.pk]),  # noqa: S608
        ]
    results = select_many([*locks, statement, *then])
    if locks:
        _take_catalog_version(organization, results[1][0][0] if results[1] else None)
    results = results[len(locks) :]
    subjects = _subjects_from_rows(organization, results[0], asked_by_form)
    missing = [x for x in ordered if x not in subjects]
    if not missing:
        return subjects, results[1:]
    # No subject is ever created for a suppressed identifier (an erased person), whoever writes.
    refuse_suppressed_ids(organization, {x: "/subject_id" for x in missing})
    created_at = timezone.now()
    insert_rows(
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
        skip_conflicts=True,
    )
    statement, asked_by_form = subjects_statement(organization, missing, forms)
    results = select_many([statement, *then])
    subjects.update(_subjects_from_rows(organization, results[0], asked_by_form))
    return subjects, results[1:]
