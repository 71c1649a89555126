"""Admin for recipients (registered through the recipient services) and the read-only stamp log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import ManyToManyField, Model, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from consent.models import Purpose
from core.admin import (
    OrganizationScopedAdmin,
    ReadOnlyModelAdmin,
    ServiceModelAdmin,
    admin_actor,
    report_domain_errors,
)
from core.problems import DomainError
from core.selectors import staff_organization_ids
from provenance.admin.common import (
    RecipientListFilter,
    StampReasonFilter,
    SubjectExternalIdFilter,
    SubjectFilter,
    admin_link,
    reason_label,
    recipient_label,
)
from provenance.admin.evidence import evidence_pack_view
from provenance.models import (
    Recipient,
    StampRecord,
)
from provenance.services.recipients import recipient_create, recipient_update
from provenance.services.webhook_secrets import previous_webhook_secret_valid_until, recipient_webhook_secret_rotate

# --------------------------------------------------------------------------------------------
# Recipients
# --------------------------------------------------------------------------------------------


class PurposesField(forms.ModelMultipleChoiceField):
    """Purpose keys repeat across organizations, so the choices name both."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.organization.slug} / {obj.key}"


class RecipientForm(forms.ModelForm):
    """Offers only the recipient's organization's purposes once it exists; on creation, refuses
    purposes of another organization than the one chosen."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("purposes")
        if isinstance(field, forms.ModelMultipleChoiceField) and self.instance.pk is not None:
            field.queryset = field.queryset.filter(organization_id=self.instance.organization_id)  # type: ignore[union-attr]

    def clean_data_categories(self) -> list[str]:
        value = self.cleaned_data.get("data_categories")
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise forms.ValidationError('A JSON list of category names, e.g. ["contact", "behavioural"].')
        return value

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        fixed = "organization" not in self.fields  # read-only once the recipient exists
        organization = self.instance.organization if fixed else cleaned.get("organization")
        purposes = cleaned.get("purposes")
        if organization is not None and purposes:
            foreign = sorted(p.key for p in purposes if p.organization_id != organization.pk)
            if foreign:
                self.add_error("purposes", f"Not purposes of {organization.slug}: {', '.join(foreign)}.")
        return cleaned


@admin.register(Recipient)
class RecipientAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Created and changed through the recipient services (audited); the key and organization are
    fixed once created, and nothing is deleted. The webhook secret is shown only when rotated."""

    form = RecipientForm
    list_display = (
        "key",
        "name",
        "organization",
        "role",
        "purpose_keys",
        "endpoints",
        "wants_usp",
        "is_active",
        "created_at",
    )
    list_filter = ("organization", "role", "is_active", "legacy_usp")
    search_fields = ("key", "name")
    filter_horizontal = ("purposes",)
    actions = ("rotate_webhook_secrets",)
    editable_fields = (
        "organization",
        "key",
        "name",
        "role",
        "purposes",
        "data_categories",
        "endpoint_url",
        "webhook_url",
        "legacy_usp",
        "is_active",
    )
    fixed_after_creation = ("organization", "key")
    shown_only = ("webhook_secret_issued", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Recipient]:
        return (
            super()
            .get_queryset(request)
            .select_related("organization")
            .prefetch_related(Prefetch("purposes", queryset=Purpose.objects.order_by("key")))
        )

    @admin.display(description="purposes")
    def purpose_keys(self, obj: Recipient) -> str:
        return ", ".join(purpose.key for purpose in obj.purposes.all()) or "—"

    @admin.display(description="endpoint / webhook")
    def endpoints(self, obj: Recipient) -> SafeString:
        """Both URLs in one column (the list fits 1366 px); long URLs break anywhere."""
        return format_html(
            '<span class="workbench-id">{}</span><br><span class="workbench-muted workbench-id">{}</span>',
            obj.endpoint_url or "—",
            obj.webhook_url or "no webhook",
        )

    @admin.display(boolean=True, description="USP string", ordering="legacy_usp")
    def wants_usp(self, obj: Recipient) -> bool:
        return obj.legacy_usp

    @admin.display(boolean=True, description="webhook secret issued")
    def webhook_secret_issued(self, obj: Recipient) -> bool:
        return bool(obj.webhook_secret_sealed)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.editable_fields if obj is None else (*self.editable_fields, *self.shown_only)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else (*self.fixed_after_creation, *self.shown_only)

    def formfield_for_manytomany(self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "purposes":
            kwargs["form_class"] = PurposesField
            purposes = Purpose.objects.select_related("organization").order_by("organization__slug", "key")
            ids = staff_organization_ids(request.user)
            kwargs["queryset"] = purposes if ids is None else purposes.filter(organization_id__in=ids)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        """The service already set the purposes; the admin's own ``save_m2m`` would write them again."""

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        values = {name: form.cleaned_data[name] for name in self.editable_fields if name in form.cleaned_data}
        organization = values.pop("organization")
        purposes = [purpose.key for purpose in values.pop("purposes", [])]
        return recipient_create(organization=organization, actor=admin_actor(request), purposes=purposes, **values)

    def service_update(self, request: HttpRequest, obj: Recipient, form: forms.ModelForm) -> Model:
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        chosen = values.pop("purposes", None)
        purposes = [purpose.key for purpose in chosen] if chosen is not None else None
        return recipient_update(recipient=obj, actor=admin_actor(request), purposes=purposes, **values)

    def has_rotate_webhook_secret_permission(self, request: HttpRequest) -> bool:
        """A secret, not a setting: the key administrator's, not everyone who may edit a recipient."""
        return request.user.has_perm("provenance.rotate_webhook_secret")

    @admin.action(description="Rotate webhook secret (shown once)", permissions=["rotate_webhook_secret"])
    def rotate_webhook_secrets(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> HttpResponse | None:
        rotated: list[tuple[Recipient, str]] = []
        for recipient in queryset:
            if not recipient.webhook_url:
                messages.warning(request, f"{recipient_label(recipient)}: no webhook URL, no secret issued.")
                continue
            try:
                secret = recipient_webhook_secret_rotate(recipient=recipient, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, recipient_label(recipient), exc)
            else:
                rotated.append((recipient, secret))
        if not rotated:
            return None
        # Rendered in this response, never put in a message: messages can outlive it in a cookie.
        response = TemplateResponse(
            request,
            "admin/provenance/recipient/webhook_secrets.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Webhook secrets rotated",
                "rotated": [
                    (recipient_label(recipient), secret, previous_webhook_secret_valid_until(recipient))
                    for recipient, secret in rotated
                ],
            },
        )
        response["Cache-Control"] = "no-store"
        return response


# --------------------------------------------------------------------------------------------
# The stamp log
# --------------------------------------------------------------------------------------------


@admin.register(StampRecord)
class StampRecordAdmin(OrganizationScopedAdmin, ReadOnlyModelAdmin):
    """Every stamping decision, never the data. ``?subject=<pk>`` or ``?subject_external_id=<id>`` is
    everything stamped about one subject."""

    list_display = (
        "created_at",
        "stamp_id",
        "organization",
        "recipient",
        "subject_external_id",
        "purpose_keys",
        "decision",
        "reason_summary",
        "jurisdiction",
    )
    list_display_links = ("stamp_id",)
    list_filter = (
        "organization",
        ("recipient", RecipientListFilter),
        "decision",
        StampReasonFilter,
        SubjectFilter,
        SubjectExternalIdFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("organization", "recipient")
    search_fields = ("=subject_external_id", "=stamp_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    fields = (
        "stamp_id",
        "created_at",
        "organization",
        "recipient_link",
        "subject_link",
        "subject_external_id",
        "purposes",
        "decision",
        "reasons_table",
        "relied_on",
        "categories_sent",
        "jurisdiction",
        "kid",
        "data_digest",
        "has_source",
        "has_consent_timestamp",
        "has_policy_version",
    )
    readonly_fields = fields

    @admin.display(description="purposes")
    def purpose_keys(self, obj: StampRecord) -> str:
        return ", ".join(obj.purposes)

    @admin.display(description="reasons")
    def reason_summary(self, obj: StampRecord) -> str:
        return ", ".join(f"{item.get('purpose')}: {reason_label(item.get('reason'))}" for item in obj.reasons) or "—"

    @admin.display(description="reasons")
    def reasons_table(self, obj: StampRecord) -> SafeString | str:
        if not obj.reasons:
            return "—"
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}<br><span class="workbench-muted">{}</span></td><td>{}</td></tr>',
            (
                (item.get("purpose"), reason_label(item.get("reason")), item.get("reason"), item.get("rule") or "")
                for item in obj.reasons
            ),
        )
        return format_html(
            "<table><thead><tr><th>Purpose</th><th>Reason</th><th>Rule</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="consent events relied on")
    def relied_on(self, obj: StampRecord) -> str:
        return ", ".join(obj.relied_on_event_ids) or "—"

    @admin.display(description="data categories sent")
    def categories_sent(self, obj: StampRecord) -> str:
        return ", ".join(obj.data_categories) or "—"

    @admin.display(description="recipient")
    def recipient_link(self, obj: StampRecord) -> SafeString:
        return admin_link("admin:provenance_recipient_change", obj.recipient_id, recipient_label(obj.recipient))

    @admin.display(description="subject on the ledger")
    def subject_link(self, obj: StampRecord) -> SafeString | str:
        if obj.subject_id is None:
            return "not on the ledger when stamped"
        return admin_link("admin:consent_subject_change", obj.subject_id, obj.subject_external_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet[StampRecord]:
        return super().get_queryset(request).select_related("organization", "recipient__organization")

    def get_urls(self) -> list[URLPattern]:
        """The subject page's evidence pack (consent's subject admin can't import provenance: it lives here)."""
        pack = path(
            "evidence-pack/<str:subject_pk>/",
            self.admin_site.admin_view(self.evidence_pack),
            name="provenance_subject_evidence_pack",
        )
        return [pack, *super().get_urls()]

    def evidence_pack(self, request: HttpRequest, subject_pk: str) -> HttpResponse:
        return evidence_pack_view(request, subject_pk, admin_context=self.admin_site.each_context(request))
