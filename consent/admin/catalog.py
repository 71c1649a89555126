"""Admin for the legal team: organizations' ledger and GPC actions, and the catalog (sources, purposes, policy
versions), changed only through the catalog services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import ForeignKey, Model, QuerySet
from django.http import HttpRequest

from consent.admin.common import PurposeChoiceField, form_values, purpose_label
from consent.enums import CLIENT_SOURCE_KIND_CHOICES
from consent.models import (
    PolicyVersion,
    Purpose,
    Source,
)
from consent.selectors import ledger_event_count
from consent.services import (
    ledger_integrity_check,
    organization_gpc_settings_update,
    policy_version_create,
    purpose_create,
    purpose_update,
    source_create,
    source_retire,
    source_update,
    verification_job_create,
)
from core.admin import (
    OrganizationAdmin,
    OrganizationScopedAdmin,
    ServiceModelAdmin,
    admin_actor,
    report_domain_errors,
)
from core.models import Organization
from core.problems import DomainError

# --------------------------------------------------------------------------------------------
# Organizations: the ledger verification and GPC settings actions live here, since core never
# imports consent.
# --------------------------------------------------------------------------------------------


class OrganizationLedgerAdmin(OrganizationAdmin):
    actions = ("verify_ledger", "honor_gpc_everywhere", "honor_gpc_where_required")
    editable_fields = (*OrganizationAdmin.editable_fields, "honor_gpc_everywhere")

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        """Name and site domain through core's service; the GPC stance through consent's (audited, and it
        moves gpc.json's lastUpdate). Each writes only when its fields changed."""
        organization = super().service_update(request, obj, form)
        assert isinstance(organization, Organization)
        if "honor_gpc_everywhere" in form.changed_data:
            organization = organization_gpc_settings_update(
                organization=organization,
                honor_everywhere=bool(form.cleaned_data["honor_gpc_everywhere"]),
                actor=admin_actor(request),
            )
        return organization

    def has_verify_ledger_permission(self, request: HttpRequest) -> bool:
        # The action stores a verification run (and its audit row): that needs the right to add runs, never
        # only "view". Reading the outcome without keeping it is GET /api/v1/ledger/verify.
        return request.user.has_perm("consent.add_ledgerverificationrun")

    @admin.action(description="Verify ledger (recorded)", permissions=["verify_ledger"])
    def verify_ledger(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        limit = settings.PROVENANT_LEDGER_VERIFY_IN_REQUEST_MAX_EVENTS
        for organization in queryset:
            if ledger_event_count(organization) > limit:  # never inside a web request: a worker runs it
                job = verification_job_create(organization=organization, actor=admin_actor(request))
                messages.info(
                    request,
                    f"{organization.slug}: the ledger is verified in the background (job {job.public_id}); its run "
                    "appears under Ledger verification runs when done.",
                )
                continue
            run = ledger_integrity_check(organization=organization, actor=admin_actor(request))
            if run.is_valid:
                messages.success(
                    request,
                    f"{organization.slug}: ledger valid: {run.events_checked} events of "
                    f"{run.subjects_checked} subjects; root {run.ledger_root[:16]}…",
                )
            else:
                broken = run.first_break or {}
                messages.error(
                    request,
                    f"{organization.slug}: ledger BROKEN at subject {broken.get('subject_id')} chain index "
                    f"{broken.get('chain_index')} ({broken.get('problem')}: {broken.get('detail')})",
                )

    def has_gpc_settings_permission(self, request: HttpRequest) -> bool:
        # The bulk settings actions ask for the model's change permission itself, as the change form does.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Honor GPC everywhere", permissions=["gpc_settings"])
    def honor_gpc_everywhere(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        self._gpc_settings_update(request, queryset, honor_everywhere=True)

    @admin.action(description="Honor GPC only where the law requires", permissions=["gpc_settings"])
    def honor_gpc_where_required(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        self._gpc_settings_update(request, queryset, honor_everywhere=False)

    def _gpc_settings_update(
        self, request: HttpRequest, queryset: QuerySet[Organization], *, honor_everywhere: bool
    ) -> None:
        wording = "everywhere" if honor_everywhere else "only where the law requires"
        # The service is a compare-and-set: an organization already set this way is left untouched
        # (no audit row, lastUpdate unchanged).
        for organization in queryset:
            updated = organization_gpc_settings_update(
                organization=organization, honor_everywhere=honor_everywhere, actor=admin_actor(request)
            )
            messages.success(
                request,
                f"{updated.slug}: GPC honored {wording}; gpc.json lastUpdate "
                f"{updated.gpc_settings_updated_at:%Y-%m-%d}.",
            )


admin.site.unregister(Organization)
admin.site.register(Organization, OrganizationLedgerAdmin)


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@admin.register(Source)
class SourceAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Keys are fixed once created (every event and hash carries them); built-in sources are view-only."""

    list_display = (
        "key",
        "name",
        "organization",
        "kind",
        "lawful_basis",
        "is_active",
        "is_builtin",
        "created_at",
    )
    list_filter = ("organization", "kind", "lawful_basis", "is_active", "is_builtin")
    list_select_related = ("organization",)
    search_fields = ("key", "name", "vendor_name")
    actions = ("retire_sources",)
    editable_fields = (
        "organization",
        "key",
        "name",
        "kind",
        "vendor_name",
        "collection_point",
        "lawful_basis",
        "dpa_reference",
        "dpa_date",
    )
    fixed_after_creation = ("organization", "key")
    shown_only = ("is_active", "is_builtin", "created_at", "updated_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.editable_fields if obj is None else (*self.editable_fields, *self.shown_only)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else (*self.fixed_after_creation, *self.shown_only)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_builtin:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_choice_field(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.TypedChoiceField | None:
        if db_field.name == "kind":
            kwargs["choices"] = CLIENT_SOURCE_KIND_CHOICES
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        values = form_values(form, self.editable_fields)
        return source_create(organization=values.pop("organization"), actor=admin_actor(request), **values)

    def service_update(self, request: HttpRequest, obj: Source, form: forms.ModelForm) -> Model:
        return source_update(source=obj, actor=admin_actor(request), **form_values(form, form.changed_data))

    @admin.action(description="Retire selected sources", permissions=["change"])
    def retire_sources(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        retired = 0
        for source in queryset.filter(is_active=True):
            try:
                source_retire(source=source, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, source.key, exc)
            else:
                retired += 1
        if retired:
            messages.success(request, f"Retired {retired} source(s); they accept no new events.")


@admin.register(Purpose)
class PurposeAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    list_display = (
        "key",
        "name",
        "organization",
        "legal_basis",
        "is_sale_or_sharing",
        "is_targeted_advertising",
        "is_sensitive",
        "validity",
    )
    list_filter = (
        "organization",
        "legal_basis",
        "is_sale_or_sharing",
        "is_targeted_advertising",
        "is_sensitive",
    )
    list_select_related = ("organization",)
    search_fields = ("key", "name")
    editable_fields = (
        "organization",
        "key",
        "name",
        "description",
        "legal_basis",
        "dpv_purpose_iri",
        "dpv_legal_basis_iri",
        "is_sale_or_sharing",
        "is_targeted_advertising",
        "is_sensitive",
        "validity",
        "retention",
        "recipient_categories",
    )
    fixed_after_creation = ("organization", "key")
    shown_only = ("created_at", "updated_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.editable_fields if obj is None else (*self.editable_fields, *self.shown_only)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else (*self.fixed_after_creation, *self.shown_only)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        values = form_values(form, self.editable_fields)
        return purpose_create(organization=values.pop("organization"), actor=admin_actor(request), **values)

    def service_update(self, request: HttpRequest, obj: Purpose, form: forms.ModelForm) -> Model:
        return purpose_update(purpose=obj, actor=admin_actor(request), **form_values(form, form.changed_data))


@admin.register(PolicyVersion)
class PolicyVersionAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Policy versions are pinned by the hash of their notice: created once, never changed."""

    list_display = ("purpose_label", "version", "effective_at", "is_material", "notice_prefix", "created_at")
    list_filter = ("organization", "is_material", ("effective_at", admin.DateFieldListFilter))
    list_select_related = ("purpose__organization",)
    search_fields = ("version", "purpose__key")
    editable_fields = (
        "purpose",
        "version",
        "notice_sha256",
        "notice_url",
        "notice_text",
        "effective_at",
        "is_material",
    )

    @admin.display(description="purpose", ordering="purpose__key")
    def purpose_label(self, obj: PolicyVersion) -> str:
        return purpose_label(obj.purpose)

    @admin.display(description="notice SHA-256")
    def notice_prefix(self, obj: PolicyVersion) -> str:
        return f"{obj.notice_sha256[:16]}…"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.editable_fields if obj is None else (*self.editable_fields, "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else (*self.editable_fields, "created_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "purpose":
            kwargs["form_class"] = PurposeChoiceField
            kwargs["queryset"] = Purpose.objects.select_related("organization").order_by("organization__slug", "key")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        values = form_values(form, self.editable_fields)
        return policy_version_create(purpose=values.pop("purpose"), actor=admin_actor(request), **values)
