"""Admin for signing keys (rotate, retire) and provenance alerts (acknowledge, resolve)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin import ActorNamesMixin, OrganizationScopedAdmin, actor_column, admin_actor, report_domain_errors
from core.models import Organization
from core.problems import DomainError
from core.selectors import staff_organization_ids
from provenance.admin.common import SubjectExternalIdFilter, ViewOnlyWithActionsAdmin
from provenance.models import (
    ProvenanceAlert,
    SigningKey,
)
from provenance.services.alerts import MAX_NOTE_LENGTH, provenance_alert_acknowledge, provenance_alert_resolve
from provenance.services.keys import signing_key_retire, signing_key_revoke, signing_key_rotate

# --------------------------------------------------------------------------------------------
# Signing keys
# --------------------------------------------------------------------------------------------


@admin.register(SigningKey)
class SigningKeyAdmin(OrganizationScopedAdmin, ViewOnlyWithActionsAdmin):
    """Each organization's keys are made by rotation, retired, and revoked, never edited or deleted. The sealed
    private part is neither shown nor loaded."""

    list_display = ("kid", "organization", "is_current", "activated_at", "retired_at", "revoked_at", "created_at")
    list_filter = (
        "organization",
        "is_current",
        ("retired_at", admin.EmptyFieldListFilter),
        ("revoked_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("organization",)
    search_fields = ("=kid",)
    fields = (
        "kid",
        "organization",
        "public_key",
        "is_current",
        "created_at",
        "activated_at",
        "retired_at",
        "revoked_at",
    )
    readonly_fields = fields
    exclude = ("private_key_sealed",)
    actions = ("rotate_now", "retire_keys", "revoke_keys")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SigningKey]:
        return super().get_queryset(request).defer("private_key_sealed")

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return self.has_model_change_permission(request)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provenance.revoke_signingkey")

    def rotatable_organizations(self, request: HttpRequest) -> QuerySet[Organization]:
        """The organizations whose key this staff user may rotate: those they see."""
        organizations = Organization.objects.order_by("slug")
        ids = staff_organization_ids(request.user)
        return organizations if ids is None else organizations.filter(id__in=ids)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_rotate"
        return [path("rotate/", self.admin_site.admin_view(self.rotate_view), name=name), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        can_rotate = self.has_rotate_permission(request)
        extra_context = {
            "has_rotate_permission": can_rotate,
            "rotatable_organizations": self.rotatable_organizations(request) if can_rotate else [],
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context)

    def rotate_view(self, request: HttpRequest) -> HttpResponse:
        """The changelist's "Rotate now" button: one organization's key, with no key selected (or none yet)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_rotate_permission(request):
            raise PermissionDenied
        chosen = request.POST.get("organization", "")
        organization = (
            self.rotatable_organizations(request).filter(pk=int(chosen)).first()
            if (chosen.isascii() and chosen.isdigit())
            else None
        )
        if organization is None:
            messages.error(request, "Choose one of your organizations to rotate its key.")
        else:
            self._rotate(request, organization)
        return HttpResponseRedirect(reverse("admin:provenance_signingkey_changelist"))

    @admin.action(
        description="Rotate now (a new current key for each selected key's organization)", permissions=["rotate"]
    )
    def rotate_now(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        organization_ids = set(queryset.values_list("organization_id", flat=True))
        for organization in self.rotatable_organizations(request).filter(id__in=organization_ids):
            self._rotate(request, organization)

    def _rotate(self, request: HttpRequest, organization: Organization) -> None:
        key = signing_key_rotate(organization=organization, actor=admin_actor(request))
        messages.success(
            request,
            f"{organization.slug}: new current signing key {key.kid}. The previous key signs nothing new and "
            "stays published; processes pick the new key up within seconds.",
        )

    @admin.action(description="Retire selected keys", permissions=["rotate"])
    def retire_keys(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        for key in queryset:
            if key.retired_at is not None:
                messages.info(request, f"{key.kid}: already retired.")
                continue
            try:
                signing_key_retire(key=key, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, key.kid, exc)
            else:
                messages.success(request, f"{key.kid}: retired; it stays published so its stamps still verify.")

    @admin.action(description="Revoke selected retired keys (their stamps stop verifying)", permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        for key in queryset:
            try:
                changed = signing_key_revoke(key=key, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, key.kid, exc)
            else:
                if changed:
                    messages.success(
                        request, f"{key.kid}: revoked; it left the JWKS and what it signed no longer verifies."
                    )
                else:
                    messages.info(request, f"{key.kid}: already revoked.")


# --------------------------------------------------------------------------------------------
# Provenance alerts
# --------------------------------------------------------------------------------------------


class AlertResolveForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        max_length=MAX_NOTE_LENGTH,
        strip=True,
        help_text="How the alert was resolved; kept on each alert and in the audit log.",
    )


@admin.register(ProvenanceAlert)
class ProvenanceAlertAdmin(OrganizationScopedAdmin, ActorNamesMixin, ViewOnlyWithActionsAdmin):
    """Alerts move open -> acknowledged -> resolved only through the triage services (audited)."""

    list_display = (
        "created_at",
        "public_id",
        "kind",
        "status",
        "organization",
        "subject_external_id",
        "source_key",
        "failure_summary",
        "resolved_by_name",
    )
    list_display_links = ("created_at",)
    actor_fields = ("resolved_by",)
    resolved_by_name = actor_column("resolved_by", "resolved by")
    list_filter = (
        "status",
        "kind",
        "organization",
        SubjectExternalIdFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("organization",)
    search_fields = ("=public_id", "=subject_external_id", "=source_key")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    actions = ("acknowledge_alerts", "resolve_alerts")
    fields = (
        "public_id",
        "organization",
        "kind",
        "status",
        "subject_external_id",
        "source_key",
        "failures_table",
        "note",
        "created_at",
        "updated_at",
        "resolved_by_name",
    )
    readonly_fields = fields

    @admin.display(description="failures")
    def failure_summary(self, obj: ProvenanceAlert) -> str:
        return ", ".join(f"{item.get('field')}: {item.get('problem')}" for item in obj.failures) or "—"

    @admin.display(description="failures")
    def failures_table(self, obj: ProvenanceAlert) -> SafeString | str:
        if not obj.failures:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((item.get("field"), item.get("problem"), item.get("detail")) for item in obj.failures),
        )
        return format_html(
            '<table id="alert-failures"><thead><tr><th>Field</th><th>Problem</th><th>Detail</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            rows,
        )

    def has_triage_permission(self, request: HttpRequest) -> bool:
        return self.has_model_change_permission(request)

    @admin.action(description="Acknowledge selected alerts", permissions=["triage"])
    def acknowledge_alerts(self, request: HttpRequest, queryset: QuerySet[ProvenanceAlert]) -> None:
        alerts = list(queryset.select_related("organization"))
        changed = sum(provenance_alert_acknowledge(alert=alert, actor=admin_actor(request)) for alert in alerts)
        unchanged = len(alerts) - changed
        messages.success(
            request,
            f"Acknowledged {changed} alert(s)."
            + (f" {unchanged} were not open and are unchanged." if unchanged else ""),
        )

    @admin.action(description="Resolve selected alerts (with a note)", permissions=["triage"])
    def resolve_alerts(self, request: HttpRequest, queryset: QuerySet[ProvenanceAlert]) -> HttpResponse | None:
        form = AlertResolveForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            alerts = list(queryset.select_related("organization"))
            changed = 0
            for alert in alerts:
                try:
                    changed += provenance_alert_resolve(
                        alert=alert, note=form.cleaned_data["note"], actor=admin_actor(request)
                    )
                except DomainError as exc:
                    report_domain_errors(request, f"alert {alert.public_id}", exc)
            unchanged = len(alerts) - changed
            messages.success(
                request,
                f"Resolved {changed} alert(s)."
                + (f" {unchanged} were already resolved and are unchanged." if unchanged else ""),
            )
            return None
        return TemplateResponse(
            request,
            "admin/provenance/provenancealert/resolve.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Resolve provenance alerts",
                "alerts": queryset.select_related("organization"),
                "form": form,
                "action_name": "resolve_alerts",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )
