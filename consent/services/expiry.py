"""The expiry sweep (run by the beat task): an ``expire`` event for every grant past its validity."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.utils import timezone

from consent.enums import OPT_IN_STATUSES, Action, CollectionMethod
from consent.models import ConsentState
from consent.services.builtin_sources import system_source
from consent.services.recording import consent_record_many
from consent.services.validation import ConsentEventInput
from core.models import Organization


def consent_expire_lapsed(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Write an ``expire`` event for every grant whose validity has run out. Idempotent: the
    idempotency key ``expire:<grant event id>`` makes a rerun (or a concurrent sweep) a no-op."""
    now = now or timezone.now()
    by_org: dict[int, list[ConsentState]] = defaultdict(list)
    budget = limit
    # Organization by organization: each read is a range of the state_expiry_sweep index (organization, status,
    # valid_until), never a scan of every organization's states.
    for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        if budget <= 0:
            break
        lapsed = list(
            ConsentState.objects.filter(
                organization_id=organization_id, status__in=sorted(OPT_IN_STATUSES), valid_until__lte=now
            )
            .select_related("organization", "subject", "purpose", "basis_event", "source")
            .order_by("valid_until")[:budget]
        )
        budget -= len(lapsed)
        if lapsed:
            by_org[organization_id] = lapsed
    written = 0
    for rows in by_org.values():
        organization = rows[0].organization
        source = system_source(organization)
        items = [
            ConsentEventInput(
                subject_id=row.subject.external_id,
                purpose=row.purpose.key,
                action=Action.EXPIRE,
                occurred_at=row.valid_until or now,
                source=source.key,
                collection_method=CollectionMethod.SYSTEM,
                jurisdiction=row.jurisdiction,
                policy_version=None,
                supersedes=row.basis_event.event_id,
                idempotency_key=f"expire:{row.basis_event.event_id}",
                request_digest=f"expire:{row.basis_event.event_id}",
            )
            for row in rows
        ]
        results = consent_record_many(organization=organization, items=items, allow_system_actions=True, now=now)
        written += sum(1 for r in results if not r.replayed)
    return written
