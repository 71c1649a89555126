"""An organization's legal contacts (who the deadline digest and the overdue escalation go to), kept by the legal
team: added, changed and removed through the services (audited), limited to the organizations the staff user may
see, each change needing its own permission."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from core.admin import OrganizationScopedAdmin, ServiceModelAdmin, admin_actor
from dsar.models import DsarLegalContact
from dsar.services import legal_contact_create, legal_contact_delete, legal_contact_update


@admin.register(DsarLegalContact)
class LegalContactAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    list_display = ("email", "name", "organization", "receives", "updated_at")
    list_filter = ("organization", "receives")
    list_select_related = ("organization",)
    search_fields = ("=email", "name", "organization__slug", "organization__name")
    ordering = ("organization__name", "email")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = ("organization", "email", "name", "receives")
        return fields if obj is None else (*fields, "public_id", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else ("organization", "public_id", "created_at", "updated_at")

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return legal_contact_create(
            organization=data["organization"],
            email=data["email"],
            name=data.get("name") or "",
            receives=data["receives"],
            actor=admin_actor(request),
        )

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        current = DsarLegalContact.objects.get(pk=obj.pk)  # the form already wrote its values onto ``obj``
        return legal_contact_update(
            contact=current,
            email=data["email"],
            name=data.get("name") or "",
            receives=data["receives"],
            actor=admin_actor(request),
        )

    # Removing a contact (someone who left) is offered, unlike the other service-written rows; through the service.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        legal_contact_delete(contact=obj, actor=admin_actor(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for contact in queryset:
            legal_contact_delete(contact=contact, actor=admin_actor(request))
