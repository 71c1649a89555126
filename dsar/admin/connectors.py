"""Admin for DSAR connectors: registered (the secret is shown once, on the page that answers the creating POST)
and edited (name, URL, switched off or on) through the connector services, each change audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.admin import OrganizationScopedAdmin, ServiceModelAdmin, admin_actor
from dsar.models import Connector
from dsar.services import connector_create, connector_update

CREATED_TEMPLATE = "admin/dsar/connector/created.html"


@admin.register(Connector)
class ConnectorAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Staff limited to some organizations see and register only theirs. The key names the connector's file in
    exports and is fixed once registered; the secret is never shown again after registration."""

    list_display = ("key", "name", "organization", "url", "is_active", "updated_at")
    list_filter = ("is_active", "organization")
    list_select_related = ("organization",)
    search_fields = ("key", "name")
    add_fields = ("organization", "key", "name", "url")
    change_fields = ("organization", "public_id", "key", "name", "url", "is_active", "created_at", "updated_at")
    editable_fields = ("name", "url", "is_active")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.add_fields if obj is None else self.change_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        if not self.has_change_permission(request, obj):
            return self.change_fields
        return tuple(field for field in self.change_fields if field not in self.editable_fields)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        connector, secret = connector_create(
            organization=data["organization"],
            key=data["key"],
            name=data["name"],
            url=data["url"],
            actor=admin_actor(request),
        )
        messages.warning(
            request,
            f"Copy the connector's signing secret now: it is not stored in clear and is never shown again. {secret}",
        )
        return connector

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return connector_update(
            connector=obj,
            name=data["name"],
            url=data["url"],
            is_active=bool(data["is_active"]),
            actor=admin_actor(request),
        )

    def response_add(self, request: HttpRequest, obj: Connector, post_url_continue: str | None = None) -> HttpResponse:
        # Rendered in this response, not after a redirect: the secret message never reaches the message cookie.
        messages.success(request, f"The connector “{obj}” was registered.")
        response = TemplateResponse(
            request,
            CREATED_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Connector registered",
                "connector": obj,
            },
        )
        response["Cache-Control"] = "no-store"
        return response
