"""Reads of the catalog: sources, purposes and their policy versions, scoped by organization."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from consent.models import PolicyVersion, Purpose, Source
from core.models import Organization


def source_list(*, organization: Organization) -> QuerySet[Source]:
    return Source.objects.filter(organization=organization).order_by("key")


def source_by_key(*, organization: Organization, key: str) -> Source | None:
    return Source.objects.filter(organization=organization, key=key).first()


def purpose_list(*, organization: Organization) -> QuerySet[Purpose]:
    return Purpose.objects.filter(organization=organization).order_by("key")


def purpose_by_key(*, organization: Organization, key: str) -> Purpose | None:
    return Purpose.objects.filter(organization=organization, key=key).first()


def policy_version_list(*, purpose: Purpose) -> QuerySet[PolicyVersion]:
    return PolicyVersion.objects.filter(purpose=purpose).order_by("effective_at", "id")


def current_policy_versions(*, purposes: list[Purpose], at: datetime) -> dict[int, PolicyVersion]:
    """Each purpose's version in effect at ``at`` (latest effective_at not after it)."""
    current: dict[int, PolicyVersion] = {}
    for version in PolicyVersion.objects.filter(purpose__in=purposes, effective_at__lte=at).order_by(
        "effective_at", "id"
    ):
        current[version.purpose_id] = version
    return current
