"""``{% dashboard_panels as panels %}``: the admin index's panels for the signed-in user (core.dashboard)."""

from __future__ import annotations

from typing import Any

from django import template

from core.dashboard import DashboardPanel, dashboard_for

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard_panels(context: dict[str, Any]) -> list[DashboardPanel]:
    request = context.get("request")
    return dashboard_for(request) if request is not None else []
