"""The provenance panel of the admin dashboard (registered in ``ProvenanceConfig.ready``): open provenance alerts
and dead-lettered deliveries of the organizations the signed-in user may see, one count query each."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from core.dashboard import DashboardItem, DashboardPanel, count_text, scoped
from provenance.enums import AlertStatus, DeliveryStatus
from provenance.models import Delivery, ProvenanceAlert


def provenance_dashboard_panel(request: HttpRequest) -> DashboardPanel | None:
    user = request.user
    items: list[DashboardItem] = []
    if user.has_perm("provenance.view_provenancealert"):
        alerts = scoped(ProvenanceAlert.objects.filter(status=AlertStatus.OPEN), request).count()
        items.append(
            DashboardItem(
                label="open alerts",
                value=count_text(alerts),
                url=f"{reverse('admin:provenance_provenancealert_changelist')}?status__exact={AlertStatus.OPEN}",
                level="danger" if alerts else "ok",
            )
        )
    if user.has_perm("provenance.view_delivery"):
        dead = scoped(Delivery.objects.filter(status=DeliveryStatus.DEAD), request).count()
        items.append(
            DashboardItem(
                label="dead-lettered deliveries",
                value=count_text(dead),
                url=f"{reverse('admin:provenance_delivery_changelist')}?status__exact={DeliveryStatus.DEAD}",
                level="danger" if dead else "ok",
            )
        )
    return DashboardPanel(title="Provenance", items=items) if items else None
