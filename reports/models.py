"""Client users: people of a client organization who read its compliance report."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.models import Organization


class ClientMembership(models.Model):
    """Makes a Django user a client of exactly one organization (one membership a user).

    Client users are never staff: they sign in at /reports/login/ and see only their organization's
    report. Legal staff open any organization's report through the ``view_any_report`` permission."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="client_membership")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="client_memberships")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.CharField(max_length=200, editable=False)

    class Meta:
        ordering = ["organization__slug", "user__username"]
        permissions = [("view_any_report", "Can open every organization's compliance report")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization.slug}"
