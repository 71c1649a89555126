"""An organization's catalog (purposes, sources, policy versions), cached per process.

The ledger's hot path needs the catalog on every write; it changes rarely. Each catalog change
bumps ``Organization.catalog_version`` in the same transaction, and the organization row comes
fresh with every authenticated request, so a cached catalog is reused only while its version is
current. A key missing from a cached catalog triggers one reload, so a caller holding an older
organization instance still sees rows created since.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from django.db.models import F

from consent.models import PolicyVersion, Purpose, Source, SuppressedIdentifier
from core.models import Organization

_MAX_ORGANIZATIONS = 1024


@dataclass
class Catalog:
    version: int
    purposes: dict[str, Purpose]
    sources: dict[str, Source]
    versions: dict[tuple[int, str], PolicyVersion]
    versions_by_purpose: dict[int, list[PolicyVersion]] = field(default_factory=dict)
    suppressed: frozenset[tuple[str, str]] = frozenset()  # (kind, blind index) of erased people
    suppressed_skeletons: frozenset[tuple[str, str]] = frozenset()  # (kind, blind index of the skeleton)

    def current_version(self, purpose: Purpose, at: datetime) -> PolicyVersion | None:
        """The purpose's policy version in effect at ``at``: the last to take effect by then (of two taking effect at
        the same instant, the later row). A search, not a scan: it runs for every event written."""
        ordered, instants = self._in_effect_order.get(purpose.pk, ((), ()))
        found = bisect_right(instants, at)
        return ordered[found - 1] if found else None

    def material_effective_at(self, purpose: Purpose, at: datetime) -> datetime | None:
        """When the purpose's latest material version in effect at ``at`` took effect."""
        material = [
            v.effective_at
            for v in self.versions_by_purpose.get(purpose.pk, [])
            if v.is_material and v.effective_at <= at
        ]
        return max(material) if material else None

    def source_by_id(self, source_id: int) -> Source | None:
        return self._sources_by_id.get(source_id)

    def policy_version_by_id(self, version_id: int | None) -> PolicyVersion | None:
        return self._versions_by_id.get(version_id) if version_id is not None else None

    @cached_property
    def _sources_by_id(self) -> dict[int, Source]:
        return {s.pk: s for s in self.sources.values()}

    @cached_property
    def _in_effect_order(self) -> dict[int, tuple[tuple[PolicyVersion, ...], tuple[datetime, ...]]]:
        """Each purpose's versions by (effective_at, id), with their instants beside them for the search."""
        found = {}
        for purpose_pk, versions in self.versions_by_purpose.items():
            ordered = tuple(sorted(versions, key=lambda v: (v.effective_at, v.pk)))
            found[purpose_pk] = (ordered, tuple(v.effective_at for v in ordered))
        return found

    @cached_property
    def _versions_by_id(self) -> dict[int, PolicyVersion]:
        return {v.pk: v for v in self.versions.values()}

    def covers(self, purpose_keys: Iterable[str], source_keys: Iterable[str]) -> bool:
        return all(k in self.purposes for k in purpose_keys) and all(k in self.sources for k in source_keys)


_cache: dict[int, Catalog] = {}
_lock = threading.Lock()


def _load(organization: Organization) -> Catalog:
    purposes = {p.key: p for p in Purpose.objects.filter(organization=organization)}
    sources = {s.key: s for s in Source.objects.filter(organization=organization)}
    by_purpose: dict[int, list[PolicyVersion]] = defaultdict(list)
    versions: dict[tuple[int, str], PolicyVersion] = {}
    for version in PolicyVersion.objects.filter(organization=organization).order_by("effective_at", "id"):
        by_purpose[version.purpose_id].append(version)
        versions[(version.purpose_id, version.version)] = version
    rows = list(
        SuppressedIdentifier.objects.filter(organization=organization).values_list(
            "kind", "identifier_index", "skeleton_index"
        )
    )
    suppressed = frozenset((kind, index) for kind, index, _ in rows)
    skeletons = frozenset((kind, skeleton) for kind, _, skeleton in rows if skeleton)
    return Catalog(organization.catalog_version, purposes, sources, versions, dict(by_purpose), suppressed, skeletons)


def organization_catalog(
    organization: Organization, *, purpose_keys: Iterable[str] = (), source_keys: Iterable[str] = ()
) -> Catalog:
    purpose_keys, source_keys = list(purpose_keys), list(source_keys)
    cached = _cache.get(organization.pk)
    if (
        cached is not None
        and cached.version == organization.catalog_version
        and cached.covers(purpose_keys, source_keys)
    ):
        return cached
    catalog = _load(organization)
    with _lock:
        if len(_cache) >= _MAX_ORGANIZATIONS:
            _cache.clear()
        _cache[organization.pk] = catalog
    return catalog


def catalog_changed(organization: Organization) -> None:
    """Call inside the transaction of any catalog change."""
    Organization.objects.filter(pk=organization.pk).update(catalog_version=F("catalog_version") + 1)
    organization.refresh_from_db(fields=["catalog_version"])
    _cache.pop(organization.pk, None)
