"""Admin for the legal team: the catalog (sources, purposes, policy versions), subjects with their
consent state beside their ledger, and the ledger itself, which is strictly read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import ForeignKey, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from consent.models import (
    ConsentEvent,
    ConsentState,
    GpcSignalReceipt,
    LedgerVerificationRun,
    PolicyVersion,
    Purpose,
    Source,
    Subject,
)
from consent.selectors import consent_history, consent_state_for_subject, subject_email
from consent.selectors.admin import (
    GPC_HONORED,
    GPC_NOT_HONORED,
    GPC_NOT_RECEIVED,
    subject_gpc,
    subjects_by_gpc_status,
)
from consent.services import (
    ledger_verify,
    organization_gpc_settings_update,
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


def _subject_link(subject: Subject) -> SafeString:
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:consent_subject_change", args=[subject.pk]), subject.external_id
    )


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
        return _purpose_label(obj)


# --------------------------------------------------------------------------------------------
# Organizations: the ledger verification and GPC settings actions live here, since core never
# imports consent.
# --------------------------------------------------------------------------------------------


class OrganizationLedgerAdmin(OrganizationAdmin):
    actions = ("verify_ledger", "honor_gpc_everywhere", "honor_gpc_where_required")

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

    def has_gpc_settings_permission(self, request: HttpRequest) -> bool:
        # The admin never edits organizations in place (has_change_permission is False), so the
        # settings actions ask for the model's change permission itself.
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


class GpcHonoredFilter(admin.SimpleListFilter):
    """Subjects by their GPC signal receipt."""

    title = "GPC honored"
    parameter_name = "gpc_honored"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            (GPC_HONORED, "Yes"),
            (GPC_NOT_HONORED, "No (received, not honored)"),
            (GPC_NOT_RECEIVED, "Not received"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Subject]) -> QuerySet[Subject]:
        return subjects_by_gpc_status(queryset, self.value())


@admin.register(Subject)
class SubjectAdmin(ReadOnlyModelAdmin):
    """A subject's consent per purpose beside its ledger (template admin/consent/subject/change_form.html)."""

    list_display = (
        "external_id",
        "organization",
        "jurisdiction",
        "gpc_status",
        "ledger_length",
        "is_erased",
        "created_at",
    )
    list_filter = (
        "organization",
        GpcHonoredFilter,
        JurisdictionFilter,
        ("data_key_destroyed_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("organization", "gpc_receipt")
    search_fields = ("^external_id",)
    fields = (
        "organization",
        "external_id",
        "uuid",
        "jurisdiction",
        "ledger_length",
        "ledger_head_hash",
        "created_at",
        "data_key_destroyed_at",
    )
    readonly_fields = fields

    @admin.display(boolean=True, description="erased")
    def is_erased(self, obj: Subject) -> bool:
        return obj.is_erased

    @admin.display(description="GPC")
    def gpc_status(self, obj: Subject) -> str:
        receipt: GpcSignalReceipt | None = getattr(obj, "gpc_receipt", None)
        if receipt is None:
            return "—"
        return "honored" if receipt.is_honored else "received, not honored"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subject]:
        # The changelist skips list_select_related once the queryset selects anything: repeat it here.
        return super().get_queryset(request).select_related("organization", "gpc_receipt")

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
            "gpc": subject_gpc(organization=subject.organization, subject=subject),
        }


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


class GpcConflictFilter(admin.SimpleListFilter):
    """The GPC conflicts list is this filter on consent states."""

    title = "GPC conflict"
    parameter_name = "gpc_conflict"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "GPC conflicts"), ("no", "No conflict")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ConsentState]) -> QuerySet[ConsentState]:
        if self.value() == "yes":
            return queryset.filter(gpc_conflict=True)
        if self.value() == "no":
            return queryset.filter(gpc_conflict=False)
        return queryset


@admin.register(ConsentState)
class ConsentStateAdmin(ReadOnlyModelAdmin):
    """The consent projection, read-only; ``?gpc_conflict=yes`` is the GPC conflicts list: opt-ins a GPC
    opt-out overrode (CCPA regs §7025(c)(3)). Statuses are as stored: expiry and staleness are applied
    when read, on the subject page."""

    list_display = (
        "subject_link",
        "purpose",
        "status",
        "since",
        "jurisdiction",
        "gpc",
        "gpc_conflict",
        "organization",
    )
    list_display_links = ("status",)
    list_filter = (GpcConflictFilter, "organization", "status", JurisdictionFilter, "gpc")
    list_select_related = ("organization", "subject", "purpose")
    search_fields = ("=subject__external_id",)
    ordering = ("-since", "-pk")
    show_full_result_count = False
    fields = (
        "organization",
        "subject",
        "purpose",
        "status",
        "since",
        "valid_until",
        "event",
        "basis_event",
        "source",
        "policy_version",
        "jurisdiction",
        "gpc",
        "gpc_conflict",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="subject", ordering="subject__external_id")
    def subject_link(self, obj: ConsentState) -> SafeString:
        return _subject_link(obj.subject)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.GET.get(GpcConflictFilter.parameter_name) == "yes":
            extra_context = {"title": "GPC conflicts", **(extra_context or {})}
        return super().changelist_view(request, extra_context)


@admin.register(GpcSignalReceipt)
class GpcSignalReceiptAdmin(ReadOnlyModelAdmin):
    """Evidence of each subject's GPC signal and what was done with it; written only by the GPC services."""

    list_display = (
        "subject_link",
        "organization",
        "first_received_at",
        "last_received_at",
        "channel",
        "jurisdiction",
        "is_honored",
        "honored_at",
        "is_legally_required",
        "purposes",
    )
    list_display_links = ("first_received_at",)
    list_filter = (
        "organization",
        "is_honored",
        "is_legally_required",
        "channel",
        JurisdictionFilter,
        ("last_received_at", admin.DateFieldListFilter),
    )
    list_select_related = ("organization", "subject")
    search_fields = ("=subject__external_id",)
    ordering = ("-last_received_at", "-pk")
    date_hierarchy = "last_received_at"
    fields = (
        "organization",
        "subject",
        "first_received_at",
        "last_received_at",
        "channel",
        "raw_value",
        "jurisdiction",
        "is_honored",
        "honored_at",
        "is_legally_required",
        "purposes_opted_out",
    )
    readonly_fields = fields

    @admin.display(description="subject", ordering="subject__external_id")
    def subject_link(self, obj: GpcSignalReceipt) -> SafeString:
        return _subject_link(obj.subject)

    @admin.display(description="purposes opted out")
    def purposes(self, obj: GpcSignalReceipt) -> str:
        return ", ".join(obj.purposes_opted_out) or "—"


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
