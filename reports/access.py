"""Who may read which organization's report (selectors)."""

from __future__ import annotations

from typing import Any

from core.models import Organization
from core.selectors import staff_organization_ids

VIEW_ANY_REPORT = "reports.view_any_report"


def can_view_any_report(user: Any) -> bool:
    """Legal staff: active staff users holding ``reports.view_any_report`` (superusers hold every permission)."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(VIEW_ANY_REPORT))


def client_organization(*, user: Any) -> Organization | None:
    """The organization a client user belongs to, or None (not signed in, inactive, staff or no membership)."""
    if not user.is_authenticated or not user.is_active or user.is_staff:
        return None
    return Organization.objects.filter(client_memberships__user=user).first()


def organization_for_report(*, user: Any, slug: str) -> Organization | None:
    """The organization whose report ``user`` asked for, or None when it does not exist *or* is not theirs,
    so that another organization's URLs cannot be told apart from unknown ones."""
    if can_view_any_report(user):
        # Staff limited to some organizations (core.StaffOrganizationScope) read only theirs.
        organizations = Organization.objects.filter(slug=slug)
        ids = staff_organization_ids(user)
        if ids is not None:
            organizations = organizations.filter(id__in=ids)
        return organizations.first()
    organization = client_organization(user=user)
    return organization if organization is not None and organization.slug == slug else None
