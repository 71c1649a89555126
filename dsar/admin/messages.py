"""The organization's wording of the messages to requesters: overrides per kind and language, checked on save
(written by the service, audited, each change a new version), a preview against a sample request that writes and
sends nothing, a reset to the shipped default (a POST needing the change permission), and the defaults to start
from. Also the read-only list of the messages a request sent, shown under the request."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from core.admin import OrganizationScopedAdmin, ReadOnlyTabularInline, ServiceModelAdmin, admin_actor
from core.problems import DomainError
from dsar.enums import MESSAGE_LANGUAGES, MESSAGE_REQUIRED_VARIABLES, MessageKind
from dsar.message_context import CONTEXT_VARIABLES
from dsar.message_sandbox import ALLOWED_FILTERS, ALLOWED_TAGS, RenderedMessage, TemplateSource
from dsar.models import MessageTemplate, RequestMessage
from dsar.selectors import message_template_default
from dsar.services import (
    message_template_check,
    message_template_preview,
    message_template_reset,
    message_template_save,
)

PREVIEW_TEMPLATE = "admin/dsar/messagetemplate/preview.html"
DEFAULTS_TEMPLATE = "admin/dsar/messagetemplate/defaults.html"


class MessageTemplateForm(forms.ModelForm):
    """Checks the template in the sandbox against the sample request: a broken one is refused here, with the
    part and the reason, never at send time."""

    language = forms.ChoiceField(choices=[(code, code) for code in MESSAGE_LANGUAGES])

    class Meta:
        model = MessageTemplate
        fields = ("organization", "kind", "language", "subject", "body_text", "body_html")
        widgets = {
            "subject": forms.TextInput(attrs={"size": 100}),
            "body_text": forms.Textarea(attrs={"rows": 18, "cols": 100}),
            "body_html": forms.Textarea(attrs={"rows": 10, "cols": 100}),
        }

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        data = self.cleaned_data
        organization = data.get("organization") or getattr(self.instance, "organization", None)
        if self.errors or organization is None:
            return cleaned
        source = TemplateSource(data.get("subject") or "", data.get("body_text") or "", data.get("body_html") or "")
        try:
            message_template_check(
                organization=organization,
                kind=data.get("kind") or self.instance.kind,
                language=data.get("language") or self.instance.language,
                source=source,
            )
        except DomainError as exc:
            for item in exc.extra.get("errors") or [{"pointer": "", "detail": exc.detail}]:
                field = str(item.get("pointer", "")).lstrip("/")
                self.add_error(field if field in self.fields else None, str(item.get("detail")))
        return cleaned


def _variables_help() -> list[tuple[str, str]]:
    """Each variable a template may use, with the message kinds whose body must show it."""
    return [
        (name, ", ".join(kind for kind, names in MESSAGE_REQUIRED_VARIABLES.items() if name in names))
        for name in CONTEXT_VARIABLES
    ]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    form = MessageTemplateForm
    list_display = ("organization", "kind", "language", "is_active", "version", "updated_at", "updated_by")
    list_filter = ("organization", "kind", "language", "is_active")
    list_select_related = ("organization",)
    readonly_info = ("is_active", "version", "updated_at", "updated_by")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organization", "kind", "language", "subject", "body_text", "body_html", *self.readonly_info)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return self.readonly_info
        return ("organization", "kind", "language", *self.readonly_info)

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return message_template_save(
            organization=data["organization"],
            kind=data["kind"],
            language=data["language"],
            subject=data["subject"],
            body_text=data["body_text"],
            body_html=data.get("body_html") or "",
            actor=admin_actor(request),
        )

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        data = form.cleaned_data
        return message_template_save(
            organization=obj.organization,
            kind=obj.kind,
            language=obj.language,
            subject=data["subject"],
            body_text=data["body_text"],
            body_html=data.get("body_html") or "",
            actor=admin_actor(request),
        )

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """A new override starts from the default of the kind and language asked for (``?kind=&language=``)."""
        initial = dict(super().get_changeform_initial_data(request))
        kind, language = request.GET.get("kind"), request.GET.get("language", "en")
        if kind in MessageKind.values and language in MESSAGE_LANGUAGES:
            source = message_template_default(kind=kind, language=language).source
            initial |= {"subject": source.subject, "body_text": source.body_text, "body_html": source.body_html}
        return initial

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "variables": _variables_help(),
            "allowed_tags": ", ".join(ALLOWED_TAGS),
            "allowed_filters": ", ".join(ALLOWED_FILTERS),
        }
        return super().changeform_view(request, object_id, form_url, extra)

    # --- preview, reset, defaults ---------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path("defaults/", self.admin_site.admin_view(self.defaults_view), name=f"{prefix}_defaults"),
            path("<path:object_id>/preview/", self.admin_site.admin_view(self.preview_view), name=f"{prefix}_preview"),
            path("<path:object_id>/reset/", self.admin_site.admin_view(self.reset_view), name=f"{prefix}_reset"),
        ]
        return own + super().get_urls()

    def _scoped(self, request: HttpRequest, object_id: str) -> MessageTemplate:
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404("No such template.")
        return obj

    def _page(self, request: HttpRequest, template: str, context: dict[str, Any]) -> TemplateResponse:
        response = TemplateResponse(
            request, template, {**self.admin_site.each_context(request), "opts": self.opts, **context}
        )
        response["Cache-Control"] = "no-store"
        return response

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the saved override rendered for the sample request. Writes nothing, sends nothing."""
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        obj = self._scoped(request, object_id)
        source = TemplateSource(obj.subject, obj.body_text, obj.body_html)
        rendered: RenderedMessage | None = None
        error = ""
        try:
            rendered = message_template_preview(
                organization=obj.organization, kind=obj.kind, language=obj.language, source=source
            )
        except DomainError as exc:
            error = exc.detail
        return self._page(
            request,
            PREVIEW_TEMPLATE,
            {
                "title": f"Preview: {obj.get_kind_display()} ({obj.language}), version {obj.version}",
                "original": obj,
                "rendered": rendered,
                "error": error,
                "may_reset": obj.is_active and self.has_change_permission(request, obj),
            },
        )

    def reset_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST, with the change permission: the default is used again (the override stays on record)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self._scoped(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        message_template_reset(template=obj, actor=admin_actor(request))
        messages.success(request, f"{obj.get_kind_display()} ({obj.language}) uses the default again.")
        return HttpResponseRedirect(reverse("admin:dsar_messagetemplate_change", args=[obj.pk]))

    def defaults_view(self, request: HttpRequest) -> HttpResponse:
        """GET: every shipped default, as source and as the sample request renders it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = []
        for kind in MessageKind:
            for language in MESSAGE_LANGUAGES:
                chosen = message_template_default(kind=kind, language=language)
                rows.append({"kind": kind, "language": language, "version": chosen.version_id, "source": chosen.source})
        return self._page(
            request,
            DEFAULTS_TEMPLATE,
            {
                "title": "Default messages to requesters",
                "rows": rows,
                "may_add": self.has_add_permission(request),
                "variables": _variables_help(),
            },
        )


class RequestMessageInline(ReadOnlyTabularInline):
    """The messages sent to the requester: kind, template version and digest; never the text."""

    model = RequestMessage
    fields = ("created_at", "kind", "status", "language", "template_version", "sha256", "sent_at", "attempts")
    readonly_fields = fields
    ordering = ("created_at", "id")
    verbose_name_plural = "messages to the requester"
