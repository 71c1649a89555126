"""Admin for the legal team: organizations, API keys and the audit log.

Every write goes through a service (STYLE rule 1): :class:`ServiceModelAdmin` routes the admin's
save to ``service_create``/``service_update`` and turns a :class:`DomainError` into an error message
and a re-rendered form instead of a 500. Nothing is deleted from the admin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.models import ApiKey, AuditLogEntry, Organization, PrivacyCenterBranding, StaffOrganizationScope
from core.problems import DomainError
from core.scopes import SCOPES, WRITE_SCOPES
from core.selectors import staff_organization_ids
from core.services import (
    BrandingInput,
    api_key_create,
    api_key_rate_limit_update,
    api_key_revoke,
    organization_create,
    organization_update,
    privacy_center_branding_update,
)

admin.site.site_header = "Provenant"
admin.site.site_title = "Provenant admin"
admin.site.index_title = "Consent ledger administration"
# The app list stays on the index page: on a 1366 px laptop the side bar took a quarter of every list's width.
admin.site.enable_nav_sidebar = False

WORKBENCH_CSS = "core/admin/workbench.css"
ADMIN_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
# Automatic tasks by the name in their audit actor (``task:<name>``), as the legal team calls them.
TASK_LABELS = {
    "consent.verify_all_ledgers": "nightly ledger verification",
    "dsar.deadline_sweep": "deadline reminders and escalation",
    "dsar.identity_sweep": "identity follow-up",
    "dsar.messages": "messages to requesters",
    "dsar.workflow": "request workflow",
    "dsar.fulfil": "request fulfilment",
    "dsar.purge_exports": "export retention",
    "provenance.deliver": "deliveries to recipients",
}
# The audit log's object types that read better under another name ("dsar 01J…" is a data-subject request).
OBJECT_TYPE_LABELS = {"dsar": "request", "api_key": "API key", "client_membership": "client user"}
REQUESTER_LABELS = {
    "privacy-center": "the requester, in the privacy center",
    "verification-link": "the requester, through the verification link",
    "export-link": "the requester, through the download link",
}
# The index is the signed-in user's dashboard (core.dashboard: panels the apps register), above the app list.
admin.site.index_template = "admin/dashboard_index.html"

_DOMAIN_ERROR_ATTR = "provenant_domain_error"


def admin_actor(request: HttpRequest) -> str:
    """The audit actor of an admin user: never their name or email (PII), only their id."""
    return f"user:{request.user.pk}"


class WorkbenchMedia:
    """The stylesheet every model admin of the legal team loads (lists and pages that fit 1366 px)."""

    css: dict[str, tuple[str, ...]] = {"all": (WORKBENCH_CSS,)}


def admin_datetime(value: datetime | None) -> str:
    """An instant as every admin page shows it: local date, time with seconds and the zone
    (``2026-12-07 01:15:56 UTC``); ``—`` for none."""
    if value is None:
        return "—"
    return timezone.localtime(value).strftime(ADMIN_DATETIME_FORMAT)


def _user_label(user: Any) -> str:
    full = user.get_full_name().strip()
    return f"{full} ({user.username})" if full else str(user.username)


def actor_labels(actors: Iterable[str]) -> dict[str, str]:
    """Each audit actor as a reader names it: a staff user by name, an API key by its name, a task by what it
    does (two queries for any number of actors)."""
    wanted = {actor for actor in actors if actor}
    user_ids = set()
    for actor in wanted:
        for part in actor.replace(" for ", " ").split():
            kind, _, rest = part.partition(":")
            if kind == "user" and (rest.isascii() and rest.isdigit()):
                user_ids.add(int(rest))
    prefixes = {actor.partition(":")[2] for actor in wanted if actor.startswith("api_key:")}
    users = {user.pk: _user_label(user) for user in get_user_model().objects.filter(pk__in=user_ids)}
    keys = dict(ApiKey.objects.filter(prefix__in=prefixes).values_list("prefix", "name")) if prefixes else {}
    return {actor: _actor_label(actor, users, keys) for actor in wanted}


def _actor_label(actor: str, users: dict[int, str], keys: dict[str, str]) -> str:
    job, separator, requested_by = actor.partition(" for ")
    if separator and job.startswith("job:"):
        return f"background job for {_actor_label(requested_by, users, keys)}"
    kind, _, rest = actor.partition(":")
    if kind == "user" and (rest.isascii() and rest.isdigit()):
        return users.get(int(rest), f"staff user #{rest} (removed)")
    if kind == "api_key":
        name = keys.get(rest)
        return f"API key “{name}” ({rest}…)" if name else f"API key {rest}…"
    if kind == "task":
        return f"automatic: {TASK_LABELS.get(rest, rest)}"
    if kind == "requester":
        return REQUESTER_LABELS.get(rest, "the requester")
    if kind == "cli":
        return f"command line ({rest})" if rest else "command line"
    if kind == "system":
        return f"system ({rest.replace('-', ' ')})" if rest else "system"
    return actor


def actor_label(actor: str) -> str:
    return actor_labels([actor]).get(actor, "—")


def actor_column(field: str, description: str = "actor") -> Callable[[Any, Any], str]:
    """A list column showing the audit actor in ``field`` by name; with :class:`ActorNamesMixin` the names of a
    page are read at once."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: Any, obj: Any) -> str:
        actor = getattr(obj, field) or ""
        labels = getattr(obj, "_actor_labels", None)
        if labels is not None and actor in labels:
            return str(labels[actor])
        return actor_label(actor) if actor else "—"

    return column


class ActorNamesMixin(admin.ModelAdmin):
    """Reads the actor names of a list page in one go (the fields named in ``actor_fields``)."""

    actor_fields: tuple[str, ...] = ()

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        labels = actor_labels(getattr(row, field) or "" for row in rows for field in self.actor_fields)
        for row in rows:
            row._actor_labels = labels
        changelist.result_list = rows
        return changelist


def _adopt(target: Model, saved: Model) -> None:
    """Make the admin's unsaved form instance the row the service saved, so the admin's log and
    redirect point at it."""
    vars(target).update(vars(saved))


def _form_errors(error: DomainError, field_names: set[str]) -> list[tuple[str | None, str]]:
    """Field errors from a service's ``errors`` (JSON pointers), or one form-wide error."""
    errors: list[tuple[str | None, str]] = []
    for item in error.extra.get("errors") or []:
        name = str(item.get("pointer", "")).lstrip("/")
        if name in field_names:
            errors.append((name, str(item.get("detail", error.detail))))
    return errors or [(None, error.detail)]


def _rejecting_form(form_class: type[forms.ModelForm], error: DomainError) -> type[forms.ModelForm]:
    """``form_class`` that reports ``error`` as validation errors, to re-render the posted form."""

    def clean(self: forms.ModelForm) -> dict[str, Any] | None:
        cleaned = form_class.clean(self)
        for field, detail in _form_errors(error, set(self.fields)):
            self.add_error(field, detail)
        return cleaned

    return type(form_class.__name__, (form_class,), {"clean": clean})


class ServiceModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose writes are service calls. Deleting is never offered."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    Media = WorkbenchMedia

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        raise NotImplementedError

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        if not change:
            _adopt(obj, self.service_create(request, form))
        elif form.changed_data:
            _adopt(obj, self.service_update(request, obj, form))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            if request.method != "POST":
                raise
            # The transaction rolled back; render the posted form again with the service's reason.
            messages.error(request, exc.detail)
            setattr(request, _DOMAIN_ERROR_ATTR, exc)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form_class = super().get_form(request, obj, change, **kwargs)
        error = getattr(request, _DOMAIN_ERROR_ATTR, None)
        return _rejecting_form(form_class, error) if error is not None else form_class

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class NoEditingMixin:
    """No add, change or delete page, even for superusers: the rows are written by services only. For model
    admins and inlines alike (an inline's ``has_add_permission`` also takes the parent object)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyModelAdmin(NoEditingMixin, admin.ModelAdmin):
    """Lists and detail pages only, even for superusers: no add, change, delete or bulk action."""

    actions = None

    Media = WorkbenchMedia


class ReadOnlyTabularInline(NoEditingMixin, admin.TabularInline):
    """A history shown under its parent, never edited there."""

    extra = 0
    can_delete = False


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A foreign-key filter that offers only the organizations (or their rows) the staff user may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[Any]:
        ids = staff_organization_ids(request.user)
        if ids is None:
            return list(super().field_choices(field, request, model_admin))
        related = field.related_model
        if related is Organization:
            limit: dict[str, Any] = {"id__in": ids}
        elif any(f.name == "organization" for f in related._meta.get_fields()):
            limit = {"organization_id__in": ids}
        else:
            return list(super().field_choices(field, request, model_admin))
        ordering = self.field_admin_ordering(field, request, model_admin)
        return list(field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit))


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Staff limited to some organizations (:class:`StaffOrganizationScope`) see nothing of the others:
    lists, searches, date drill-downs, detail pages and actions all start from ``get_queryset``; foreign-key
    choices in forms and list filters are limited the same way. ``organization_lookup`` is the path from
    the model to its organization (``"subject__organization"``; ``"pk"`` for organizations)."""

    organization_lookup: str = "organization"

    Media = WorkbenchMedia

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        ids = staff_organization_ids(request.user)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.organization_lookup}__in": ids})

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field: Any = super().formfield_for_foreignkey(db_field, request, **kwargs)
        ids = staff_organization_ids(request.user)
        if ids is None or field is None or getattr(field, "queryset", None) is None:
            return field
        related = db_field.related_model
        if related is Organization:
            field.queryset = field.queryset.filter(id__in=ids)
        elif any(f.name == "organization" for f in related._meta.get_fields()):
            field.queryset = field.queryset.filter(organization_id__in=ids)
        return field

    def get_list_filter(self, request: HttpRequest) -> Any:
        scoped: list[Any] = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry and self._is_foreign_key(entry):
                scoped.append((entry, ScopedRelatedFieldListFilter))
            else:
                scoped.append(entry)
        return scoped

    def _is_foreign_key(self, name: str) -> bool:
        try:
            field = self.model._meta.get_field(name)
        except Exception:
            return False
        return bool(getattr(field, "many_to_one", False) or getattr(field, "one_to_one", False))


def report_domain_errors(request: HttpRequest, label: str, error: DomainError) -> None:
    messages.error(request, f"{label}: {error.detail}")


# --------------------------------------------------------------------------------------------
# Organizations
# --------------------------------------------------------------------------------------------


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Organizations are created, then edited through ``organization_update`` (name, site domain; audited). The
    GPC stance is edited where consent extends this admin (its service moves gpc.json's lastUpdate); branding
    has its own page, linked from here."""

    organization_lookup = "pk"
    list_display = ("slug", "name", "honor_gpc_everywhere", "gpc_settings_updated_at", "site_domain", "created_at")
    list_filter = ("honor_gpc_everywhere",)
    search_fields = ("slug", "name", "site_domain")
    date_hierarchy = "created_at"
    detail_fields: tuple[str, ...] = (
        "slug",
        "name",
        "site_domain",
        "honor_gpc_everywhere",
        "gpc_settings_updated_at",
        "branding",
        "created_at",
    )
    editable_fields: tuple[str, ...] = ("name", "site_domain")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("slug", "name") if obj is None else self.detail_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        if not self.has_change_permission(request, obj):
            return self.detail_fields
        return tuple(field for field in self.detail_fields if field not in self.editable_fields)

    @admin.display(description="privacy center branding")
    def branding(self, obj: Organization) -> SafeString | str:
        if obj.pk is None:
            return "—"
        existing = PrivacyCenterBranding.objects.filter(organization_id=obj.pk).values_list("pk", flat=True).first()
        if existing is not None:
            url = reverse("admin:core_privacycenterbranding_change", args=[existing])
            return format_html('<a href="{}">Edit the privacy center branding</a>', url)
        url = reverse("admin:core_privacycenterbranding_add")
        return format_html('<a href="{}?organization={}">Set up the privacy center branding</a>', url, obj.pk)

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        changed = set(form.changed_data)
        if not changed & {"name", "site_domain"}:
            return Organization.objects.get(pk=obj.pk)
        data = form.cleaned_data
        current = Organization.objects.get(pk=obj.pk)
        return organization_update(
            organization=current,
            name=data.get("name", current.name),
            site_domain=data.get("site_domain", current.site_domain),
            actor=admin_actor(request),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A staff user limited to some organizations can't create others.
        return super().has_add_permission(request) and staff_organization_ids(request.user) is None

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        return organization_create(
            slug=form.cleaned_data["slug"], name=form.cleaned_data["name"], actor=admin_actor(request)
        )


# --------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------


class ApiKeyCreateForm(forms.ModelForm):
    """A key never gets more than its issuer may grant: write scopes need ``core.issue_write_scopes``
    (``may_issue_write_scopes``, set per request by the admin), and the organization must be one the
    issuer may see (the field's choices are limited by :class:`OrganizationScopedAdmin`)."""

    may_issue_write_scopes = False
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope}: {description}") for scope, description in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = ("organization", "name", "scopes", "rate_limit_per_minute")

    def clean_scopes(self) -> list[str]:
        scopes = list(self.cleaned_data["scopes"])
        refused = sorted(set(scopes) & WRITE_SCOPES) if not self.may_issue_write_scopes else []
        if refused:
            raise forms.ValidationError(
                f"You may issue read scopes only; {', '.join(refused)} needs the key administrator's "
                "permission (Can issue API keys with write scopes)."
            )
        return scopes


class ApiKeyRateLimitForm(forms.ModelForm):
    """An existing key's one editable field: its requests a minute (empty: the deployment's default)."""

    class Meta:
        model = ApiKey
        fields = ("rate_limit_per_minute",)


class ApiKeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Keys are created and revoked, never edited. The secret is shown once; the digest never."""

    list_display = (
        "name",
        "organization",
        "prefix",
        "scope_list",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (ApiKeyStatusFilter, "organization")
    list_select_related = ("organization",)
    search_fields = ("name", "=prefix")
    actions = ("revoke_keys",)
    detail_fields = (
        "organization",
        "name",
        "prefix",
        "scopes",
        "rate_limit_per_minute",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKey]:
        return super().get_queryset(request).select_related("organization", "created_by")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ApiKeyCreateForm.Meta.fields if obj is None else self.detail_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        if self.has_change_permission(request, obj):
            return tuple(name for name in self.detail_fields if name != "rate_limit_per_minute")
        return self.detail_fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            may_issue = request.user.has_perm("core.issue_write_scopes")
            kwargs["form"] = type("ApiKeyCreateForm", (ApiKeyCreateForm,), {"may_issue_write_scopes": may_issue})
        else:
            kwargs["form"] = ApiKeyRateLimitForm
        return super().get_form(request, obj, change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The only change a key allows is its rate limit (``core.change_apikey``: key administrators); a revoked
        # key changes no more.
        if obj is not None and obj.revoked_at is not None:
            return False
        return request.user.has_perm("core.change_apikey")

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        return api_key_rate_limit_update(
            api_key=obj,
            rate_limit_per_minute=form.cleaned_data.get("rate_limit_per_minute"),
            actor=admin_actor(request),
        )

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        api_key, secret = api_key_create(
            organization=form.cleaned_data["organization"],
            name=form.cleaned_data["name"],
            scopes=list(form.cleaned_data["scopes"]),
            rate_limit_per_minute=form.cleaned_data.get("rate_limit_per_minute"),
            actor=admin_actor(request),
            created_by=request.user,
        )
        messages.warning(
            request,
            f"Copy this API key now: it is not stored and will never be shown again. {secret}",
        )
        return api_key

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        # Rendered in this response, not after a redirect: the secret message is consumed here and is
        # never written to the message cookie or the session.
        messages.success(request, f"The API key “{obj}” was created.")
        response = TemplateResponse(
            request,
            "admin/core/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "API key created",
                "api_key": obj,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("core.revoke_apikey")

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            try:
                api_key_revoke(api_key=api_key, actor=admin_actor(request))
            except DomainError as exc:
                report_domain_errors(request, str(api_key), exc)
            else:
                revoked += 1
        messages.success(request, f"Revoked {revoked} API key(s).")


# --------------------------------------------------------------------------------------------
# Audit log
# --------------------------------------------------------------------------------------------


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(OrganizationScopedAdmin, ActorNamesMixin, ReadOnlyModelAdmin):
    """Who did what: the actor by name (its key as recorded on the page), the action by its label."""

    list_display = ("occurred_at", "organization", "actor_name", "action", "changed_object")
    list_filter = ("action", "object_type", "organization", ("occurred_at", admin.DateFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("=actor", "=object_id", "action")
    date_hierarchy = "occurred_at"
    fields = ("occurred_at", "organization", "actor_name", "actor_key", "action", "object_type", "object_id", "data")
    readonly_fields = fields
    actor_fields = ("actor",)
    actor_name = actor_column("actor", "by")

    @admin.display(description="actor as recorded")
    def actor_key(self, obj: AuditLogEntry) -> str:
        return obj.actor

    @admin.display(description="object", ordering="object_type")
    def changed_object(self, obj: AuditLogEntry) -> str:
        kind = OBJECT_TYPE_LABELS.get(obj.object_type, obj.object_type.replace("_", " "))
        return f"{kind} {obj.object_id}"


# --------------------------------------------------------------------------------------------
# Staff organization scopes
# --------------------------------------------------------------------------------------------


@admin.register(StaffOrganizationScope)
class StaffOrganizationScopeAdmin(admin.ModelAdmin):
    """Who is limited to which organizations. Only staff who may see every organization manage scopes
    (a limited user can't widen their own)."""

    list_display = ("user", "organization_list")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    filter_horizontal = ("organizations",)
    search_fields = ("user__username",)

    @admin.display(description="organizations")
    def organization_list(self, obj: StaffOrganizationScope) -> str:
        return ", ".join(o.slug for o in obj.organizations.all())

    def has_module_permission(self, request: HttpRequest) -> bool:
        return staff_organization_ids(request.user) is None and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_organization_ids(request.user) is None and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return staff_organization_ids(request.user) is None and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_organization_ids(request.user) is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return staff_organization_ids(request.user) is None and super().has_delete_permission(request, obj)


# --------------------------------------------------------------------------------------------
# Privacy center branding
# --------------------------------------------------------------------------------------------


class PrivacyCenterBrandingForm(forms.ModelForm):
    """The branding form: a logo upload (checked by the service: PNG, JPEG or WebP, small), the languages as
    choices. Colours, URLs and the host are validated by the service, whose errors land on their fields."""

    logo_file = forms.FileField(
        label="Upload a logo", required=False, help_text="PNG, JPEG or WebP, at most 256 KB and 2048 pixels a side."
    )
    remove_logo = forms.BooleanField(label="Remove the uploaded logo", required=False)
    logo_url = forms.URLField(label="Logo URL", required=False, assume_scheme="https", max_length=500)
    privacy_policy_url = forms.URLField(
        label="Privacy policy URL", required=False, assume_scheme="https", max_length=500
    )
    languages = forms.MultipleChoiceField(
        choices=settings.LANGUAGES,
        help_text="Offered in the privacy center; English and German are translated, others show English.",
    )

    class Meta:
        model = PrivacyCenterBranding
        fields = (
            "organization",
            "display_name",
            "logo_url",
            "primary_color",
            "accent_color",
            "contact_email",
            "privacy_policy_url",
            "languages",
            "custom_host",
        )


@admin.register(PrivacyCenterBranding)
class PrivacyCenterBrandingAdmin(OrganizationScopedAdmin, ServiceModelAdmin):
    """Each organization's privacy-center branding; the Django model permissions (add/change/view privacy center
    branding) decide who edits it, the staff organization scope which organizations."""

    form = PrivacyCenterBrandingForm
    list_display = ("organization", "display_name", "custom_host", "updated_at")
    list_select_related = ("organization",)
    search_fields = ("organization__slug", "display_name", "custom_host")
    readonly_fields = ("updated_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("organization", "updated_at") if obj is not None else ("updated_at",)

    def _branding_input(self, form: forms.ModelForm) -> BrandingInput:
        data = form.cleaned_data
        upload = data.get("logo_file")
        return BrandingInput(
            display_name=data.get("display_name") or "",
            logo_url=data.get("logo_url") or "",
            primary_color=data.get("primary_color") or "",
            accent_color=data.get("accent_color") or "",
            contact_email=data.get("contact_email") or "",
            privacy_policy_url=data.get("privacy_policy_url") or "",
            languages=tuple(data.get("languages") or ()),
            custom_host=(data.get("custom_host") or "").strip().lower(),
            logo_file=upload.read() if upload is not None else None,
            remove_logo=bool(data.get("remove_logo")),
        )

    def service_create(self, request: HttpRequest, form: forms.ModelForm) -> Model:
        return privacy_center_branding_update(
            organization=form.cleaned_data["organization"], data=self._branding_input(form), actor=admin_actor(request)
        )

    def service_update(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> Model:
        return privacy_center_branding_update(
            organization=obj.organization, data=self._branding_input(form), actor=admin_actor(request)
        )
