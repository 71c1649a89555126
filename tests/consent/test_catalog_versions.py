"""Which policy version an event is recorded under: the purpose's version in effect when it occurred
(``Catalog.current_version``, searched since issue #17, scanned before)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consent.catalog import Catalog
from consent.models import PolicyVersion, Purpose

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def version(pk: int, purpose: Purpose, label: str, effective_at: datetime) -> PolicyVersion:
    return PolicyVersion(pk=pk, purpose=purpose, version=label, effective_at=effective_at)


def catalog_of(*versions: PolicyVersion) -> Catalog:
    by_purpose: dict[int, list[PolicyVersion]] = {}
    for v in versions:
        by_purpose.setdefault(v.purpose_id, []).append(v)
    return Catalog(
        version=1,
        purposes={},
        sources={},
        versions={(v.purpose_id, v.version): v for v in versions},
        versions_by_purpose=by_purpose,
    )


def scanned(catalog: Catalog, purpose: Purpose, at: datetime) -> PolicyVersion | None:
    """The rule as written before: the latest (effective_at, id) among those in effect."""
    effective = [v for v in catalog.versions_by_purpose.get(purpose.pk, []) if v.effective_at <= at]
    return max(effective, key=lambda v: (v.effective_at, v.pk)) if effective else None


def test_the_version_in_effect_at_each_instant() -> None:
    email, analytics = Purpose(pk=1, key="email"), Purpose(pk=2, key="analytics")
    v1 = version(10, email, "v1", T0)
    v2 = version(12, email, "v2", T0 + timedelta(days=30))
    v2b = version(11, email, "v2b", T0 + timedelta(days=30))  # same instant, earlier row: v2 wins
    v3 = version(13, email, "v3", T0 + timedelta(days=60))
    other = version(20, analytics, "a1", T0 + timedelta(days=1))
    catalog = catalog_of(v3, v2, other, v1, v2b)  # in no particular order

    assert catalog.current_version(email, T0 - timedelta(microseconds=1)) is None
    assert catalog.current_version(email, T0) is v1
    assert catalog.current_version(email, T0 + timedelta(days=30) - timedelta(microseconds=1)) is v1
    assert catalog.current_version(email, T0 + timedelta(days=30)) is v2
    assert catalog.current_version(email, T0 + timedelta(days=59)) is v2
    assert catalog.current_version(email, T0 + timedelta(days=600)) is v3
    assert catalog.current_version(analytics, T0) is None
    assert catalog.current_version(analytics, T0 + timedelta(days=2)) is other
    assert catalog.current_version(Purpose(pk=3, key="none"), T0 + timedelta(days=2)) is None
    for day in range(-2, 70):
        for purpose in (email, analytics):
            at = T0 + timedelta(days=day, hours=12)
            assert catalog.current_version(purpose, at) is scanned(catalog, purpose, at)
