"""Admin for legal staff: client users, and a link from every organization to its compliance report."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from consent.admin import OrganizationLedgerAdmin
from core.admin import OrganizationScopedAdmin, ServiceModelAdmin, admin_actor
from core.models import Organization
from reports.access import VIEW_ANY_REPORT
from reports.models import ClientMembership
from reports.services import client_user_create, client_user_deactivate


class ClientUserCreationForm(forms.ModelForm):
    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, strip=False, help_text="Checked by the password validators.")

    class Meta:
        model = ClientMembership
        fields = ["organization"]


@admin.register(ClientMembership)
class ClientMembershipAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Client users are created here (a non-staff account and its one membership) and deactivated, never edited.
    Staff limited to some organizations see, create and deactivate only theirs."""

    list_display = ("user", "organization", "is_active", "created_at", "created_by")
    list_filter = ("organization", "user__is_active")
    search_fields = ("user__username", "organization__slug")
    list_select_related = ("user", "organization")
    actions = ("deactivate",)
    readonly_fields = ("user", "organization", "is_active", "created_at", "created_by")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ClientUserCreationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("organization", "username", "email", "password") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ClientMembership) -> bool:
        return obj.user.is_active

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return client_user_create(
            organization=data["organization"],
            username=data["username"],
            email=data["email"],
            password=data["password"],
            actor=admin_actor(request),
        )

    @admin.action(
        description="Deactivate the selected client users (they can no longer sign in)", permissions=["change"]
    )
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ClientMembership]) -> None:
        for membership in queryset.select_related("user", "organization"):
            client_user_deactivate(membership=membership, actor=admin_actor(request))
        messages.success(request, f"{queryset.count()} client user(s) deactivated.")


def _report_link(obj: Organization) -> str:
    return format_html('<a href="{}">Open report</a>', reverse("reports:report", kwargs={"slug": obj.slug}))


admin.site.unregister(Organization)


@admin.register(Organization)
class OrganizationReportAdmin(OrganizationLedgerAdmin):
    """The organization admin as consent extends it (ledger and GPC actions), plus a link to each
    organization's compliance report (for staff allowed to read every report)."""

    detail_fields = (*OrganizationLedgerAdmin.detail_fields, "compliance_report")
    readonly_fields = detail_fields

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        return (*shown, "compliance_report") if request.user.has_perm(VIEW_ANY_REPORT) else shown

    @admin.display(description="Compliance report")
    def compliance_report(self, obj: Organization) -> str:
        return _report_link(obj)
