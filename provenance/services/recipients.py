"""Recipients: the downstream systems data is sent to. Every change is audited."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from django.db import IntegrityError, transaction

from consent.catalog import catalog_changed
from consent.models import Purpose
from core.enums import AuditAction
from core.models import Organization
from core.outbound import destination_url_problem
from core.problems import Conflict, InvalidInput, full_clean_or_invalid
from core.services import audit_log
from provenance.models import Recipient
from provenance.recipient_cache import forget

URL_FIELDS: Final = ("endpoint_url", "webhook_url")


def _purposes(organization: Organization, keys: list[str]) -> list[Purpose]:
    found = {p.key: p for p in Purpose.objects.filter(organization=organization, key__in=keys)}
    unknown = sorted(set(keys) - set(found))
    if unknown:
        raise InvalidInput(
            f"Unknown purposes: {', '.join(unknown)}.",
            errors=[{"pointer": "/purposes", "detail": f"unknown purpose '{key}'"} for key in unknown],
        )
    return list(found.values())


def _check_destinations(recipient: Recipient, fields: Collection[str]) -> None:
    """Refuse URLs Provenant must not POST to (core.outbound: http(s) only, and no local or private
    address unless PROVENANT_OUTBOUND_ALLOW_PRIVATE). Only the fields being set are checked."""
    errors = [
        {"pointer": f"/{field}", "detail": problem}
        for field in URL_FIELDS
        if field in fields
        and (url := getattr(recipient, field))
        and (problem := destination_url_problem(url)) is not None
    ]
    if errors:
        raise InvalidInput("The destination URL is refused; see errors.", errors=errors)


def _save(
    recipient: Recipient,
    purposes: list[Purpose] | None,
    *,
    actor: str,
    action: AuditAction,
    url_fields: Collection[str],
) -> Recipient:
    full_clean_or_invalid(recipient, exclude=["organization"])
    _check_destinations(recipient, url_fields)
    try:
        with transaction.atomic():
            recipient.save()
            if purposes is not None:
                recipient.purposes.set(purposes)
            catalog_changed(recipient.organization)
            forget(recipient.organization)
            audit_log(
                actor=actor,
                action=action,
                object_type="recipient",
                object_id=recipient.pk,
                organization=recipient.organization,
                data={"key": recipient.key},
            )
    except IntegrityError as exc:
        raise Conflict(f"A recipient with key '{recipient.key}' already exists.") from exc
    return recipient


def recipient_create(*, organization: Organization, actor: str, purposes: list[str], **values: Any) -> Recipient:
    if Recipient.objects.filter(organization=organization, key=values.get("key")).exists():
        raise Conflict(f"A recipient with key '{values.get('key')}' already exists.")
    recipient = Recipient(organization=organization, **values)
    return _save(
        recipient,
        _purposes(organization, purposes),
        actor=actor,
        action=AuditAction.RECIPIENT_CREATED,
        url_fields=URL_FIELDS,
    )


def recipient_update(
    *, recipient: Recipient, actor: str, purposes: list[str] | None = None, **values: Any
) -> Recipient:
    values.pop("key", None)
    for name, value in values.items():
        setattr(recipient, name, value)
    chosen = _purposes(recipient.organization, purposes) if purposes is not None else None
    return _save(recipient, chosen, actor=actor, action=AuditAction.RECIPIENT_UPDATED, url_fields=values.keys())
