"""An organization's deadline calendar and time zone, set by the legal team (written by the service, audited)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from core.admin import OrganizationScopedAdmin, ServiceModelAdmin, admin_actor
from dsar.deadlines import calendar_time_zone, time_zone_calendar
from dsar.models import DeadlineSettings
from dsar.services import deadline_settings_update


@admin.register(DeadlineSettings)
class DeadlineSettingsAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    list_display = ("organization", "calendar", "time_zone", "implied", "updated_at")
    list_select_related = ("organization",)
    search_fields = ("organization__slug", "organization__name")
    fields = ("organization", "calendar", "time_zone", "implied", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organization", "implied", "updated_at") if obj is not None else ("implied", "updated_at")

    @admin.display(description="Implied by the other setting")
    def implied(self, obj: DeadlineSettings) -> str:
        if obj is None or obj.pk is None:
            return "-"
        parts = []
        if obj.calendar and not obj.time_zone:
            parts.append(f"time zone {calendar_time_zone(obj.calendar) or 'none: set one'}")
        if obj.time_zone and not obj.calendar:
            parts.append(f"calendar {time_zone_calendar(obj.time_zone) or 'none: set one'}")
        return "; ".join(parts) or "-"

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        return deadline_settings_update(
            organization=form.cleaned_data["organization"],
            calendar=form.cleaned_data.get("calendar") or "",
            time_zone=form.cleaned_data.get("time_zone") or "",
            actor=admin_actor(request),
        )

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        return deadline_settings_update(
            organization=obj.organization,
            calendar=form.cleaned_data.get("calendar") or "",
            time_zone=form.cleaned_data.get("time_zone") or "",
            actor=admin_actor(request),
        )
