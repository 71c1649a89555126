"""The ledger panel of the admin dashboard (registered in ``ConsentConfig.ready``): each organization's last ledger
verification that the signed-in user may see, read as one line: broken first (any organization whose last run found
a break), else the stalest (two queries)."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from consent.models import LedgerVerificationRun
from core.dashboard import DashboardItem, DashboardPanel, age_text
from core.models import Organization
from core.selectors import staff_organization_ids

# A ledger not verified for this long is worth a look (the beat verifies daily).
STALE_AFTER_SECONDS = 2 * 86400
LABEL = "last ledger verification"


def _latest_runs(request: HttpRequest) -> tuple[list[LedgerVerificationRun], int]:
    """Each visible organization's latest run (and the latest run over all organizations, for unscoped users), and
    how many visible organizations were never verified."""
    ids = staff_organization_ids(request.user)
    organizations = Organization.objects.all() if ids is None else Organization.objects.filter(pk__in=ids)
    latest = LedgerVerificationRun.objects.filter(organization=OuterRef("pk")).order_by("-verified_at", "-id")
    run_ids = list(organizations.annotate(latest=Subquery(latest.values("pk")[:1])).values_list("latest", flat=True))
    never = sum(1 for run_id in run_ids if run_id is None)
    if ids is None:
        whole = LedgerVerificationRun.objects.filter(organization__isnull=True).order_by("-verified_at", "-id").first()
        if whole is not None:  # a run over the whole ledger covers the organizations never verified on their own
            run_ids.append(whole.pk)
            never = 0
    runs = list(
        LedgerVerificationRun.objects.filter(pk__in=[run_id for run_id in run_ids if run_id is not None])
        .select_related("organization")
        .order_by("verified_at")
    )
    return runs, never


def consent_dashboard_panel(request: HttpRequest) -> DashboardPanel | None:
    if not request.user.has_perm("consent.view_ledgerverificationrun"):
        return None
    changelist = reverse("admin:consent_ledgerverificationrun_changelist")
    runs, never = _latest_runs(request)
    broken = [run for run in runs if not run.is_valid]
    if broken:
        names = ", ".join(run.organization.name if run.organization else "all organizations" for run in broken[:3])
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        item = DashboardItem(
            label=LABEL,
            value="BROKEN",
            url=f"{changelist}?is_valid__exact=0",
            level="danger",
            detail=f"{names}{more}",
        )
    elif not runs:
        item = DashboardItem(label=LABEL, value="never", url=changelist, level="warning")
    else:
        stalest = runs[0]
        age = (timezone.now() - stalest.verified_at).total_seconds()
        where = stalest.organization.name if stalest.organization else "all organizations"
        unverified = f"; {never} organization(s) never verified" if never else ""
        item = DashboardItem(
            label=LABEL,
            value="valid",
            url=reverse("admin:consent_ledgerverificationrun_change", args=[stalest.pk]),
            level="warning" if age > STALE_AFTER_SECONDS or never else "ok",
            detail=f"{age_text(age)} ({where}, {stalest.events_checked:,} events, {stalest.mode}){unverified}",
        )
    return DashboardPanel(title="Consent ledger", items=[item])
