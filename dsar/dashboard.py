"""The DSAR panel of the admin dashboard (registered in ``DsarConfig.ready``): the signed-in user's open requests
due within a week, overdue and assigned to them, in one aggregate query over what they may see; and a banner for
each organization they may see that has no legal contact (its deadline mail goes to the fallback)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from core.dashboard import DashboardBanner, DashboardItem, DashboardPanel, count_text, scoped
from core.selectors import organizations_visible_to
from dsar.enums import OPEN_STATUSES
from dsar.messages import DIGEST_DAYS
from dsar.models import DataSubjectRequest, RequestNotice
from dsar.selectors import organizations_without_legal_contact


def _requests_url(**params: str | int) -> str:
    return f"{reverse('admin:dsar_datasubjectrequest_changelist')}?{urlencode(params)}"


def dsar_dashboard_panel(request: HttpRequest) -> DashboardPanel | None:
    user = request.user
    sees_requests = user.has_perm("dsar.view_datasubjectrequest")
    sees_contacts = user.has_perm("dsar.view_dsarlegalcontact")
    if not (sees_requests or sees_contacts):
        return None
    items: list[DashboardItem] = []
    if sees_requests:
        today = timezone.localdate()
        week_end = today + timedelta(days=DIGEST_DAYS)
        figures = scoped(DataSubjectRequest.objects.filter(status__in=OPEN_STATUSES), request).aggregate(
            due=Count("pk", filter=Q(due_on__gte=today, due_on__lte=week_end)),
            overdue=Count("pk", filter=Q(due_on__lt=today)),
            mine=Count("pk", filter=Q(assignee_id=user.pk)),
        )
        open_statuses = ",".join(OPEN_STATUSES)
        items = [
            DashboardItem(
                label=f"due within {DIGEST_DAYS} days",
                value=count_text(figures["due"]),
                url=_requests_url(
                    due_on__gte=today.isoformat(), due_on__lte=week_end.isoformat(), status__in=open_statuses
                ),
                level="warning" if figures["due"] else "ok",
            ),
            DashboardItem(
                label="overdue",
                value=count_text(figures["overdue"]),
                url=_requests_url(overdue="yes"),
                level="danger" if figures["overdue"] else "ok",
            ),
            DashboardItem(
                label="open, assigned to me",
                value=count_text(figures["mine"]),
                url=_requests_url(assignee__id__exact=str(user.pk), status__in=open_statuses),
                level="info",
            ),
        ]
        # Deadline mail that reached nobody yet (no recipient, refused): the sweep retries it hourly.
        owed = scoped(
            RequestNotice.objects.filter(sent_at__isnull=True, kind__startswith="deadline."),
            request,
            "request__organization",
        ).count()
        if owed:
            items.append(
                DashboardItem(
                    label="deadline reminders not delivered yet",
                    value=count_text(owed),
                    url=f"{reverse('admin:core_auditlogentry_changelist')}?action__exact=dsar.deadline_mail_undelivered"
                    if user.has_perm("core.view_auditlogentry")
                    else "",
                    level="danger",
                    detail="retried by every sweep; see who they go to under Legal contacts",
                )
            )
    banners = []
    can_add = user.has_perm("dsar.add_dsarlegalcontact")
    for organization in organizations_without_legal_contact(organizations_visible_to(user)):
        add_url = f"{reverse('admin:dsar_dsarlegalcontact_add')}?{urlencode({'organization': organization.pk})}"
        banners.append(
            DashboardBanner(
                message=f"{organization.name} has no legal contact: its deadline digests and overdue escalations go "
                "to the DSAR operators and the deployment's administrators.",
                url=add_url if can_add else "",
                link_text="Add a legal contact" if can_add else "",
            )
        )
    return DashboardPanel(title="Data-subject requests", items=items, banners=banners)
