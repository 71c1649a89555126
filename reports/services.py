"""Writes of the reports app: client users and their membership."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.enums import AuditAction
from core.models import Organization
from core.problems import Conflict, InvalidInput
from core.services import audit_log
from reports.models import ClientMembership


def client_user_create(
    *, organization: Organization, username: str, email: str, password: str, actor: str
) -> ClientMembership:
    """A new, non-staff user who reads ``organization``'s report. The password must pass the validators."""
    User = get_user_model()
    try:
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as exc:
        errors = [{"pointer": "/password", "detail": message} for message in exc.messages]
        raise InvalidInput("The password is too weak.", errors=errors) from None
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(username=username, email=email, password=password)
        except IntegrityError as exc:
            raise Conflict(f"A user named '{username}' already exists.", username=username) from exc
        return _membership_create(
            organization=organization, user=user, actor=actor, action=AuditAction.CLIENT_USER_CREATED
        )


def client_membership_add(*, organization: Organization, user: Any, actor: str) -> ClientMembership:
    """Make an existing non-staff user a client of ``organization`` (a user belongs to one organization)."""
    if getattr(user, "is_staff", False):
        raise InvalidInput("Staff users cannot be client users.", errors=[{"pointer": "/user", "detail": "is staff"}])
    return _membership_create(
        organization=organization, user=user, actor=actor, action=AuditAction.CLIENT_MEMBERSHIP_CREATED
    )


def _membership_create(*, organization: Organization, user: Any, actor: str, action: AuditAction) -> ClientMembership:
    with transaction.atomic():
        try:
            with transaction.atomic():
                membership = ClientMembership.objects.create(user=user, organization=organization, created_by=actor)
        except IntegrityError as exc:
            raise Conflict("This user is already a client of an organization.", user_id=user.pk) from exc
        audit_log(
            actor=actor,
            action=action,
            object_type="client_membership",
            object_id=membership.pk,
            organization=organization,
            data={"user_id": user.pk},
        )
    return membership


def client_user_deactivate(*, membership: ClientMembership, actor: str) -> ClientMembership:
    """Revoke a client user's access: the account can no longer sign in (its sessions stop working too)."""
    user = membership.user
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        audit_log(
            actor=actor,
            action=AuditAction.CLIENT_USER_DEACTIVATED,
            object_type="client_membership",
            object_id=membership.pk,
            organization=membership.organization,
            data={"user_id": user.pk},
        )
    user.refresh_from_db(fields=["is_active"])
    return membership
