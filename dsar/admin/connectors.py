"""Admin for DSAR connectors: read-only (connectors and their secrets are issued through a service)."""

from __future__ import annotations

from django.contrib import admin

from core.admin import OrganizationScopedAdmin, ReadOnlyModelAdmin
from dsar.models import Connector


@admin.register(Connector)
class ConnectorAdmin(OrganizationScopedAdmin, ReadOnlyModelAdmin):
    """Read-only: connectors and their secrets are issued through ``dsar.services.connector_create``. Staff
    limited to some organizations see only theirs."""

    list_display = ("key", "name", "organization", "url", "is_active", "updated_at")
    list_filter = ("is_active", "organization")
    search_fields = ("key", "name")
    readonly_fields = ("organization", "public_id", "key", "name", "url", "is_active", "created_at", "updated_at")
    exclude = ("secret_sealed",)
