"""Admin for deliveries and consent notices: outcomes, attempts, and replay of dead letters."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin import OrganizationScopedAdmin, ReadOnlyTabularInline, admin_actor, admin_datetime
from core.problems import DomainError
from provenance.admin.common import (
    RecipientListFilter,
    SubjectExternalIdFilter,
    SubjectFilter,
    ViewOnlyWithActionsAdmin,
)
from provenance.models import (
    ConsentNotice,
    Delivery,
    DeliveryAttempt,
)
from provenance.services.replay import delivery_replay, notice_replay

# --------------------------------------------------------------------------------------------
# Deliveries and consent notices, with their attempt logs
# --------------------------------------------------------------------------------------------


class AttemptInline(ReadOnlyTabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "outcome", "http_status", "duration_ms", "detail")
    readonly_fields = fields
    ordering = ("attempted_at", "id")


class DeliveryAttemptInline(AttemptInline):
    fk_name = "delivery"
    verbose_name_plural = "attempt log"


class NoticeAttemptInline(AttemptInline):
    fk_name = "notice"
    verbose_name_plural = "attempt log"


@admin.register(Delivery)
class DeliveryAdmin(OrganizationScopedAdmin, ViewOnlyWithActionsAdmin):
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
        "progress",
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

    @admin.display(description="attempts", ordering="next_attempt_at")
    def progress(self, obj: Delivery) -> SafeString:
        """Attempts so far, then the next attempt or the end (three columns in one: the list fits 1366 px)."""
        if obj.finished_at is not None:
            when = f"finished {admin_datetime(obj.finished_at)}"
        elif obj.next_attempt_at is not None:
            when = f"next {admin_datetime(obj.next_attempt_at)}"
        else:
            when = ""
        return format_html('{}<br><span class="workbench-muted">{}</span>', obj.attempts, when)

    @admin.display(description="stamp")
    def stamp_link(self, obj: Delivery) -> SafeString | str:
        if not obj.stamp_id:
            return "—"
        url = reverse("admin:provenance_stamprecord_changelist")
        return format_html('<a href="{}?q={}">{}</a>', url, obj.stamp_id, obj.stamp_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("organization", "recipient").defer("payload_sealed")


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(OrganizationScopedAdmin, ViewOnlyWithActionsAdmin):
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

    # Recipient with its organization, and subject, purpose and change as one line: the list fits 1366 px.
    list_display = (
        "public_id",
        "created_at",
        "sent_to",
        "notice_about",
        "status",
        "legal_deadline",
        "notice_progress",
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

    @admin.display(description="recipient", ordering="recipient__key")
    def sent_to(self, obj: ConsentNotice) -> SafeString:
        return format_html('{}<br><span class="workbench-muted">{}</span>', obj.recipient.key, obj.organization)

    @admin.display(description="subject, purpose, change", ordering="subject_external_id")
    def notice_about(self, obj: ConsentNotice) -> SafeString:
        return format_html(
            '{}<br><span class="workbench-muted">{} {}</span>',
            obj.subject_external_id,
            obj.purpose.key,
            obj.change.replace("_", " "),
        )

    @admin.display(description="attempts, sent, acknowledged", ordering="sent_at")
    def notice_progress(self, obj: ConsentNotice) -> SafeString:
        return format_html(
            '{}<br><span class="workbench-muted">sent {}<br>acknowledged {}</span>',
            obj.attempts,
            admin_datetime(obj.sent_at),
            admin_datetime(obj.acknowledged_at),
        )

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
