"""Who on an organization's legal team the deadline sweep writes to: added, changed and removed here, each in one
transaction with its audit row (the address itself is kept out of the audit data: the row names the contact)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from ulid import ULID

from core.enums import AuditAction
from core.models import Organization
from core.problems import Conflict, InvalidInput
from core.services import audit_log
from dsar.enums import LegalContactReceives
from dsar.models import DsarLegalContact


def _checked_email(email: str) -> str:
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            "The legal contact's email address is not valid.",
            errors=[{"pointer": "/email", "detail": "expected an email address, e.g. legal@example.com"}],
        ) from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _checked_receives(receives: str) -> str:
    if receives not in LegalContactReceives.values:
        raise InvalidInput(
            "A legal contact receives the digest, the escalation or both.",
            errors=[{"pointer": "/receives", "detail": f"one of {', '.join(LegalContactReceives.values)}"}],
        )
    return receives


def _snapshot(contact: DsarLegalContact) -> dict[str, str]:
    return {"name": contact.name, "receives": contact.receives}


def _duplicate() -> Conflict:
    return Conflict(
        "This organization already has a legal contact with this email address.",
        errors=[{"pointer": "/email", "detail": "already a legal contact"}],
    )


def legal_contact_create(
    *, organization: Organization, email: str, name: str = "", receives: str = LegalContactReceives.BOTH, actor: str
) -> DsarLegalContact:
    """Add a legal contact to the organization; 409 when the address is already one of its contacts."""
    contact = DsarLegalContact(
        organization=organization,
        public_id=str(ULID()),
        email=_checked_email(email),
        name=name.strip()[:200],
        receives=_checked_receives(receives),
    )
    try:
        with transaction.atomic():
            contact.save()
            audit_log(
                actor=actor,
                action=AuditAction.DSAR_LEGAL_CONTACT_ADDED,
                object_type="legal_contact",
                object_id=contact.public_id,
                organization=organization,
                data={"after": _snapshot(contact)},
            )
    except IntegrityError:
        raise _duplicate() from None
    return contact


def legal_contact_update(
    *,
    contact: DsarLegalContact,
    actor: str,
    email: str | None = None,
    name: str | None = None,
    receives: str | None = None,
) -> DsarLegalContact:
    """Change a contact's address, name or what it receives (None leaves a field as it is). Nothing is written or
    audited when nothing changes."""
    changes: dict[str, str] = {}
    if email is not None and _checked_email(email) != contact.email:
        changes["email"] = _checked_email(email)
    if name is not None and name.strip()[:200] != contact.name:
        changes["name"] = name.strip()[:200]
    if receives is not None and _checked_receives(receives) != contact.receives:
        changes["receives"] = receives
    if not changes:
        return contact
    before = _snapshot(contact)
    try:
        with transaction.atomic():
            locked = DsarLegalContact.objects.select_for_update().get(pk=contact.pk)
            for field, value in changes.items():
                setattr(locked, field, value)
            locked.updated_at = timezone.now()
            locked.save(update_fields=[*changes, "updated_at"])
            audit_log(
                actor=actor,
                action=AuditAction.DSAR_LEGAL_CONTACT_CHANGED,
                object_type="legal_contact",
                object_id=locked.public_id,
                organization=locked.organization,
                data={"before": before, "after": _snapshot(locked), "email_changed": "email" in changes},
            )
    except IntegrityError:
        raise _duplicate() from None
    return locked


def legal_contact_delete(*, contact: DsarLegalContact, actor: str) -> None:
    """Remove a legal contact. With none left, the organization's deadline mail goes to its DSAR operators and the
    deployment's ADMINS, and the admin index shows a banner."""
    with transaction.atomic():
        deleted, _ = DsarLegalContact.objects.filter(pk=contact.pk).delete()
        if deleted:
            audit_log(
                actor=actor,
                action=AuditAction.DSAR_LEGAL_CONTACT_REMOVED,
                object_type="legal_contact",
                object_id=contact.public_id,
                organization=contact.organization,
                data={"before": _snapshot(contact)},
            )
