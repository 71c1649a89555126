"""Reading ledger events in their canonical form in bulk: the one column list and row reader that verification, the
incremental check and the NDJSON export share.

Instants are read as text in the exact form :func:`consent.ledger.format_instant` gives (PostgreSQL formats them
with ``to_char``), so a full verification of a million events neither parses nor re-formats three datetimes an event;
:func:`consent.ledger.instant_text` takes either form, so SQLite (which hands back its own text) reads the same.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

from consent import ledger

INSTANT_FIELDS = ("occurred_at", "recorded_at", "valid_until")
_TEXT_PREFIX = "canonical_"


class InstantText(models.Func):
    """A timestamp as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (PostgreSQL); elsewhere the column's stored text."""

    output_field = models.CharField()

    def as_postgresql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            **extra,
        )

    def as_sqlite(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="%(expressions)s", **extra)


def canonical_columns(prefix: str = "") -> tuple[dict[str, InstantText], tuple[str, ...]]:
    """The annotations to add and the ``values_list`` columns to read, in :func:`canonical_event`'s order, for a
    queryset of events (``prefix=""``) or of rows pointing at one (``prefix="event__"``)."""
    annotations = {f"{_TEXT_PREFIX}{name}": InstantText(f"{prefix}{name}") for name in INSTANT_FIELDS}
    columns = (
        f"{prefix}event_id",
        f"{prefix}subject__uuid",
        f"{prefix}chain_index",
        f"{prefix}purpose__key",
        f"{prefix}action",
        f"{_TEXT_PREFIX}occurred_at",
        f"{_TEXT_PREFIX}recorded_at",
        f"{_TEXT_PREFIX}valid_until",
        f"{prefix}source__key",
        f"{prefix}collection_method",
        f"{prefix}policy_version__version",
        f"{prefix}jurisdiction",
        f"{prefix}gpc",
        f"{prefix}explicit_confirmation",
        f"{prefix}lifts_gpc_opt_out",
        f"{prefix}evidence_sealed",
        f"{prefix}supersedes__event_id",
        f"{prefix}prev_hash",
        f"{prefix}hash",
    )
    return annotations, columns


CANONICAL_COLUMN_COUNT = len(canonical_columns()[1])


def canonical_event(row: tuple[Any, ...]) -> dict[str, Any]:
    """One event's canonical fields with ``prev_hash`` and ``hash``, from a row of :func:`canonical_columns`."""
    (
        event_id,
        subject_uuid,
        chain_index,
        purpose,
        action,
        occurred_at,
        recorded_at,
        valid_until,
        source,
        method,
        version,
        jurisdiction,
        gpc,
        explicit_confirmation,
        lifts_gpc_opt_out,
        evidence,
        supersedes,
        prev_hash,
        event_hash,
    ) = row
    fields = ledger.canonical_fields(
        event_id=event_id,
        subject_uuid=str(subject_uuid),
        chain_index=chain_index,
        purpose=purpose,
        action=action,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        valid_until=valid_until,
        source=source,
        collection_method=method,
        policy_version=version,
        jurisdiction=jurisdiction,
        gpc=gpc,
        explicit_confirmation=explicit_confirmation,
        lifts_gpc_opt_out=lifts_gpc_opt_out,
        evidence_sealed=evidence,
        supersedes=supersedes,
    )
    return {**fields, "prev_hash": prev_hash, "hash": event_hash}
