"""The admin index's dashboard: panels that apps register (in ``AppConfig.ready``) and core renders, so core
shows DSAR deadlines, provenance alerts and ledger runs without importing those apps (layers point down).

A panel is a function of the request that answers what the signed-in user may see (their organization scope and
view permissions) in a few aggregate queries, or None when they may see nothing of it. Each figure links to the
filtered admin list it counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from django.db.models import QuerySet
from django.http import HttpRequest

from core.selectors import staff_organization_ids

Level = Literal["ok", "info", "warning", "danger"]
LEVELS: Final = ("ok", "info", "warning", "danger")


@dataclass(frozen=True)
class DashboardItem:
    """One figure: a count (or a short value) with what it counts, the list it links to, and how urgent it is."""

    label: str
    value: str
    url: str = ""
    level: Level = "info"
    detail: str = ""


@dataclass(frozen=True)
class DashboardBanner:
    """A message above the panels until someone acts on it (e.g. an organization with no legal contact)."""

    message: str
    url: str = ""
    link_text: str = ""
    level: Level = "warning"


@dataclass(frozen=True)
class DashboardPanel:
    title: str
    items: list[DashboardItem] = field(default_factory=list)
    banners: list[DashboardBanner] = field(default_factory=list)


PanelFunction = Callable[[HttpRequest], DashboardPanel | None]

_PANELS: dict[str, tuple[int, PanelFunction]] = {}


def register_panel(key: str, function: PanelFunction, *, order: int = 100) -> None:
    """Add (or replace: ``ready`` may run twice in tests) the panel ``key``; panels show by ``order``, then key."""
    _PANELS[key] = (order, function)


def registered_panels() -> list[str]:
    return [key for key, _ in sorted(_PANELS.items(), key=lambda item: (item[1][0], item[0]))]


def dashboard_for(request: HttpRequest) -> list[DashboardPanel]:
    """The panels the signed-in user may see, in order (none for a user who is not staff)."""
    if not getattr(request.user, "is_staff", False) or not request.user.is_active:
        return []
    panels = []
    for key in registered_panels():
        panel = _PANELS[key][1](request)
        if panel is not None:
            panels.append(panel)
    return panels


def scoped(queryset: QuerySet[Any], request: HttpRequest, lookup: str = "organization") -> QuerySet[Any]:
    """``queryset`` limited to the organizations the staff user may see (as ``OrganizationScopedAdmin`` does)."""
    ids = staff_organization_ids(request.user)
    return queryset if ids is None else queryset.filter(**{f"{lookup}__in": ids})


def count_text(count: int) -> str:
    return f"{count:,}"


def age_text(seconds: float) -> str:
    """How long ago, in the largest whole unit: "just now", "5 minutes ago", "3 hours ago", "2 days ago"."""
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            amount = seconds // size
            return f"{amount} {unit}{'s' if amount != 1 else ''} ago"
    return "just now"
