"""Erasure reaches provenance's own records (GDPR Art. 17): stamp records, deliveries, consent notices and alerts
keep the subject's id as the caller sent it (which can be an email address); once the subject is erased they carry
its erased id instead, so no list, detail or export of them still names the person."""

from __future__ import annotations

from django.db import transaction

from consent.models import Subject
from core.models import Organization
from provenance.models import ConsentNotice, Delivery, ProvenanceAlert, StampRecord


def provenance_subject_forget(*, organization: Organization, original_external_id: str, erased: Subject) -> int:
    """Replace ``original_external_id`` by the erased subject's id in every provenance record of the organization;
    returns how many rows changed (0 on a rerun)."""
    if not original_external_id or original_external_id == erased.external_id:
        return 0
    changed = 0
    with transaction.atomic():
        for model in (StampRecord, Delivery, ConsentNotice, ProvenanceAlert):
            changed += model.objects.filter(organization=organization, subject_external_id=original_external_id).update(
                subject_external_id=erased.external_id
            )
    return changed
