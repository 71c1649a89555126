"""The legal team's data-subject request queue, nearest due date first, with its workflow actions.

Requests are created through ``dsar_create`` and move only through ``dsar_transition`` / ``dsar_extend``
(STYLE rule 1); the pages are otherwise view-only. Staff limited to some organizations see only theirs
(``OrganizationScopedAdmin``). The requester's contact is shown masked; revealing it, and downloading an export,
are POSTs that need their own permission and are audited. Every action declares the permission its effect needs.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from consent.admin.related import email_search_indexes, looks_like_email
from consent.models import Subject
from core.admin import (
    OrganizationScopedAdmin,
    ReadOnlyTabularInline,
    ServiceModelAdmin,
    actor_column,
    admin_actor,
    admin_datetime,
    report_domain_errors,
)
from core.problems import DomainError
from dsar.admin.forms import (
    ApproveForm,
    AssignForm,
    CancelErasureForm,
    DsarAddForm,
    ExtendForm,
    MessageForm,
    RejectForm,
    SubjectAutocomplete,
    SubjectLinkForm,
    VerifyForm,
)
from dsar.admin.messages import RequestMessageInline
from dsar.deadlines import DATE_KEYS
from dsar.enums import DEADLINE_LABELS, FINAL_STATUSES, RequestStatus, RequestType
from dsar.erasure_review import ErasureGate
from dsar.models import DataSubjectRequest, DsarExport, RequestTransition
from dsar.request_deadlines import deadline_zone
from dsar.selectors import (
    approval_preview,
    dsar_engine_warnings,
    dsar_requester_masked,
    dsar_review_warnings,
    export_for_request,
)
from dsar.services import (
    Requester,
    dsar_assign,
    dsar_create,
    dsar_erasure_approve,
    dsar_erasure_cancel,
    dsar_export_download_by_staff,
    dsar_extend,
    dsar_identity_verify,
    dsar_message_write,
    dsar_requester_reveal,
    dsar_subject_link,
    dsar_transition,
)
from dsar.services.casework import LINKABLE_STATUSES
from dsar.services.fulfilment import request_erasure_gate

# Days left at or below which the countdown turns orange (overdue is red).
DUE_SOON_DAYS = 3
ACTION_FORM_TEMPLATE = "admin/dsar/datasubjectrequest/action_form.html"
REVEAL_TEMPLATE = "admin/dsar/datasubjectrequest/requester_contact.html"
REVEAL_PERMISSION = "dsar.reveal_requester_contact"
DOWNLOAD_PERMISSION = "dsar.download_dsarexport"
# The request page's own buttons (object tools): each opens the form its list action uses, for this request only.
# Shown in the statuses where the workflow allows them; each still checks its permission and the service its rules.
OPEN_TOOLS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("verify_requests", "Verify", frozenset({RequestStatus.RECEIVED, RequestStatus.IDENTITY_PENDING})),
    ("extend_requests", "Extend", frozenset(set(RequestStatus.values) - FINAL_STATUSES)),
    ("approve_requests", "Approve", frozenset({RequestStatus.IN_PROGRESS, RequestStatus.AWAITING_REVIEW})),
    ("reject_requests", "Reject", frozenset(set(RequestStatus.values) - FINAL_STATUSES)),
    ("assign_requests", "Assign", frozenset(RequestStatus.values)),
    ("message_requester", "Send a message", frozenset(RequestStatus.values)),
    ("link_subject", "Link subject", LINKABLE_STATUSES),
)
OBJECT_ONLY_TOOLS = frozenset({"link_subject"})
ERASURE_TEXT = {
    ErasureGate.AWAITING_APPROVAL: "waiting for approval (Approve erasure / Cancel erasure)",
    ErasureGate.COOLING_OFF: "cooling off until {not_before} (Approve erasure runs it now; Cancel erasure stops it)",
    ErasureGate.OPEN: "approved: runs now",
    ErasureGate.CANCELLED: "cancelled on {cancelled}: it never ran",
}


def days_left(request: DataSubjectRequest, today: date | None = None) -> int:
    return (request.due_on - (today or timezone.localdate())).days


def countdown_level(days: int) -> str:
    """``overdue`` (red), ``due_soon`` (orange, within DUE_SOON_DAYS) or ``on_track`` (green)."""
    if days < 0:
        return "overdue"
    if days <= DUE_SOON_DAYS:
        return "due_soon"
    return "on_track"


class OverdueFilter(admin.SimpleListFilter):
    """Open requests past their enforced due date, or the rest."""

    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        overdue = queryset.filter(due_on__lt=timezone.localdate()).exclude(status__in=FINAL_STATUSES)
        if self.value() == "yes":
            return overdue
        if self.value() == "no":
            return queryset.exclude(pk__in=overdue.values("pk"))
        return queryset


class TransitionInline(ReadOnlyTabularInline):
    """The audit trail: every transition, oldest first, read-only."""

    model = RequestTransition
    fields = ("at", "actor_name", "from_label", "to_status", "reason")
    readonly_fields = fields
    ordering = ("at", "id")
    verbose_name_plural = "audit trail"
    actor_name = actor_column("actor", "by")

    @admin.display(description="from status")
    def from_label(self, obj: RequestTransition) -> str:
        return RequestStatus(obj.from_status).label if obj.from_status in RequestStatus.values else "—"


def _notice_date_proposed(queryset: QuerySet[DataSubjectRequest]) -> date | None:
    """Today where the selected requests' deadlines are counted (not the server's UTC date, which near midnight
    falls before a receipt date in Berlin or after today in California); None when their todays differ. Reads only
    the distinct zones the requests' deadlines name."""
    zones = queryset.order_by().values_list("deadlines__time_zone", flat=True).distinct()
    todays = {timezone.localtime(timezone.now(), deadline_zone({"time_zone": zone})).date() for zone in zones}
    return todays.pop() if len(todays) == 1 else None


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """The queue, nearest due date first, limited to the organizations the staff user may see."""

    # Type and regime, due date and countdown, receipt and channel share a column each: all fit 1366 px.
    list_display = ("public_id", "organization", "request_kind", "status", "due", "received", "assigned_to")
    # organization: scoped choices (OrganizationScopedAdmin); assignee: only those of requests the user sees.
    list_filter = (
        "status",
        "type",
        "regime",
        OverdueFilter,
        "organization",
        ("assignee", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("organization", "assignee")
    # An email is matched through the blind indexes (requester's, and the linked subject's): see get_search_results.
    search_fields = ("=public_id", "=subject_external_id", "=subject__external_id")
    ordering = ("due_on", "id")
    show_full_result_count = False
    actions = (
        "verify_requests",
        "extend_requests",
        "approve_requests",
        "reject_requests",
        "assign_requests",
        "message_requester",
        "approve_erasure",
        "cancel_erasure",
    )
    inlines = (TransitionInline, RequestMessageInline)
    add_fields = ("organization", "type", "jurisdiction", "regime", "channel", "received_at", "subject")
    detail_fields = (
        "public_id",
        "organization",
        "type",
        "regime",
        "jurisdiction",
        "channel",
        "status",
        "received_at",
        "requester_contact",
        "subject_link",
        "subject_external_id",
        "due_on",
        "countdown",
        "rejection_reason",
        "language",
        "is_extended",
        "extension_reason_code",
        "extension_notice_sent_on",
        "deadlines_table",
        "assigned_to",
        "erasure",
        "export_link",
        "created_at",
        "updated_at",
    )

    @admin.display(description="subject")
    def subject_link(self, obj: DataSubjectRequest) -> SafeString | str:
        """The ledger's subject page; without a link, how to make one."""
        if obj.subject_id is None:
            return "— (not linked: use Link subject)"
        return format_html(
            '<a href="{}" id="dsar-subject-link">{}</a>',
            reverse("admin:consent_subject_change", args=[obj.subject_id]),
            obj.subject.external_id if obj.subject is not None else obj.subject_id,
        )

    @admin.display(description="export download link")
    def export_link(self, obj: DataSubjectRequest) -> str:
        """Where the export's one download link stands; never the link itself (it was signed once, at approval,
        and emailed to the requester)."""
        export = export_for_request(obj)
        if export is None:
            return "—"
        if export.purged_at is not None:
            why = "when its subject was erased" if export.purge_reason == "erasure" else "after its retention period"
            return f"— (the export was deleted on {admin_datetime(export.purged_at)}, {why})"
        if export.link_issued_at is None or export.link_expires_at is None:
            return "not issued: the link is signed and emailed to the requester when the request is approved"
        return f"issued {admin_datetime(export.link_issued_at)}, valid until {admin_datetime(export.link_expires_at)}"

    @admin.display(description="erasure")
    def erasure(self, obj: DataSubjectRequest) -> str:
        if obj.type != RequestType.DELETION:
            return "—"
        if obj.erasure_cancelled_at is None and obj.status in (
            RequestStatus.RECEIVED,
            RequestStatus.IDENTITY_PENDING,
            RequestStatus.VERIFIED,
        ):
            return "not started: waits for the identity verification"
        if obj.status == RequestStatus.COMPLETED or (
            obj.status == RequestStatus.AWAITING_REVIEW and obj.erasure_cancelled_at is None
        ):
            return "ran"
        gate = request_erasure_gate(obj)
        return ERASURE_TEXT[gate].format(
            not_before=admin_datetime(obj.erasure_not_before) if obj.erasure_not_before else "",
            cancelled=admin_datetime(obj.erasure_cancelled_at) if obj.erasure_cancelled_at else "",
        )

    # --- pages ---------------------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[DataSubjectRequest]:
        # The queue shows the assignee and links the subject.
        return super().get_queryset(request).select_related("organization", "subject", "assignee")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest], search_term: str
    ) -> tuple[QuerySet[DataSubjectRequest], bool]:
        """Public id and external id exactly; an email through the blind indexes of the requester's address and of
        the linked subject's (the typed address is hashed as they were; nothing is decrypted)."""
        term = search_term.strip()
        results, may_have_duplicates = super().get_search_results(request, queryset, term.upper())
        if term and term.upper() != term:
            by_id, _ = super().get_search_results(request, queryset, term)
            results = results | by_id
        if looks_like_email(term):
            indexes = email_search_indexes(request, term)
            results = (
                results
                | queryset.filter(requester_email_index__in=indexes)
                | queryset.filter(subject__email_index__in=indexes)
            )
        return results, may_have_duplicates

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "subject":
            kwargs["widget"] = SubjectAutocomplete(self.admin_site, organization_field="id_organization")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return (*self.add_fields, "requester_email", "requester_name")
        return self.detail_fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """A request's page: where it stands first (status, due date, countdown, who has it), then the request, the
        person, the deadlines; the same fields as ``detail_fields``, grouped so the facts fit a laptop screen."""
        if obj is None:
            return super().get_fieldsets(request, obj)
        standing: list[Any] = [("status", "assigned_to"), ("due_on", "countdown")]
        if obj.status == RequestStatus.REJECTED:
            standing.append("rejection_reason")
        if obj.type == RequestType.DELETION:
            standing.append("erasure")
        if obj.type in (RequestType.ACCESS, RequestType.PORTABILITY):
            standing.append("export_link")
        return [
            ("Where it stands", {"fields": tuple(standing)}),
            (
                "The request",
                {
                    "fields": (
                        "public_id",
                        "organization",
                        ("type", "regime"),
                        ("jurisdiction", "channel"),
                        "received_at",
                    )
                },
            ),
            ("The person", {"fields": ("requester_contact", ("subject_link", "subject_external_id"), "language")}),
            (
                "Deadlines",
                {"fields": (("is_extended", "extension_reason_code", "extension_notice_sent_on"), "deadlines_table")},
            ),
            ("Record", {"fields": (("created_at", "updated_at"),), "classes": ("collapse",)}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else self.detail_fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = DsarAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[admin.options.InlineModelAdmin]]:
        return [] if obj is None else list(self.inlines)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # view-only: every change is a workflow action

    def has_workflow_permission(self, request: HttpRequest) -> bool:
        """The actions need the model's ``change`` permission itself (``has_change_permission`` is False)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def has_approve_erasure_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dsar.approve_erasure")

    def has_cancel_erasure_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dsar.cancel_erasure")

    # --- reveal and download: POSTs with their own permission, audited ----------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path(
                "<path:object_id>/reveal-contact/",
                self.admin_site.admin_view(self.reveal_contact_view),
                name=f"{prefix}_reveal_contact",
            ),
            path(
                "<path:object_id>/download-export/",
                self.admin_site.admin_view(self.download_export_view),
                name=f"{prefix}_download_export",
            ),
            path(
                "subject-autocomplete/",
                self.admin_site.admin_view(SubjectAutocompleteView.as_view(admin_site=self.admin_site)),
                name=f"{prefix}_subject_autocomplete",
            ),
            path(
                "<path:object_id>/tools/<slug:tool>/",
                self.admin_site.admin_view(self.tool_view),
                name=f"{prefix}_tool",
            ),
        ]
        return own + super().get_urls()

    def _scoped_object(self, request: HttpRequest, object_id: str) -> DataSubjectRequest:
        """The request, only if this staff user may see it (their organizations); 404 otherwise."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404("No such request.")
        return obj

    def reveal_contact_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(REVEAL_PERMISSION):
            raise PermissionDenied
        obj = self._scoped_object(request, object_id)
        contact = dsar_requester_reveal(request=obj, actor=admin_actor(request))
        response = TemplateResponse(
            request,
            REVEAL_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "original": obj,
                "title": f"Requester of {obj.public_id}",
                "contact": contact,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def download_export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(DOWNLOAD_PERMISSION):
            raise PermissionDenied
        obj = self._scoped_object(request, object_id)
        export = export_for_request(obj)
        if export is None:
            raise Http404("This request has no export.")
        try:
            download = dsar_export_download_by_staff(export=export, actor=admin_actor(request))
        except DomainError as exc:
            report_domain_errors(request, obj.public_id, exc)
            return HttpResponseRedirect(reverse("admin:dsar_datasubjectrequest_change", args=[obj.pk]))
        response = HttpResponse(download.content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        response["Cache-Control"] = "no-store"
        return response

    def request_tools(self, request: HttpRequest, obj: DataSubjectRequest) -> list[tuple[str, str]]:
        """The (label, url) of the buttons this user may use on this request in its status."""
        allowed = set(self.get_actions(request)) | (
            OBJECT_ONLY_TOOLS if self.has_workflow_permission(request) else set()
        )
        return [
            (label, reverse("admin:dsar_datasubjectrequest_tool", args=[obj.pk, name]))
            for name, label, statuses in OPEN_TOOLS
            if name in allowed and obj.status in statuses
        ]

    def tool_view(self, request: HttpRequest, object_id: str, tool: str) -> HttpResponse:
        """One request's button: the list action's own form (GET shows it; nothing is written), then its effect
        (POST), with the action's permission checked as the list checks it."""
        if tool not in {name for name, _, _ in OPEN_TOOLS}:
            raise Http404("No such tool.")
        if tool in OBJECT_ONLY_TOOLS:
            permitted = self.has_workflow_permission(request)
        else:
            permitted = tool in self.get_actions(request)  # the action's own permission check
        if not permitted:
            raise PermissionDenied
        obj = self._scoped_object(request, object_id)
        run = getattr(self, tool)
        if request.method not in ("GET", "POST"):  # a GET only shows the form: it is unbound
            return HttpResponseNotAllowed(["GET", "POST"])
        response = run(request, self.get_queryset(request).filter(pk=obj.pk))
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:dsar_datasubjectrequest_change", args=[obj.pk]))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id) if str(object_id).isdigit() else None
        extra = {
            **(extra_context or {}),
            "request_tools": self.request_tools(request, obj) if obj is not None else [],
            "review_warnings": dsar_review_warnings(obj) if obj is not None else [],
            "engine_warnings": dsar_engine_warnings(obj) if obj is not None else [],
            "may_reveal_contact": request.user.has_perm(REVEAL_PERMISSION),
            "may_download_export": request.user.has_perm(DOWNLOAD_PERMISSION)
            and str(object_id).isdigit()
            and DsarExport.objects.filter(request_id=int(object_id), purged_at__isnull=True).exists(),
        }
        return super().change_view(request, object_id, form_url, extra)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return dsar_create(
            organization=data["organization"],
            request_type=data["type"],
            channel=data["channel"],
            actor=admin_actor(request),
            jurisdiction=data.get("jurisdiction") or "",
            regime=data.get("regime") or None,
            received_at=data.get("received_at"),
            requester=Requester(email=data.get("requester_email") or "", name=data.get("requester_name") or ""),
            subject=data.get("subject"),
        )

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        """Nothing to save: the service wrote the request and its first history step."""

    # --- columns -------------------------------------------------------------------------------------------

    @admin.display(description="days left", ordering="due_on")
    def countdown(self, obj: DataSubjectRequest) -> SafeString | str:
        if obj.status in FINAL_STATUSES:
            return "closed"
        days = days_left(obj)
        level = countdown_level(days)
        text = f"{-days} days overdue" if days < 0 else f"{days} days left"
        # Coloured by core/static/core/admin/workbench.css (the CSP allows no inline style).
        return format_html('<strong class="dsar-countdown dsar-{}">{}</strong>', level, text)

    @admin.display(description="request", ordering="type")
    def request_kind(self, obj: DataSubjectRequest) -> SafeString:
        return format_html(
            '{}<br><span class="workbench-muted">{}</span>', obj.get_type_display(), obj.get_regime_display()
        )

    @admin.display(description="due", ordering="due_on")
    def due(self, obj: DataSubjectRequest) -> SafeString:
        return format_html('<span class="workbench-time">{}</span><br>{}', obj.due_on.isoformat(), self.countdown(obj))

    @admin.display(description="received", ordering="received_at")
    def received(self, obj: DataSubjectRequest) -> SafeString:
        return format_html(
            '{}<br><span class="workbench-muted">by {}</span>',
            admin_datetime(obj.received_at),
            obj.get_channel_display().lower(),
        )

    @admin.display(description="assignee", ordering="assignee__username")
    def assigned_to(self, obj: DataSubjectRequest) -> str:
        if obj.assignee is None:
            return "—"
        return obj.assignee.get_full_name() or obj.assignee.get_username()

    @admin.display(description="requester (masked)")
    def requester_contact(self, obj: DataSubjectRequest) -> str:
        masked = dsar_requester_masked(obj)
        return " / ".join(part for part in (masked.name, masked.email) if part) or "—"

    @admin.display(description="deadlines")
    def deadlines_table(self, obj: DataSubjectRequest) -> SafeString | str:
        deadlines = obj.deadlines or {}
        rules = deadlines.get("rules") or {}
        enforced = deadlines.get("enforced_key")
        rows = [
            (DEADLINE_LABELS.get(key, key), key, deadlines[key], "enforced" if key == enforced else "", rules.get(key))
            for key in DATE_KEYS
            if deadlines.get(key)
        ]
        if not rows:
            return "—"
        body = format_html_join(
            "", '<tr><td>{}<br><span class="workbench-muted">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>', rows
        )
        return format_html(
            '<table id="dsar-deadlines"><thead><tr><th>Deadline</th><th>Date</th><th></th><th>Rule</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            body,
        )

    # --- actions -------------------------------------------------------------------------------------------

    def _action_form(
        self,
        request: HttpRequest,
        queryset: QuerySet[DataSubjectRequest],
        *,
        form: forms.Form,
        action: str,
        title: str,
        intro: str,
        button: str,
        previews: list[Any] | None = None,
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            ACTION_FORM_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "intro": intro,
                "button": button,
                "requests": queryset.select_related("organization"),
                "form": form,
                "action_name": action,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "previews": previews or [],
                "may_reveal_contact": request.user.has_perm(REVEAL_PERMISSION),
            },
        )

    @admin.action(description="Verify identity of selected requests (with a note)", permissions=["workflow"])
    def verify_requests(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        form = VerifyForm(request.POST if "apply" in request.POST else None)
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="verify_requests",
                title="Verify the requesters' identity",
                intro="Verifying resumes a GDPR clock paused for the identity request; verified requests stay as "
                "they are.",
                button="Verify",
            )
        verified = 0
        for dsar in queryset.select_related("organization"):
            before = dsar.status
            try:
                after = dsar_identity_verify(request=dsar, actor=admin_actor(request), note=form.cleaned_data["note"])
            except DomainError as exc:
                report_domain_errors(request, dsar.public_id, exc)
            else:
                verified += after.status != before
        messages.success(request, f"Verified {verified} request(s).")
        return None

    @admin.action(description="Extend selected requests (reason and notice date)", permissions=["workflow"])
    def extend_requests(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        applying = "apply" in request.POST
        form = ExtendForm(
            request.POST if applying else None,
            initial={} if applying else {"notice_sent_on": _notice_date_proposed(queryset)},
        )
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="extend_requests",
                title="Extend data-subject requests",
                intro="The law allows one extension per request, with a notice to the requester in time: the "
                "requester is emailed the extension notice with its reason and the new due date.",
                button="Extend",
            )
        extended = 0
        for dsar in queryset.select_related("organization"):
            try:
                dsar_extend(
                    request=dsar,
                    reason_code=form.cleaned_data["reason_code"],
                    notice_sent_on=form.cleaned_data["notice_sent_on"],
                    actor=admin_actor(request),
                )
            except DomainError as exc:
                report_domain_errors(request, dsar.public_id, exc)
            else:
                extended += 1
                messages.success(request, f"{dsar.public_id}: extended; now due {dsar.due_on.isoformat()}.")
        if not extended:
            messages.warning(request, "No request was extended.")
        return None

    @admin.action(
        description="Approve selected requests (preview what is sent, then complete)", permissions=["workflow"]
    )
    def approve_requests(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        selected = list(queryset.select_related("organization"))
        previews = [approval_preview(dsar) for dsar in selected]
        form = ApproveForm(
            request.POST if "apply" in request.POST else None,
            has_warnings=any(preview.warnings for preview in previews),
        )
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="approve_requests",
                title="Approve data-subject requests",
                intro="Approving completes each request and emails the requester what the preview shows: for an "
                "export, its one download link (valid for a limited time).",
                button="Approve and send",
                previews=previews,
            )
        self._transition(request, queryset, to_status=RequestStatus.COMPLETED, reason="")
        return None

    @admin.action(description="Send a message to the requesters of selected requests", permissions=["workflow"])
    def message_requester(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        form = MessageForm(request.POST if "apply" in request.POST else None)
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="message_requester",
                title="Write to the requester",
                intro="The message goes to each selected request's requester by email, through the outbox; it is "
                "recorded in the request's messages and the audit log with you as its author.",
                button="Send",
            )
        sent = 0
        for dsar in queryset.select_related("organization"):
            try:
                dsar_message_write(request=dsar, text=form.cleaned_data["text"], actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, dsar.public_id, exc)
            else:
                sent += 1
        if sent:
            messages.success(request, f"Message queued to the requester of {sent} request(s).")
        return None

    def link_subject(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        """The request page's "Link subject": the ledger's subject the request is about (its organization's)."""
        dsar = queryset.select_related("organization").get()
        form = SubjectLinkForm(
            request.POST if "apply" in request.POST else None,
            initial={"subject": dsar.subject_id},
            admin_site=self.admin_site,
            organization_id=dsar.organization_id,
            subjects=self.admin_site.get_model_admin(Subject).get_queryset(request),
        )
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="link_subject",
                title="Link the request to a subject",
                intro="The export and the erasure work on the subject linked here; the subject's page lists its "
                "requests.",
                button="Link",
            )
        subject = form.cleaned_data["subject"]
        try:
            dsar_subject_link(request=dsar, subject=subject, actor=admin_actor(request))
        except DomainError as exc:
            report_domain_errors(request, dsar.public_id, exc)
        else:
            messages.success(request, f"{dsar.public_id}: linked to {subject}." if subject else "Subject unlinked.")
        return None

    @admin.action(description="Reject selected requests (with a reason)", permissions=["workflow"])
    def reject_requests(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="reject_requests",
                title="Reject data-subject requests",
                intro="A rejection is final; the reason is kept on each request and in its history.",
                button="Reject",
            )
        self._transition(request, queryset, to_status=RequestStatus.REJECTED, reason=form.cleaned_data["reason"])
        return None

    @admin.action(description="Assign selected requests to a staff user", permissions=["workflow"])
    def assign_requests(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        form = AssignForm(
            request.POST if "apply" in request.POST else None,
            organization_ids=set(queryset.values_list("organization_id", flat=True)),
        )
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="assign_requests",
                title="Assign data-subject requests",
                intro="The chosen member of the legal team handles the selected requests.",
                button="Assign",
            )
        assignee = form.cleaned_data["assignee"]
        assigned = 0
        for dsar in queryset.select_related("organization"):
            try:
                dsar_assign(request=dsar, assignee=assignee, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, dsar.public_id, exc)
            else:
                assigned += 1
        messages.success(request, f"{assigned} request(s) assigned to {assignee or 'nobody'}.")
        return None

    @admin.action(
        description="Approve erasure of selected deletion requests (it runs now)", permissions=["approve_erasure"]
    )
    def approve_erasure(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> None:
        approved = 0
        for dsar in queryset.select_related("organization"):
            try:
                dsar_erasure_approve(request=dsar, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, dsar.public_id, exc)
            else:
                approved += 1
        if approved:
            messages.success(request, f"Approved the erasure of {approved} request(s); it runs now.")

    @admin.action(
        description="Cancel erasure of selected deletion requests (rejects them, with a reason)",
        permissions=["cancel_erasure"],
    )
    def cancel_erasure(self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest]) -> HttpResponse | None:
        form = CancelErasureForm(request.POST if "apply" in request.POST else None)
        if not (form.is_bound and form.is_valid()):
            return self._action_form(
                request,
                queryset,
                form=form,
                action="cancel_erasure",
                title="Cancel erasures",
                intro="The erasure never runs; the request is rejected with this reason (its deadlines stay on "
                "record). An erasure that is running or done cannot be cancelled.",
                button="Cancel erasure",
            )
        cancelled = 0
        for dsar in queryset.select_related("organization"):
            try:
                dsar_erasure_cancel(
                    request=dsar,
                    actor=admin_actor(request),
                    reason=form.cleaned_data["reason"],
                    notify_requester=form.cleaned_data["notify_requester"],
                )
            except DomainError as exc:
                report_domain_errors(request, dsar.public_id, exc)
            else:
                cancelled += 1
        if cancelled:
            messages.success(request, f"Cancelled the erasure of {cancelled} request(s).")
        return None

    def _transition(
        self, request: HttpRequest, queryset: QuerySet[DataSubjectRequest], *, to_status: str, reason: str
    ) -> None:
        moved = 0
        for dsar in queryset.select_related("organization"):
            try:
                dsar_transition(
                    request=dsar,
                    to_status=to_status,
                    actor=admin_actor(request),
                    reason=reason,
                    notify_requester=to_status == RequestStatus.REJECTED,
                )
            except DomainError as exc:
                report_domain_errors(request, dsar.public_id, exc)
            else:
                moved += 1
        if moved:
            messages.success(request, f"{moved} request(s) now {RequestStatus(to_status).label.lower()}.")


class SubjectAutocompleteView(AutocompleteJsonView):
    """The admin's subject autocomplete (the subject list's own search: external id, or an email through its blind
    index), narrowed to the organization the request form names (``?organization=``): nothing without one."""

    def get_queryset(self) -> QuerySet[Any]:
        organization = self.request.GET.get("organization", "")
        if not organization.isdigit():
            return super().get_queryset().none()
        return super().get_queryset().filter(organization_id=int(organization))
