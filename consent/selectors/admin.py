"""Reads behind the legal team's admin pages about Global Privacy Control."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from consent.models import CollectionMethod, ConsentEvent, GpcSignalReceipt, Subject
from consent.selectors.gpc import PrivacyStatus, privacy_status, subject_cluster_ids
from core.models import Organization

GPC_EVENTS_SHOWN = 50

GPC_HONORED = "yes"
GPC_NOT_HONORED = "no"
GPC_NOT_RECEIVED = "not_received"


@dataclass(frozen=True)
class SubjectGpc:
    """What the subject page shows about GPC: the subject's own receipt, the person's status across
    linked subjects, the opt-outs the signal wrote to this subject's ledger, and the linked subjects."""

    receipt: GpcSignalReceipt | None
    person: PrivacyStatus
    events: list[ConsentEvent]
    has_more_events: bool
    linked_subjects: list[Subject]
    honors_everywhere: bool


def subject_gpc(*, organization: Organization, subject: Subject) -> SubjectGpc:
    receipt = GpcSignalReceipt.objects.filter(organization=organization, subject=subject).first()
    events = list(
        ConsentEvent.objects.filter(
            organization=organization, subject=subject, collection_method=CollectionMethod.GPC_SIGNAL
        )
        .select_related("purpose")
        .order_by("chain_index")[: GPC_EVENTS_SHOWN + 1]
    )
    cluster = subject_cluster_ids(organization=organization, subject=subject)
    linked = list(
        Subject.objects.filter(organization=organization, pk__in=cluster)
        .exclude(pk=subject.pk)
        .select_related("gpc_receipt")
        .order_by("external_id")
    )
    return SubjectGpc(
        receipt=receipt,
        person=privacy_status(organization=organization, subject=subject),
        events=events[:GPC_EVENTS_SHOWN],
        has_more_events=len(events) > GPC_EVENTS_SHOWN,
        linked_subjects=linked,
        honors_everywhere=organization.honor_gpc_everywhere,
    )


def subjects_by_gpc_status(queryset: QuerySet[Subject], status: str | None) -> QuerySet[Subject]:
    """Narrow subjects to those whose GPC signal was honored, received but not honored, or never received."""
    if status == GPC_HONORED:
        return queryset.filter(gpc_receipt__is_honored=True)
    if status == GPC_NOT_HONORED:
        return queryset.filter(gpc_receipt__is_honored=False)
    if status == GPC_NOT_RECEIVED:
        return queryset.filter(gpc_receipt__isnull=True)
    return queryset
