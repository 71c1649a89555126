"""What every privacy-center page shares: finding the organization (by slug, checked against a custom host),
choosing the language, and rendering with the privacy center's headers.

Host-header safety: the host is read with ``request.get_host()``, which refuses any host not in ALLOWED_HOSTS
(400); a custom host serves only its own organization's pages, and links we send are built from configuration
(``core.selectors.privacy_center_base_url``), never from the Host header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from core.branding import normalize_host
from core.models import Organization, PrivacyCenterBranding
from core.selectors import organization_by_custom_host, organization_by_slug, privacy_center_branding

# The languages whose catalogs are complete; another offered language shows English (and says so in lang).
TRANSLATED_LANGUAGES: Final = ("en", "de")
FALLBACK_LANGUAGE: Final = "en"
LANGUAGE_COOKIE: Final = "privacy_center_language"
LANGUAGE_PARAMETER: Final = "lang"


@dataclass
class PrivacyCenter:
    """One organization's privacy center as one request sees it."""

    organization: Organization
    branding: PrivacyCenterBranding
    language: str
    chosen_language: str
    set_language_cookie: bool = False
    extra_image_origins: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.organization.slug


def _host_organization(request: HttpRequest) -> Organization | None:
    return organization_by_custom_host(normalize_host(request.get_host()))


def _offered(branding: PrivacyCenterBranding) -> list[str]:
    languages = [str(code) for code in branding.languages or [] if isinstance(code, str)]
    return languages or [FALLBACK_LANGUAGE]


def _choose_language(request: HttpRequest, offered: list[str]) -> tuple[str, bool]:
    """The offered language the person asked for (?lang=, then the cookie, then Accept-Language), else the
    organization's first; and whether the choice came from ?lang= (then it is remembered in a cookie)."""
    asked = request.GET.get(LANGUAGE_PARAMETER)
    if isinstance(asked, str) and asked in offered:
        return asked, True
    cookie = request.COOKIES.get(LANGUAGE_COOKIE)
    if cookie in offered:
        return str(cookie), False
    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")[:255]):
        base = code.lower().split("-", 1)[0]
        if base in offered:
            return base, False
    return offered[0], False


def privacy_center_for(request: HttpRequest, slug: str) -> PrivacyCenter:
    """The organization ``slug``'s privacy center, or 404: no such organization, or a custom host that belongs
    to another organization (one tenant's host never shows another's pages)."""
    organization = organization_by_slug(slug)
    if organization is None:
        raise Http404
    host_organization = _host_organization(request)
    if host_organization is not None and host_organization.pk != organization.pk:
        raise Http404
    branding = privacy_center_branding(organization)
    chosen, from_parameter = _choose_language(request, _offered(branding))
    language = chosen if chosen in TRANSLATED_LANGUAGES else FALLBACK_LANGUAGE
    center = PrivacyCenter(organization, branding, language, chosen, set_language_cookie=from_parameter)
    if branding.logo_url and not branding.logo_image:
        parts = urlsplit(branding.logo_url)
        center.extra_image_origins.append(f"{parts.scheme}://{parts.netloc}")
    return center


def organization_for_host(request: HttpRequest) -> Organization | None:
    """The organization whose custom host this request came to, if any."""
    return _host_organization(request)


def _language_links(request: HttpRequest, center: PrivacyCenter) -> list[dict[str, Any]]:
    names = dict(settings.LANGUAGES)
    links = []
    for code in _offered(center.branding):
        query = request.GET.copy()
        query[LANGUAGE_PARAMETER] = code
        links.append(
            {
                "code": code,
                "name": translation.get_language_info(code)["name_local"] if code in names else code,
                "url": f"{request.path}?{urlencode(sorted(query.items()))}",
                "is_current": code == center.chosen_language,
            }
        )
    return links


def render_page(
    request: HttpRequest,
    center: PrivacyCenter,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    """Render a privacy-center page in the center's language, with its headers: never cached (the pages can hold
    a person's choices), no referrer to other sites (links can carry tokens; ``same-origin`` keeps the Origin
    header Django's CSRF check needs), the CSP extended only by a remote logo's origin."""
    with translation.override(center.language):
        full_context = {
            "center": center,
            "branding": center.branding,
            "organization": center.organization,
            "language_links": _language_links(request, center),
            "overview_url": reverse("privacy_center:overview", kwargs={"slug": center.slug}),
            "theme_url": reverse("privacy_center:theme", kwargs={"slug": center.slug})
            + f"?v={branding_version(center)}",
            "logo_src": logo_src(center),
            **(context or {}),
        }
        response = render(request, template, full_context, status=status)
    response["Content-Language"] = center.language
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "same-origin"
    response["Vary"] = "Accept-Language, Cookie"
    if center.extra_image_origins:
        response._csp_update = {"img-src": center.extra_image_origins}  # type: ignore[attr-defined]
    if center.set_language_cookie:
        response.set_cookie(
            LANGUAGE_COOKIE,
            center.chosen_language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=request.is_secure(),
            httponly=True,
        )
    return response


def branding_version(center: PrivacyCenter) -> int:
    """Changes when the branding does (cache-busting the theme and logo URLs); 0 for the defaults."""
    branding = center.branding
    return 0 if branding._state.adding else int(branding.updated_at.timestamp())


def logo_src(center: PrivacyCenter) -> str:
    if center.branding.logo_image:
        return reverse("privacy_center:logo", kwargs={"slug": center.slug}) + f"?v={branding_version(center)}"
    return center.branding.logo_url
