"""Subjects: erasure by crypto-shredding, and suppression so an erased person is not imported again."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from consent.catalog import catalog_changed
from consent.enums import SuppressionKind
from consent.models import Subject, SuppressedIdentifier
from core.crypto import blind_index, normalize_email
from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log

logger = logging.getLogger("consent.services")
# --------------------------------------------------------------------------------------------
# Erasure
# --------------------------------------------------------------------------------------------


def subject_erase(*, subject: Subject, actor: str) -> Subject:
    """Crypto-shred a subject: destroy its data key so every sealed value (email, evidence) is
    unreadable everywhere, while the ledger's hashes, which cover only ciphertext, still verify."""
    with transaction.atomic():
        updated = Subject.objects.filter(pk=subject.pk, data_key_destroyed_at__isnull=True).update(
            wrapped_data_key=None, data_key_destroyed_at=timezone.now(), email_sealed="", email_index=""
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


def suppression_index(kind: str, value: str) -> str:
    """The blind index a suppressed identifier is kept and looked up by."""
    normalized = normalize_email(value) if kind == SuppressionKind.EMAIL else value
    return blind_index(normalized, namespace=f"suppression:{kind}")


def subject_suppress(*, organization: Organization, identifiers: dict[str, list[str]], actor: str) -> int:
    """Keep an erased person from being imported again: store the keyed hashes of their identifiers
    (``{"external_id": [...], "email": [...]}``). Idempotent; returns how many were new."""
    rows = [
        SuppressedIdentifier(organization=organization, kind=kind, identifier_index=suppression_index(kind, value))
        for kind, values in sorted(identifiers.items())
        for value in sorted(set(values))
        if value
    ]
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
