"""Admin for the legal team: recipients, the stamp log, deliveries and consent notices with their
attempt logs, signing keys and provenance alerts.

Every write is a call to a provenance service (STYLE rule 1); logs are read-only. What was sent about
one subject is the stamp log (and the delivery and notice lists) filtered by subject:
``?subject=<Subject pk>`` (the links on the subject page, no identifier in the URL) or
``?subject_external_id=<id>`` (add ``&organization__id__exact=<pk>``: ids repeat across organizations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import ManyToManyField, Model, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from consent.models import Purpose, Subject
from core.admin import ReadOnlyModelAdmin, ServiceModelAdmin, admin_actor, report_domain_errors
from core.problems import DomainError
from provenance import enforcement
from provenance.models import (
    ConsentNotice,
    Delivery,
    DeliveryAttempt,
    ProvenanceAlert,
    Recipient,
    SigningKey,
    StampRecord,
)
from provenance.services import recipient_create, recipient_update, signing_key_retire, signing_key_rotate
from provenance.services.notices import previous_webhook_secret_valid_until, recipient_webhook_secret_rotate
from provenance.services.replay import delivery_replay, notice_replay
from provenance.services.validation import MAX_NOTE_LENGTH, provenance_alert_acknowledge, provenance_alert_resolve

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

REASON_CODES = (
    enforcement.NO_CONSENT,
    enforcement.CONSENT_WITHDRAWN,
    enforcement.CONSENT_EXPIRED,
    enforcement.POLICY_STALE,
    enforcement.SALE_SHARE_OPTED_OUT,
    enforcement.PURPOSE_NOT_REGISTERED,
    enforcement.OBJECTED,
)


def _recipient_label(recipient: Recipient) -> str:
    return f"{recipient.organization.slug} / {recipient.key}"


def _link(url_name: str, pk: Any, text: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse(url_name, args=[pk]), text)


class ViewOnlyWithActionsAdmin(admin.ModelAdmin):
    """Like :class:`ReadOnlyModelAdmin` (no add, change or delete, even for superusers), but offering
    the actions it declares, each a service call."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_model_change_permission(self, request: HttpRequest) -> bool:
        """For the actions: the model's ``change`` permission itself, since ``has_change_permission``
        is False to keep the pages read-only."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


class RecipientListFilter(admin.RelatedFieldListFilter):
    """Recipient keys repeat across organizations, so the choices name both."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[str, StrOrPromise]]:
        recipients = Recipient.objects.select_related("organization").order_by("organization__slug", "key")
        return [(str(recipient.pk), _recipient_label(recipient)) for recipient in recipients]


class SubjectFilter(admin.SimpleListFilter):
    """``?subject=<Subject pk>``: the rows about one subject, by organization and external id, so rows
    written before the ledger knew the subject are included too. Shown only when given."""

    title = "subject"
    parameter_name = "subject"
    subject: Subject | None = None

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        if not value:
            return []
        if value.isdigit():
            self.subject = Subject.objects.select_related("organization").filter(pk=int(value)).first()
        if self.subject is None:
            return [(value, "unknown subject")]  # still applied: it matches nothing
        return [(value, f"{self.subject.organization.slug} / {self.subject.external_id}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        if self.subject is None:
            return queryset.none()
        return queryset.filter(
            organization_id=self.subject.organization_id, subject_external_id=self.subject.external_id
        )


class SubjectExternalIdFilter(admin.SimpleListFilter):
    """``?subject_external_id=<id>``: the rows about one external subject id. Shown only when given."""

    title = "subject id"
    parameter_name = "subject_external_id"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(subject_external_id=value) if value else queryset


class StampReasonFilter(admin.SimpleListFilter):
    """Blocked stamps by the reason any of their purposes was refused (``reasons`` is a JSON list of
    ``{purpose, reason, rule}``)."""

    title = "reason"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(code, code) for code in REASON_CODES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[StampRecord]) -> QuerySet[StampRecord]:
        value = self.value()
        if not value:
            return queryset
        if value not in REASON_CODES:
            return queryset.none()
        if connection.features.supports_json_field_contains:
            return queryset.filter(reasons__contains=[{"reason": value}])
        # SQLite (make run) has no JSON containment; the codes are unique upper-case tokens.
        return queryset.filter(reasons__icontains=f'"{value}"')


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
class RecipientAdmin(ServiceModelAdmin):
    """Created and changed through the recipient services (audited); the key and organization are
    fixed once created, and nothing is deleted. The webhook secret is shown only when rotated."""

    form = RecipientForm
    list_display = (
        "key",
        "name",
        "organization",
        "role",
        "purpose_keys",
        "endpoint_url",
        "webhook_url",
        "legacy_usp",
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
            kwargs["queryset"] = Purpose.objects.select_related("organization").order_by("organization__slug", "key")
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

    @admin.action(description="Rotate webhook secret (shown once)", permissions=["change"])
    def rotate_webhook_secrets(self, request: HttpRequest, queryset: QuerySet[Recipient]) -> HttpResponse | None:
        rotated: list[tuple[Recipient, str]] = []
        for recipient in queryset:
            if not recipient.webhook_url:
                messages.warning(request, f"{_recipient_label(recipient)}: no webhook URL, no secret issued.")
                continue
            try:
                secret = recipient_webhook_secret_rotate(recipient=recipient, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, _recipient_label(recipient), exc)
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
                    (_recipient_label(recipient), secret, previous_webhook_secret_valid_until(recipient))
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
class StampRecordAdmin(ReadOnlyModelAdmin):
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
        "kid",
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
        return ", ".join(f"{item.get('purpose')}: {item.get('reason')}" for item in obj.reasons) or "—"

    @admin.display(description="reasons")
    def reasons_table(self, obj: StampRecord) -> SafeString | str:
        if not obj.reasons:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((item.get("purpose"), item.get("reason"), item.get("rule") or "") for item in obj.reasons),
        )
        return format_html(
            "<table><thead><tr><th>Purpose</th><th>Reason</th><th>Rule</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="recipient")
    def recipient_link(self, obj: StampRecord) -> SafeString:
        return _link("admin:provenance_recipient_change", obj.recipient_id, _recipient_label(obj.recipient))

    @admin.display(description="subject on the ledger")
    def subject_link(self, obj: StampRecord) -> SafeString | str:
        if obj.subject_id is None:
            return "not on the ledger when stamped"
        return _link("admin:consent_subject_change", obj.subject_id, obj.subject_external_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet[StampRecord]:
        return super().get_queryset(request).select_related("organization", "recipient__organization")


# --------------------------------------------------------------------------------------------
# Deliveries and consent notices, with their attempt logs
# --------------------------------------------------------------------------------------------


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "outcome", "http_status", "duration_ms", "detail")
    readonly_fields = fields
    ordering = ("attempted_at", "id")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryAttemptInline(AttemptInline):
    fk_name = "delivery"
    verbose_name_plural = "attempt log"


class NoticeAttemptInline(AttemptInline):
    fk_name = "notice"
    verbose_name_plural = "attempt log"


@admin.register(Delivery)
class DeliveryAdmin(ViewOnlyWithActionsAdmin):
    """Deliveries as the workers left them; the sealed payload is never shown (it is purged once a
    delivery is delivered or blocked; a dead letter keeps it so it can be replayed)."""

    actions = ("replay_deliveries",)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return self.has_model_change_permission(request)

    @admin.action(
        description="Replay selected dead deliveries (consent is re-checked when sent)", permissions=["replay"]
    )
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        replayed = 0
        for delivery in queryset.select_related("organization"):
            try:
                replayed += delivery_replay(delivery=delivery, actor=admin_actor(request))
            except DomainError as exc:
                messages.error(request, f"{delivery.public_id}: {exc.detail}")
        messages.success(request, f"Re-queued {replayed} dead delivery(ies); others were not dead and are unchanged.")

    list_display = (
        "public_id",
        "created_at",
        "organization",
        "recipient",
        "subject_external_id",
        "purpose_keys",
        "status",
        "attempts",
        "next_attempt_at",
        "finished_at",
        "last_error",
    )
    list_display_links = ("public_id",)
    list_filter = (
        "status",
        "organization",
        ("recipient", RecipientListFilter),
        SubjectFilter,
        SubjectExternalIdFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("organization", "recipient")
    search_fields = ("=public_id", "=subject_external_id", "=stamp_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    inlines = (DeliveryAttemptInline,)
    fields = (
        "public_id",
        "organization",
        "recipient",
        "subject_external_id",
        "purposes",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "claimed_until",
        "give_up_at",
        "finished_at",
        "last_error",
        "stamp_link",
    )
    readonly_fields = fields
    exclude = ("payload_sealed",)

    @admin.display(description="purposes")
    def purpose_keys(self, obj: Delivery) -> str:
        return ", ".join(obj.purposes)

    @admin.display(description="stamp")
    def stamp_link(self, obj: Delivery) -> SafeString | str:
        if not obj.stamp_id:
            return "—"
        url = reverse("admin:provenance_stamprecord_changelist")
        return format_html('<a href="{}?q={}">{}</a>', url, obj.stamp_id, obj.stamp_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("organization", "recipient").defer("payload_sealed")


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(ViewOnlyWithActionsAdmin):
    """Consent changes told to recipients by webhook, with their legal deadlines and acknowledgments."""

    actions = ("replay_notices",)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return self.has_model_change_permission(request)

    @admin.action(description="Replay selected dead consent notices", permissions=["replay"])
    def replay_notices(self, request: HttpRequest, queryset: QuerySet[ConsentNotice]) -> None:
        replayed = sum(
            notice_replay(notice=notice, actor=admin_actor(request))
            for notice in queryset.select_related("organization")
        )
        messages.success(request, f"Re-queued {replayed} dead notice(s); others were not dead and are unchanged.")

    list_display = (
        "public_id",
        "created_at",
        "organization",
        "recipient",
        "subject_external_id",
        "purpose",
        "change",
        "status",
        "attempts",
        "legal_deadline",
        "sent_at",
        "acknowledged_at",
        "last_error",
    )
    list_display_links = ("public_id",)
    list_filter = (
        "status",
        "change",
        "organization",
        ("recipient", RecipientListFilter),
        ("overdue_alerted_at", admin.EmptyFieldListFilter),
        SubjectFilter,
        SubjectExternalIdFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("organization", "recipient", "purpose")
    search_fields = ("=public_id", "=subject_external_id", "=event_id")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    inlines = (NoticeAttemptInline,)
    fields = (
        "public_id",
        "organization",
        "recipient",
        "subject_external_id",
        "purpose",
        "event_link",
        "change",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "claimed_until",
        "give_up_at",
        "legal_deadline",
        "legal_rule",
        "sent_at",
        "acknowledged_at",
        "overdue_alerted_at",
        "last_error",
    )
    readonly_fields = fields

    @admin.display(description="ledger event")
    def event_link(self, obj: ConsentNotice) -> SafeString:
        url = reverse("admin:consent_consentevent_changelist")
        return format_html('<a href="{}?q={}">{}</a>', url, obj.event_id, obj.event_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentNotice]:
        return super().get_queryset(request).select_related("organization", "recipient", "purpose")


# --------------------------------------------------------------------------------------------
# Signing keys
# --------------------------------------------------------------------------------------------


@admin.register(SigningKey)
class SigningKeyAdmin(ViewOnlyWithActionsAdmin):
    """Keys are made by rotation and retired, never edited or deleted. The sealed private part is
    neither shown nor loaded."""

    list_display = ("kid", "is_current", "activated_at", "retired_at", "created_at")
    list_filter = ("is_current", ("retired_at", admin.EmptyFieldListFilter))
    search_fields = ("=kid",)
    fields = ("kid", "public_key", "is_current", "created_at", "activated_at", "retired_at")
    readonly_fields = fields
    exclude = ("private_key_sealed",)
    actions = ("rotate_now", "retire_keys")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SigningKey]:
        return super().get_queryset(request).defer("private_key_sealed")

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return self.has_model_change_permission(request)

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}_rotate"
        return [path("rotate/", self.admin_site.admin_view(self.rotate_view), name=name), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {"has_rotate_permission": self.has_rotate_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def rotate_view(self, request: HttpRequest) -> HttpResponse:
        """The changelist's "Rotate now" button: works with no key selected, or none yet."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_rotate_permission(request):
            raise PermissionDenied
        self._rotate(request)
        return HttpResponseRedirect(reverse("admin:provenance_signingkey_changelist"))

    @admin.action(description="Rotate now (one new current key, whatever is selected)", permissions=["rotate"])
    def rotate_now(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        self._rotate(request)

    def _rotate(self, request: HttpRequest) -> None:
        key = signing_key_rotate(actor=admin_actor(request))
        messages.success(
            request,
            f"New current signing key {key.kid}. The previous key signs nothing new and stays published; "
            "processes pick the new key up within seconds.",
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
class ProvenanceAlertAdmin(ViewOnlyWithActionsAdmin):
    """Alerts move open -> acknowledged -> resolved only through the triage services (audited)."""

    list_display = (
        "created_at",
        "kind",
        "status",
        "organization",
        "subject_external_id",
        "source_key",
        "failure_summary",
        "updated_at",
        "resolved_by",
    )
    list_display_links = ("created_at",)
    list_filter = (
        "status",
        "kind",
        "organization",
        SubjectExternalIdFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("organization",)
    search_fields = ("=subject_external_id", "=source_key")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    actions = ("acknowledge_alerts", "resolve_alerts")
    fields = (
        "organization",
        "kind",
        "status",
        "subject_external_id",
        "source_key",
        "failures_table",
        "note",
        "created_at",
        "updated_at",
        "resolved_by",
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
                    report_domain_errors(request, f"alert {alert.pk}", exc)
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
