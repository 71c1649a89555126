"""Sources, purposes and policy versions: each change is audited and bumps the catalog version."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import IntegrityError, transaction

from consent.catalog import catalog_changed
from consent.enums import SourceKind
from consent.models import (
    PolicyVersion,
    Purpose,
    Source,
)
from core.enums import AuditAction
from core.models import Organization
from core.problems import Conflict, InvalidInput, full_clean_or_invalid
from core.services import audit_log
from core.timeutil import parse_iso_duration

logger = logging.getLogger("consent.services")
# --------------------------------------------------------------------------------------------
# Catalog: sources, purposes, policy versions
# --------------------------------------------------------------------------------------------


def _save_with_audit(
    *,
    instance: Any,
    organization: Organization,
    actor: str,
    action: AuditAction,
    object_type: str,
    data: dict[str, Any],
) -> None:
    full_clean_or_invalid(instance)
    try:
        with transaction.atomic():
            instance.save()
            catalog_changed(organization)
            audit_log(
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=instance.pk,
                organization=organization,
                data=data,
            )
    except IntegrityError as exc:
        raise Conflict(f"A {object_type.replace('_', ' ')} with this key already exists.") from exc


def source_create(*, organization: Organization, actor: str, **values: Any) -> Source:
    if values.get("kind") == SourceKind.SYSTEM:
        raise InvalidInput("The 'system' kind is reserved for built-in sources.")
    source = Source(organization=organization, **values)
    _check_unique_key(Source, organization, source.key)
    _save_with_audit(
        instance=source,
        organization=organization,
        actor=actor,
        action=AuditAction.SOURCE_CREATED,
        object_type="source",
        data={"key": source.key},
    )
    return source


def source_update(*, source: Source, actor: str, **values: Any) -> Source:
    if source.is_builtin:
        raise Conflict("Built-in sources cannot be changed.")
    values.pop("key", None)  # the key is carried in every event and hash: it never changes
    if values.get("kind") == SourceKind.SYSTEM:
        raise InvalidInput("The 'system' kind is reserved for built-in sources.")
    for name, value in values.items():
        setattr(source, name, value)
    _save_with_audit(
        instance=source,
        organization=source.organization,
        actor=actor,
        action=AuditAction.SOURCE_UPDATED,
        object_type="source",
        data={"key": source.key, "fields": sorted(values)},
    )
    return source


def source_retire(*, source: Source, actor: str) -> Source:
    """Sources referenced by the ledger are never deleted; retiring refuses new events from them."""
    if source.is_builtin:
        raise Conflict("Built-in sources cannot be retired.")
    source.is_active = False
    _save_with_audit(
        instance=source,
        organization=source.organization,
        actor=actor,
        action=AuditAction.SOURCE_RETIRED,
        object_type="source",
        data={"key": source.key},
    )
    return source


def purpose_create(*, organization: Organization, actor: str, **values: Any) -> Purpose:
    purpose = Purpose(organization=organization, **values)
    _check_validity(purpose.validity)
    _check_unique_key(Purpose, organization, purpose.key)
    _save_with_audit(
        instance=purpose,
        organization=organization,
        actor=actor,
        action=AuditAction.PURPOSE_CREATED,
        object_type="purpose",
        data={"key": purpose.key},
    )
    return purpose


def purpose_update(*, purpose: Purpose, actor: str, **values: Any) -> Purpose:
    values.pop("key", None)
    if "validity" in values:
        _check_validity(values["validity"])
    for name, value in values.items():
        setattr(purpose, name, value)
    _save_with_audit(
        instance=purpose,
        organization=purpose.organization,
        actor=actor,
        action=AuditAction.PURPOSE_UPDATED,
        object_type="purpose",
        data={"key": purpose.key, "fields": sorted(values)},
    )
    return purpose


def policy_version_create(*, purpose: Purpose, actor: str, **values: Any) -> PolicyVersion:
    version = PolicyVersion(organization=purpose.organization, purpose=purpose, **values)
    _check_notice_text(version)
    if PolicyVersion.objects.filter(purpose=purpose, version=version.version).exists():
        raise Conflict(f"Policy version '{version.version}' of '{purpose.key}' already exists.")
    _save_with_audit(
        instance=version,
        organization=purpose.organization,
        actor=actor,
        action=AuditAction.POLICY_VERSION_CREATED,
        object_type="policy_version",
        data={"purpose": purpose.key, "version": version.version, "is_material": version.is_material},
    )
    return version


def _check_notice_text(version: PolicyVersion) -> None:
    """The notice text, when given, is the text the version's hash pins: what the privacy center shows is provably
    what consent was given to."""
    if version.notice_text and hashlib.sha256(version.notice_text.encode()).hexdigest() != version.notice_sha256:
        detail = "notice_text does not hash (SHA-256 of its UTF-8 bytes) to notice_sha256"
        raise InvalidInput(detail, errors=[{"pointer": "/notice_text", "detail": detail}])


def _check_validity(validity: str | None) -> None:
    if validity:
        try:
            parse_iso_duration(validity)
        except ValueError as exc:
            raise InvalidInput(str(exc), errors=[{"pointer": "/validity", "detail": str(exc)}]) from exc


def _check_unique_key(model: type[Source] | type[Purpose], organization: Organization, key: str) -> None:
    if model.objects.filter(organization=organization, key=key).exists():
        raise Conflict(f"A {model.__name__.lower()} with key '{key}' already exists.", key=key)
