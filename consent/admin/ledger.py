"""Admin for the legal team: subjects with their consent state beside their ledger, the ledger itself (strictly
read-only), consent states, GPC receipts and ledger verification runs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.safestring import SafeString

from consent.admin.common import (
    HISTORY_PAGE_SIZE,
    JurisdictionFilter,
    consent_status_label,
    mask_email,
    permission_basis_label,
    subject_change_link,
)
from consent.admin.recording import SubjectConsentFactsAdminMixin
from consent.admin.related import SubjectSearchAdmin, subject_sections
from consent.enums import ConsentStatus
from consent.models import (
    ConsentEvent,
    ConsentState,
    GpcSignalReceipt,
    LedgerVerificationRun,
    Subject,
)
from consent.selectors import (
    GPC_HONORED,
    GPC_NOT_HONORED,
    GPC_NOT_RECEIVED,
    consent_history,
    consent_state_for_subject,
    consent_state_status_now,
    consent_states_by_status_now,
    subject_email,
    subject_gpc,
    subjects_by_gpc_status,
)
from consent.services import SubjectKeyUnavailable, consent_states_rebuild, subject_contact_reveal
from core.admin import (
    WORKBENCH_CSS,
    ActorNamesMixin,
    OrganizationScopedAdmin,
    ReadOnlyModelAdmin,
    WorkbenchMedia,
    actor_column,
    admin_actor,
    admin_datetime,
)

REVEAL_PERMISSION = "consent.reveal_subject_contact"

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
class SubjectAdmin(SubjectConsentFactsAdminMixin, OrganizationScopedAdmin, SubjectSearchAdmin, ReadOnlyModelAdmin):
    """A subject's consent per purpose beside its ledger (template admin/consent/subject/change_form.html).
    The email is shown masked; revealing it is a POST that needs ``consent.reveal_subject_contact`` and is
    audited (``subject.contact_revealed``)."""

    list_display = (
        "external_id",
        "organization",
        "jurisdiction",
        "gpc_status",
        "ledger_length",
        "is_erased",
        "state_inconsistent_since",
        "created_at",
    )
    list_filter = (
        "organization",
        GpcHonoredFilter,
        JurisdictionFilter,
        ("data_key_destroyed_at", admin.EmptyFieldListFilter),
        ("state_inconsistent_since", admin.EmptyFieldListFilter),
    )
    actions = ("rebuild_consent_state",)  # type: ignore[assignment]
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
        "state_inconsistent_since",
    )
    readonly_fields = fields

    def has_rebuild_consent_state_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("consent.rebuild_consent_state")

    @admin.action(description="Rebuild consent state from the ledger", permissions=["rebuild_consent_state"])
    def rebuild_consent_state(self, request: HttpRequest, queryset: QuerySet[Subject]) -> None:
        """For subjects whose stored state verification found not to match their events (stamping refuses
        them until then): fold every purpose's state again from the ledger. Audited."""
        rebuilt = sum(
            consent_states_rebuild(subject=subject, actor=admin_actor(request))
            for subject in queryset.select_related("organization")
        )
        messages.success(
            request, f"Rebuilt {rebuilt} consent state(s) of {queryset.count()} subject(s) from the ledger."
        )

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
        states = consent_state_for_subject(organization=subject.organization, subject=subject)
        return {
            "consent_states": states,
            "consent_rows": [
                (state, consent_status_label(state.status), permission_basis_label(state.basis)) for state in states
            ],
            "history": events,
            "history_after": after,
            "history_next_after": events[-1].chain_index if has_more else None,
            **self._contact_context(request, subject),
            "subject_is_erased": subject.is_erased,
            "gpc": subject_gpc(organization=subject.organization, subject=subject),
            "related_sections": subject_sections(request, subject),
        }

    def _contact_context(self, request: HttpRequest, subject: Subject) -> dict[str, Any]:
        try:
            email = subject_email(subject)
        except SubjectKeyUnavailable:
            return {"subject_email_masked": None, "subject_key_unavailable": True}
        return {
            "subject_email_masked": mask_email(email) if email else None,
            "subject_key_unavailable": False,
            "can_reveal_contact": request.user.has_perm(REVEAL_PERMISSION),
        }

    def get_urls(self) -> list[URLPattern]:
        reveal = path(
            "<path:object_id>/reveal-contact/",
            self.admin_site.admin_view(self.reveal_contact_view),
            name="consent_subject_reveal_contact",
        )
        return [reveal, *super().get_urls()]

    def reveal_contact_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The email in clear: a POST (a link opened by a scanner reveals nothing), by a staff user with the
        reveal permission, for a subject of their organizations; audited."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(REVEAL_PERMISSION):
            raise PermissionDenied
        subject = self.get_object(request, unquote(object_id))
        if subject is None or not self.has_view_permission(request, subject):
            raise Http404
        email: str | None = None
        problem: str | None = None
        try:
            email = subject_contact_reveal(subject=subject, actor=admin_actor(request))
        except SubjectKeyUnavailable as exc:
            problem = exc.detail
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": subject,
            "title": "Subject contact data",
            "subject_email": email,
            "problem": problem,
            "subject_is_erased": subject.is_erased,
        }
        response = TemplateResponse(request, "admin/consent/subject/reveal_contact.html", context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(ConsentEvent)
class ConsentEventAdmin(OrganizationScopedAdmin, SubjectSearchAdmin, ReadOnlyModelAdmin):
    """The ledger is append-only (a database trigger refuses UPDATE and DELETE); the admin only reads it."""

    # Subject with its chain index, occurred with recorded: one column each, so the list fits 1366 px.
    list_display = ("event_id", "subject_position", "purpose", "action", "source", "jurisdiction", "gpc", "occurred")
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
    subject_path = "subject__"
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

    @admin.display(description="subject, chain index", ordering="subject__external_id")
    def subject_position(self, obj: ConsentEvent) -> SafeString:
        return format_html('{} <span class="workbench-muted">#{}</span>', obj.subject.external_id, obj.chain_index)

    @admin.display(description="occurred / recorded", ordering="occurred_at")
    def occurred(self, obj: ConsentEvent) -> SafeString:
        return format_html(
            '{}<br><span class="workbench-muted">{}</span>',
            admin_datetime(obj.occurred_at),
            admin_datetime(obj.recorded_at),
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


class StatusNowFilter(admin.SimpleListFilter):
    """Consent states by their status now, as the API reads it: a grant past its expiry is expired already."""

    title = "status now"
    parameter_name = "status_now"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        shown = [status for status in ConsentStatus if status not in (ConsentStatus.STALE, ConsentStatus.UNKNOWN)]
        return [(status.value, str(status.label)) for status in shown]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ConsentState]) -> QuerySet[ConsentState]:
        value = self.value()
        if value not in ConsentStatus.values:
            return queryset
        return consent_states_by_status_now(queryset, value)


@admin.register(ConsentState)
class ConsentStateAdmin(OrganizationScopedAdmin, ReadOnlyModelAdmin):
    """The consent projection, read-only; ``?gpc_conflict=yes`` is the GPC conflicts list: opt-ins a GPC
    opt-out overrode (CCPA regs §7025(c)(3)). The status is read as the API reads it (expiry and staleness
    applied now, before the expiry sweep writes its event); the stored status is on the detail page."""

    list_display = (
        "subject_link",
        "purpose",
        "status_now",
        "since_now",
        "valid_until",
        "jurisdiction",
        "gpc",
        "gpc_conflict",
        "organization",
    )
    list_display_links = ("status_now",)

    class Media(WorkbenchMedia):
        css = {"all": (WORKBENCH_CSS, "consent/admin/subject.css")}  # the status colours

    list_filter = (GpcConflictFilter, "organization", StatusNowFilter, JurisdictionFilter, "gpc")
    list_select_related = ("organization", "subject", "purpose", "basis_event__policy_version")
    search_fields = ("=subject__external_id",)
    ordering = ("-since", "-pk")
    show_full_result_count = False
    fields = (
        "organization",
        "subject",
        "purpose",
        "status_now",
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
        return subject_change_link(obj.subject)

    @admin.display(description="status (read now)", ordering="status")
    def status_now(self, obj: ConsentState) -> SafeString:
        status = consent_state_status_now(state=obj)
        stored = "" if status == obj.status else f" (stored: {consent_status_label(obj.status).lower()})"
        return format_html(
            '<span class="consent-status-{}">{}</span><span class="workbench-muted">{}</span>',
            status,
            consent_status_label(status),
            stored,
        )

    @admin.display(description="since", ordering="since")
    def since_now(self, obj: ConsentState) -> str:
        """As the API says it: a grant that lapsed is expired since its ``valid_until``."""
        lapsed = consent_state_status_now(state=obj) == ConsentStatus.EXPIRED and obj.status != ConsentStatus.EXPIRED
        return admin_datetime(obj.valid_until if lapsed else obj.since)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentState]:
        return (
            super()
            .get_queryset(request)
            .select_related("organization", "subject", "purpose", "basis_event__policy_version")
        )

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.GET.get(GpcConflictFilter.parameter_name) == "yes":
            extra_context = {"title": "GPC conflicts", **(extra_context or {})}
        return super().changelist_view(request, extra_context)


@admin.register(GpcSignalReceipt)
class GpcSignalReceiptAdmin(OrganizationScopedAdmin, ReadOnlyModelAdmin):
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
        return subject_change_link(obj.subject)

    @admin.display(description="purposes opted out")
    def purposes(self, obj: GpcSignalReceipt) -> str:
        return ", ".join(obj.purposes_opted_out) or "—"


@admin.register(LedgerVerificationRun)
class LedgerVerificationRunAdmin(OrganizationScopedAdmin, ActorNamesMixin, ReadOnlyModelAdmin):
    list_display = (
        "verified_at",
        "organization",
        "is_valid",
        "subjects_checked",
        "events_checked",
        "root_prefix",
        "triggered_by_name",
    )
    actor_fields = ("triggered_by",)
    triggered_by_name = actor_column("triggered_by", "triggered by")
    list_filter = ("is_valid", "organization", ("verified_at", admin.DateFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("=triggered_by", "=ledger_root")
    date_hierarchy = "verified_at"
    fields = (
        "verified_at",
        "organization",
        "triggered_by_name",
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
