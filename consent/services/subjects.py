"""Subjects: erasure by crypto-shredding."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from consent.models import (
    Subject,
)
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
                action="subject.erased",
                object_type="subject",
                object_id=subject.pk,
                organization=subject.organization,
                data={"subject_uuid": str(subject.uuid)},
            )
    subject.refresh_from_db()
    return subject
