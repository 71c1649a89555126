"""The ledger panel of the admin dashboard (registered in ``ConsentConfig.ready``): the last ledger verification
the signed-in user may see, its result and age (one query)."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from consent.models import LedgerVerificationRun
from core.dashboard import DashboardItem, DashboardPanel, age_text, scoped

# A ledger not verified for this long is worth a look (the beat verifies daily).
STALE_AFTER_SECONDS = 2 * 86400


def consent_dashboard_panel(request: HttpRequest) -> DashboardPanel | None:
    if not request.user.has_perm("consent.view_ledgerverificationrun"):
        return None
    runs = LedgerVerificationRun.objects.select_related("organization").order_by("-verified_at", "-id")
    last = scoped(runs, request).first()
    changelist = reverse("admin:consent_ledgerverificationrun_changelist")
    if last is None:
        item = DashboardItem(label="last ledger verification", value="never", url=changelist, level="warning")
    else:
        age = (timezone.now() - last.verified_at).total_seconds()
        where = last.organization.name if last.organization else "all organizations"
        item = DashboardItem(
            label="last ledger verification",
            value="valid" if last.is_valid else "BROKEN",
            url=reverse("admin:consent_ledgerverificationrun_change", args=[last.pk]),
            level="danger" if not last.is_valid else "warning" if age > STALE_AFTER_SECONDS else "ok",
            detail=f"{age_text(age)} ({where}, {last.events_checked:,} events, {last.mode})",
        )
    return DashboardPanel(title="Consent ledger", items=[item])
