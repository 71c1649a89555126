"""Subjects: erasure by crypto-shredding, and suppression so an erased person is not imported again."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from consent.catalog import catalog_changed
from consent.models import Subject, SuppressedIdentifier
from consent.selectors import subject_email
from consent.subject_ids import ERASED_PREFIX, erased_external_id, suppression_indexes
from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log

logger = logging.getLogger("consent.services")
# --------------------------------------------------------------------------------------------
# Erasure
# --------------------------------------------------------------------------------------------


def subject_erase(*, subject: Subject, actor: str) -> Subject:
    """Crypto-shred a subject: destroy its data key so every sealed value (email, evidence) is
    unreadable everywhere, while the ledger's hashes, which cover only ciphertext, still verify.

    The external id (which can be an email) is replaced by ``erased-<keyed hash>`` (the organization's blind
    index of it): the original survives nowhere, and whoever still holds it finds the erased row (so its chain
    continues and no second subject is created). Suppression (``subject_suppress``) keeps the person out."""
    with transaction.atomic():
        erased_id = (
            subject.external_id
            if subject.external_id.startswith(ERASED_PREFIX)
            else erased_external_id(subject.organization_id, subject.external_id)
        )
        updated = Subject.objects.filter(pk=subject.pk, data_key_destroyed_at__isnull=True).update(
            wrapped_data_key=None,
            data_key_destroyed_at=timezone.now(),
            email_sealed="",
            email_index="",
            external_id=erased_id,
        )
        if updated:
            audit_log(
                actor=actor,
                action=AuditAction.SUBJECT_ERASED,
                object_type="subject",
                object_id=subject.pk,
                organization=subject.organization,
                data={"subject_uuid": str(subject.uuid)},
            )
    subject.refresh_from_db()
    return subject


def subject_contact_reveal(*, subject: Subject, actor: str) -> str | None:
    """The subject's email in clear, for a staff member allowed to see it; each reveal is audited
    (``subject.contact_revealed``), whether or not an email is on record."""
    email = subject_email(subject)
    audit_log(
        actor=actor,
        action=AuditAction.SUBJECT_CONTACT_REVEALED,
        object_type="subject",
        object_id=subject.pk,
        organization=subject.organization,
        data={"subject_uuid": str(subject.uuid), "found": email is not None},
    )
    return email


def suppression_index(kind: str, value: str, *, organization: Organization) -> str:
    """The blind index (keyed per organization) a suppressed identifier is kept by."""
    return suppression_indexes(kind, value, organization_id=organization.pk)[0]


def subject_suppress(*, organization: Organization, identifiers: dict[str, list[str]], actor: str) -> int:
    """Keep an erased person from being imported again: store the keyed hashes of their identifiers
    (``{"external_id": [...], "email": [...]}``) and of their skeletons (every variant that looks the same).
    Idempotent; returns how many were new."""
    rows = []
    for kind, values in sorted(identifiers.items()):
        for value in sorted(set(values)):
            if not value:
                continue
            exact, skeleton = suppression_indexes(kind, value, organization_id=organization.pk)
            rows.append(
                SuppressedIdentifier(
                    organization=organization, kind=kind, identifier_index=exact, skeleton_index=skeleton
                )
            )
    with transaction.atomic():
        before = SuppressedIdentifier.objects.filter(organization=organization).count()
        SuppressedIdentifier.objects.bulk_create(rows, ignore_conflicts=True)
        added = SuppressedIdentifier.objects.filter(organization=organization).count() - before
        if added:
            catalog_changed(organization)  # every process refreshes its cached suppression list
            audit_log(
                actor=actor,
                action=AuditAction.SUBJECT_SUPPRESSED,
                object_type="organization",
                object_id=organization.pk,
                organization=organization,
                data={"identifiers": added},
            )
    return added
