"""Helpers shared by the consent admin pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from consent.enums import ConsentStatus, LawfulBasis
from consent.models import (
    Purpose,
    Subject,
)
from core.jurisdictions import country_of

HISTORY_PAGE_SIZE = 200
# Why a purpose is or is not permitted (consent.permission.BASES), as the legal team reads it.
PERMISSION_BASIS_LABELS: dict[str, str] = {
    "explicit_opt_in": "consent on record",
    "no_opt_out_on_record": "no opt-out on record",
    "opted_out": "opted out",
    "withdrawn": "consent withdrawn",
    "expired": "consent expired",
    "stale_policy": "consent given under an older notice",
    "gpc_opt_out": "GPC opt-out",
    "no_consent_on_record": "no consent on record",
    "objected": "objected",
    **{basis.value: str(basis.label) for basis in LawfulBasis if basis != LawfulBasis.CONSENT},
}


def consent_status_label(status: str) -> str:
    return str(ConsentStatus(status).label) if status in ConsentStatus.values else status


def permission_basis_label(basis: str) -> str:
    return PERMISSION_BASIS_LABELS.get(basis, basis.replace("_", " "))


def form_values(form: forms.ModelForm, names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}


def purpose_label(purpose: Purpose) -> str:
    return f"{purpose.organization.slug} / {purpose.key}"


def subject_change_link(subject: Subject) -> SafeString:
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:consent_subject_change", args=[subject.pk]), subject.external_id
    )


def mask_email(email: str) -> str:
    """``a•••@e•••.org``: enough to tell two addresses apart on a page, not enough to write to the person."""
    local, _, domain = email.partition("@")
    host, dot, suffix = domain.rpartition(".")
    if not dot:
        host, suffix = domain, ""
    masked_host = f"{host[:1]}•••" if host else "•••"
    return f"{local[:1]}•••@{masked_host}{dot}{suffix}"


class JurisdictionFilter(admin.SimpleListFilter):
    """Jurisdictions by country; ``US`` also matches its states (``US-CA``). For any model with a
    ``jurisdiction`` field."""

    title = "jurisdiction"
    parameter_name = "jurisdiction"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        rows = model_admin.get_queryset(request).order_by()
        codes = set(rows.values_list("jurisdiction", flat=True).distinct()) - {""}
        codes |= {country_of(code) for code in codes}
        return [(code, code) for code in sorted(codes)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if "-" in value:
            return queryset.filter(jurisdiction=value)
        return queryset.filter(Q(jurisdiction=value) | Q(jurisdiction__startswith=f"{value}-"))


class PurposeChoiceField(forms.ModelChoiceField):
    """Purpose keys repeat across organizations, so the choice names both."""

    def label_from_instance(self, obj: Any) -> str:
        return purpose_label(obj)
