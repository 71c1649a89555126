"""Where the service keeps keys and keyed indexes, so that keys can be rotated and retired.

Each app registers, in its ``AppConfig.ready``, the columns that hold a data key wrapped by the master
key (:class:`WrappedKeyColumn`) and the columns that hold a blind index (:class:`BlindIndexColumn`).
``manage.py rewrap_keys`` re-wraps every wrapped key under the current master key, bound to its owner,
after which a previous master key can be removed; ``manage.py reindex_blind_indexes`` recomputes every
blind index it can under the current blind-index key. Core knows the columns only through this registry.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models, transaction

from core.crypto import CryptoError, key_owner, master_keyring

BATCH = 500


@dataclass(frozen=True)
class WrappedKeyColumn:
    """``model.field`` holds a key wrapped by the master key; ``owner_field`` names the row to the key's
    owner binding (known before the row is saved, e.g. its uuid); ``encoding`` says how it is stored."""

    model: type[models.Model]
    field: str
    purpose: str
    owner_field: str = "uuid"
    encoding: Literal["bytes", "base64"] = "bytes"

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field}"

    def owner(self, row: Any) -> str:
        return key_owner(self.model._meta.db_table, getattr(row, self.owner_field), self.purpose)

    def owner_for(self, owner_value: object) -> str:
        return key_owner(self.model._meta.db_table, owner_value, self.purpose)

    def read(self, stored: Any) -> bytes | None:
        if stored is None or stored in (b"", ""):
            return None
        if self.encoding == "base64":
            return base64.b64decode(stored, validate=True)
        return bytes(stored)

    def write(self, wrapped: bytes) -> Any:
        return base64.b64encode(wrapped).decode() if self.encoding == "base64" else wrapped


@dataclass(frozen=True)
class BlindIndexColumn:
    """``model`` rows carry blind indexes in ``fields``; ``recompute(row)`` gives their values under the
    current key, or None when the plaintext is gone (an erased person: the row keeps matching through
    the previous keys, PROVENANT_PREVIOUS_BLIND_INDEX_KEYS)."""

    model: type[models.Model]
    fields: tuple[str, ...]
    recompute: Callable[[Any], dict[str, str] | None]
    related: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{'/'.join(self.fields)}"


_WRAPPED: list[WrappedKeyColumn] = []
_INDEXED: list[BlindIndexColumn] = []


def register_wrapped_key_column(column: WrappedKeyColumn) -> None:
    if column not in _WRAPPED:
        _WRAPPED.append(column)


def register_blind_index_column(column: BlindIndexColumn) -> None:
    if all(existing.label != column.label for existing in _INDEXED):
        _INDEXED.append(column)


def wrapped_key_columns() -> tuple[WrappedKeyColumn, ...]:
    return tuple(_WRAPPED)


def blind_index_columns() -> tuple[BlindIndexColumn, ...]:
    return tuple(_INDEXED)


@dataclass
class CustodyReport:
    label: str
    changed: int = 0
    current: int = 0
    empty: int = 0  # destroyed (crypto-shredded) keys, or rows whose plaintext is gone
    failed: list[str] = field(default_factory=list)  # row ids that could not be opened


def _pks(model: type[models.Model]) -> Iterator[list[Any]]:
    last: Any = None
    while True:
        queryset = model._default_manager.order_by("pk")
        if last is not None:
            queryset = queryset.filter(pk__gt=last)
        batch = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1]


def rewrap_column(column: WrappedKeyColumn, *, dry_run: bool = False) -> CustodyReport:
    """Re-wrap every key of ``column`` that a previous master key wrapped or that is not yet bound to its
    owner. Each batch is one transaction with its rows locked, so concurrent writers wait, never lose."""
    ring = master_keyring()
    report = CustodyReport(column.label)
    for pks in _pks(column.model):
        with transaction.atomic():
            rows = column.model._default_manager.select_for_update().filter(pk__in=pks).order_by("pk")
            for row in rows.only("pk", column.field, column.owner_field):
                wrapped = column.read(getattr(row, column.field))
                if wrapped is None:
                    report.empty += 1
                    continue
                if not ring.needs_rewrap(wrapped):
                    report.current += 1
                    continue
                try:
                    rewrapped = ring.rewrap(wrapped, owner=column.owner(row))
                except CryptoError:
                    report.failed.append(str(row.pk))
                    continue
                report.changed += 1
                if not dry_run:
                    column.model._default_manager.filter(pk=row.pk).update(**{column.field: column.write(rewrapped)})
    return report


def reindex_column(column: BlindIndexColumn, *, dry_run: bool = False) -> CustodyReport:
    """Recompute the blind indexes of ``column`` under the current key where the plaintext is still there."""
    report = CustodyReport(column.label)
    for pks in _pks(column.model):
        with transaction.atomic():
            rows = column.model._default_manager.select_for_update(of=("self",)).filter(pk__in=pks).order_by("pk")
            if column.related:
                rows = rows.select_related(*column.related)
            for row in rows:
                try:
                    values = column.recompute(row)
                except CryptoError:
                    report.failed.append(str(row.pk))
                    continue
                if values is None:
                    report.empty += 1
                    continue
                if all(getattr(row, name) == value for name, value in values.items()):
                    report.current += 1
                    continue
                report.changed += 1
                if not dry_run:
                    column.model._default_manager.filter(pk=row.pk).update(**values)
    return report
