"""The privacy center's shared pages: the overview, the organization's theme stylesheet and logo, and the home of
a custom host. Thin views: resolve the organization (``dsar.pages.site``), call a selector, render."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_safe

from consent.selectors import privacy_center_overview
from core.branding import DEFAULT_ACCENT, DEFAULT_PRIMARY, is_hex_colour
from dsar.pages.site import organization_for_host, privacy_center_for, render_page


@require_safe
def host_home(request: HttpRequest) -> HttpResponse:
    """``/privacy/`` on an organization's own host goes to its overview; elsewhere there is nothing here."""
    organization = organization_for_host(request)
    if organization is None:
        raise Http404
    return redirect("privacy_center:overview", slug=organization.slug)


@require_safe
def overview(request: HttpRequest, slug: str) -> HttpResponse:
    center = privacy_center_for(request, slug)
    facts = privacy_center_overview(organization=center.organization, at=timezone.now())
    return render_page(request, center, "privacy_center/overview.html", {"overview": facts})


@require_safe
def theme(request: HttpRequest, slug: str) -> HttpResponse:
    """The organization's colours as CSS custom properties: a stylesheet from our origin, so the strict CSP
    (style-src 'self', no inline styles) stays as it is."""
    center = privacy_center_for(request, slug)
    branding = center.branding
    colours = {
        "primary": branding.primary_color if is_hex_colour(branding.primary_color) else DEFAULT_PRIMARY,
        "accent": branding.accent_color if is_hex_colour(branding.accent_color) else DEFAULT_ACCENT,
    }
    css = render_to_string("privacy_center/theme.css", colours)
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def logo(request: HttpRequest, slug: str) -> HttpResponse:
    """The uploaded logo (PNG, JPEG or WebP, checked when uploaded), from our own origin."""
    center = privacy_center_for(request, slug)
    branding = center.branding
    if not branding.logo_image or not branding.logo_content_type:
        raise Http404
    response = HttpResponse(bytes(branding.logo_image), content_type=branding.logo_content_type)
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
