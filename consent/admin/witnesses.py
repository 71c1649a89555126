"""Witnesses of an organization's ledger: where its signed checkpoints are pushed, and how each push went."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from consent.models import LedgerWitness, LedgerWitnessPush
from consent.services import witness_create, witness_update
from core.admin import OrganizationScopedAdmin, ReadOnlyModelAdmin, ServiceModelAdmin, admin_actor


@admin.register(LedgerWitness)
class LedgerWitnessAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    list_display = ("name", "organization", "url", "is_active", "created_at")
    list_filter = ("organization", "is_active")
    list_select_related = ("organization",)
    search_fields = ("name", "url")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organization", "name", "url") if obj is None else ("organization", "name", "url", "is_active")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else ("organization",)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return witness_create(
            organization=data["organization"], name=data["name"], url=data["url"], actor=admin_actor(request)
        )

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return witness_update(
            witness=obj, name=data["name"], url=data["url"], is_active=data["is_active"], actor=admin_actor(request)
        )


@admin.register(LedgerWitnessPush)
class LedgerWitnessPushAdmin(OrganizationScopedAdmin, ReadOnlyModelAdmin):
    organization_lookup = "witness__organization"
    list_display = (
        "checkpoint_size",
        "witness",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "delivered_at",
    )
    list_filter = ("status",)
    list_select_related = ("witness", "checkpoint")

    @admin.display(description="Tree size", ordering="checkpoint__tree_size")
    def checkpoint_size(self, obj: LedgerWitnessPush) -> int:
        return obj.checkpoint.tree_size
