"""Admin for the legal team: the catalog (sources, purposes, policy versions), subjects with their
consent state beside their ledger, and the ledger itself, which is strictly read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import ForeignKey, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse

from consent.models import ConsentEvent, LedgerVerificationRun, PolicyVersion, Purpose, Source, Subject
from consent.selectors import consent_history, consent_state_for_subject, subject_email
from consent.services import (
    ledger_verify,
    policy_version_create,
    purpose_create,
    purpose_update,
    source_create,
    source_retire,
    source_update,
)
from core.admin import (
    OrganizationAdmin,
    ReadOnlyModelAdmin,
    ServiceModelAdmin,
    admin_actor,
    report_domain_errors,
)
from core.jurisdictions import country_of
from core.models import Organization
from core.problems import DomainError

HISTORY_PAGE_SIZE = 200


def _values(form: forms.ModelForm, names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}


def _purpose_label(purpose: Purpose) -> str:
    return f"{purpose.organization.slug} / {purpose.key}"


class PurposeChoiceField(forms.ModelChoiceField):
    """Purpose keys repeat across organizations, so the choice names both."""

    def label_from_instance(self, obj: Any) -> str:
        return _purpose_label(obj)


# --------------------------------------------------------------------------------------------
# Organizations: the ledger verification action lives here, since core never imports consent.
# --------------------------------------------------------------------------------------------


class OrganizationLedgerAdmin(OrganizationAdmin):
    actions = ("verify_ledger",)

    @admin.action(description="Verify ledger", permissions=["view"])
    def verify_ledger(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        for organization in queryset:
            run = ledger_verify(organization=organization, actor=admin_actor(request))
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


admin.site.unregister(Organization)
admin.site.register(Organization, OrganizationLedgerAdmin)


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@admin.register(Source)
class SourceAdmin(ServiceModelAdmin):
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
            kwargs["choices"] = [choice for choice in Source.Kind.choices if choice[0] != Source.Kind.SYSTEM]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        values = _values(form, self.editable_fields)
        return source_create(organization=values.pop("organization"), actor=admin_actor(request), **values)

    def service_update(self, request: HttpRequest, obj: Source, form: forms.ModelForm) -> Model:
        return source_update(source=obj, actor=admin_actor(request), **_values(form, form.changed_data))

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
class PurposeAdmin(ServiceModelAdmin):
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
    )
    fixed_after_creation = ("organization", "key")
    shown_only = ("created_at", "updated_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.editable_fields if obj is None else (*self.editable_fields, *self.shown_only)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else (*self.fixed_after_creation, *self.shown_only)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        values = _values(form, self.editable_fields)
        return purpose_create(organization=values.pop("organization"), actor=admin_actor(request), **values)

    def service_update(self, request: HttpRequest, obj: Purpose, form: forms.ModelForm) -> Model:
        return purpose_update(purpose=obj, actor=admin_actor(request), **_values(form, form.changed_data))


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ServiceModelAdmin):
    """Policy versions are pinned by the hash of their notice: created once, never changed."""

    list_display = ("purpose_label", "version", "effective_at", "is_material", "notice_prefix", "created_at")
    list_filter = ("organization", "is_material", ("effective_at", admin.DateFieldListFilter))
    list_select_related = ("purpose__organization",)
    search_fields = ("version", "purpose__key")
    editable_fields = ("purpose", "version", "notice_sha256", "notice_url", "effective_at", "is_material")

    @admin.display(description="purpose", ordering="purpose__key")
    def purpose_label(self, obj: PolicyVersion) -> str:
        return _purpose_label(obj.purpose)

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
        values = _values(form, self.editable_fields)
        return policy_version_create(purpose=values.pop("purpose"), actor=admin_actor(request), **values)


# --------------------------------------------------------------------------------------------
# Subjects and the ledger
# --------------------------------------------------------------------------------------------


@admin.register(Subject)
class SubjectAdmin(ReadOnlyModelAdmin):
    """A subject's consent per purpose beside its ledger (template admin/consent/subject/change_form.html)."""

    list_display = ("external_id", "organization", "ledger_length", "is_erased", "created_at")
    list_filter = ("organization", ("data_key_destroyed_at", admin.EmptyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("^external_id",)
    fields = (
        "organization",
        "external_id",
        "uuid",
        "ledger_length",
        "ledger_head_hash",
        "created_at",
        "data_key_destroyed_at",
    )
    readonly_fields = fields

    @admin.display(boolean=True, description="erased")
    def is_erased(self, obj: Subject) -> bool:
        return obj.is_erased

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subject]:
        return super().get_queryset(request).select_related("organization")

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Subject | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context.update(self._consent_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _consent_context(self, request: HttpRequest, subject: Subject) -> dict[str, Any]:
        try:
            after = max(int(request.GET.get("after", "0")), 0)
        except ValueError:
            after = 0
        events, has_more = consent_history(subject=subject, after_chain_index=after, limit=HISTORY_PAGE_SIZE)
        return {
            "consent_states": consent_state_for_subject(organization=subject.organization, subject=subject),
            "history": events,
            "history_after": after,
            "history_next_after": events[-1].chain_index if has_more else None,
            "subject_email": subject_email(subject),
            "subject_is_erased": subject.is_erased,
        }


class JurisdictionFilter(admin.SimpleListFilter):
    """Jurisdictions by country; ``US`` also matches its states (``US-CA``)."""

    title = "jurisdiction"
    parameter_name = "jurisdiction"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        events = model_admin.get_queryset(request).order_by()
        codes = set(events.values_list("jurisdiction", flat=True).distinct())
        codes |= {country_of(code) for code in codes}
        return [(code, code) for code in sorted(codes)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ConsentEvent]) -> QuerySet[ConsentEvent]:
        value = self.value()
        if not value:
            return queryset
        if "-" in value:
            return queryset.filter(jurisdiction=value)
        return queryset.filter(Q(jurisdiction=value) | Q(jurisdiction__startswith=f"{value}-"))


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyModelAdmin):
    """The ledger is append-only (a database trigger refuses UPDATE and DELETE); the admin only reads it."""

    list_display = (
        "event_id",
        "subject",
        "purpose",
        "action",
        "source",
        "jurisdiction",
        "gpc",
        "occurred_at",
        "recorded_at",
        "chain_index",
    )
    list_filter = (
        "organization",
        "purpose",
        "action",
        "source",
        JurisdictionFilter,
        "gpc",
        "collection_method",
        ("occurred_at", admin.DateFieldListFilter),
        ("recorded_at", admin.DateFieldListFilter),
    )
    list_select_related = ("subject", "purpose", "source")
    search_fields = ("=event_id", "=subject__external_id")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    fields = (
        "event_id",
        "organization",
        "subject",
        "chain_index",
        "purpose",
        "action",
        "supersedes",
        "occurred_at",
        "recorded_at",
        "valid_until",
        "source",
        "collection_method",
        "policy_version",
        "jurisdiction",
        "gpc",
        "idempotency_key",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentEvent]:
        return (
            super()
            .get_queryset(request)
            .select_related("organization", "subject", "purpose", "source", "policy_version__purpose", "supersedes")
        )


@admin.register(LedgerVerificationRun)
class LedgerVerificationRunAdmin(ReadOnlyModelAdmin):
    list_display = (
        "verified_at",
        "organization",
        "is_valid",
        "subjects_checked",
        "events_checked",
        "root_prefix",
        "triggered_by",
    )
    list_filter = ("is_valid", "organization", ("verified_at", admin.DateFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("=triggered_by", "=ledger_root")
    date_hierarchy = "verified_at"
    fields = (
        "verified_at",
        "organization",
        "triggered_by",
        "is_valid",
        "subjects_checked",
        "events_checked",
        "ledger_root",
        "first_break",
    )
    readonly_fields = fields

    @admin.display(description="ledger root")
    def root_prefix(self, obj: LedgerVerificationRun) -> str:
        return f"{obj.ledger_root[:16]}…"
