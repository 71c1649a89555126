"""The privacy center's foundation: branding (validated, audited, permissioned), finding the organization by slug
and by its own host, the base page (strict CSP, language, accessibility hooks), translations and throttles."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from PIL import Image

from core.enums import AuditAction
from core.models import AuditLogEntry, Organization, PrivacyCenterBranding, StaffOrganizationScope
from core.problems import Conflict, InvalidInput
from core.services import BrandingInput, privacy_center_branding_update
from core.throttling import Throttle, throttle_allows
from core.translations import compiled, mo_messages, po_files, read_catalog, source_messages

pytestmark = pytest.mark.django_db

BASE = Path(settings.BASE_DIR)
HOST = "privacy.acme.example"


def png(size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 60, 120)).save(buffer, format="PNG")
    return buffer.getvalue()


def brand(organization: Organization, **fields: Any) -> PrivacyCenterBranding:
    return privacy_center_branding_update(organization=organization, data=BrandingInput(**fields), actor="test")


# ----------------------------------------------------------------------------------------------- branding service


def test_branding_is_saved_and_audited(organization: Organization) -> None:
    branding = brand(
        organization,
        display_name="Acme Privacy",
        primary_color="#1F4E79",
        contact_email="privacy@acme.example",
        privacy_policy_url="https://acme.example/privacy",
        languages=("de", "en"),
        logo_file=png(),
    )
    assert branding.title == "Acme Privacy"
    assert branding.primary_color == "#1f4e79"
    assert branding.logo_content_type == "image/png"
    entry = AuditLogEntry.objects.get(action=AuditAction.PRIVACY_CENTER_BRANDING_CHANGED)
    assert entry.organization == organization
    assert {"display_name", "languages", "logo_image"} <= set(entry.data["changed"])


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"primary_color": "#ffcc00"}, "/primary_color"),  # white text on yellow: 1.6:1
        ({"accent_color": "#9ec5ff"}, "/accent_color"),
        ({"primary_color": "blue"}, "/primary_color"),
        ({"logo_url": "http://acme.example/logo.png"}, "/logo_url"),
        ({"privacy_policy_url": "javascript:alert(1)"}, "/privacy_policy_url"),
        ({"languages": ("en", "xx")}, "/languages"),
        ({"languages": ()}, "/languages"),
        ({"custom_host": "Privacy.Acme.Example:8000"}, "/custom_host"),
        ({"custom_host": "not-allowed.example"}, "/custom_host"),
        ({"logo_file": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"}, "/logo_file"),
        ({"logo_file": png((4000, 10))}, "/logo_file"),
    ],
)
def test_bad_branding_is_refused_and_changes_nothing(
    organization: Organization, fields: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        brand(organization, **fields)
    assert pointer in [error["pointer"] for error in refused.value.extra["errors"]]
    assert not PrivacyCenterBranding.objects.exists()
    assert not AuditLogEntry.objects.filter(action=AuditAction.PRIVACY_CENTER_BRANDING_CHANGED).exists()


def test_a_host_serves_one_organization(
    organization: Organization, other_organization: Organization, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    brand(organization, custom_host=HOST)
    with pytest.raises(Conflict):
        brand(other_organization, custom_host=HOST)
    assert PrivacyCenterBranding.objects.get(custom_host=HOST).organization == organization


# ----------------------------------------------------------------------------------------------- admin


def staff(
    django_user_model: Any, client: Client, *codenames: str, organizations: list[Organization] | None = None
) -> Any:
    user = django_user_model.objects.create_user(username="staff", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    if organizations is not None:
        StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


def admin_form(organization: Organization, **overrides: Any) -> dict[str, Any]:
    data = {
        "organization": organization.pk,
        "display_name": "Acme",
        "logo_url": "",
        "primary_color": "#1f4e79",
        "accent_color": "#0b5cad",
        "contact_email": "privacy@acme.example",
        "privacy_policy_url": "",
        "languages": ["en", "de"],
        "custom_host": "",
    }
    data.update(overrides)
    return data


def test_staff_with_the_add_permission_brand_through_the_admin(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    staff(django_user_model, client, "add_privacycenterbranding", "view_privacycenterbranding")
    response = client.post("/admin/core/privacycenterbranding/add/", admin_form(organization))
    assert response.status_code == 302
    assert PrivacyCenterBranding.objects.get(organization=organization).contact_email == "privacy@acme.example"
    assert AuditLogEntry.objects.filter(action=AuditAction.PRIVACY_CENTER_BRANDING_CHANGED).count() == 1


def test_the_admin_shows_the_contrast_error_on_its_field(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    staff(django_user_model, client, "add_privacycenterbranding", "view_privacycenterbranding")
    response = client.post("/admin/core/privacycenterbranding/add/", admin_form(organization, primary_color="#ffcc00"))
    assert response.status_code == 200
    assert "WCAG AA needs 4.5:1" in response.content.decode()
    assert not PrivacyCenterBranding.objects.exists()


def test_staff_without_the_permission_or_outside_their_scope_change_nothing(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    brand(other_organization, display_name="Globex")
    staff(
        django_user_model,
        client,
        "view_privacycenterbranding",
        "add_privacycenterbranding",
        "change_privacycenterbranding",
        organizations=[organization],
    )
    assert client.get(f"/admin/core/privacycenterbranding/{other_organization.pk}/change/").status_code == 302
    listing = client.get("/admin/core/privacycenterbranding/").content.decode()
    assert "Globex" not in listing
    refused = client.post("/admin/core/privacycenterbranding/add/", admin_form(other_organization))
    assert refused.status_code == 200  # the organization is not among the form's choices
    assert not PrivacyCenterBranding.objects.filter(organization=organization).exists()
    client.logout()
    django_user_model.objects.create_user(username="viewer", password="x", is_staff=True)
    client.login(username="viewer", password="x")
    assert client.post("/admin/core/privacycenterbranding/add/", admin_form(organization)).status_code == 403
    assert not PrivacyCenterBranding.objects.filter(organization=organization).exists()


# ----------------------------------------------------------------------------------------------- pages


def test_the_overview_is_a_strict_csp_page_without_scripts(client: Client, organization: Organization) -> None:
    response = client.get("/privacy/acme/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert 'href="#main"' in html
    assert 'id="main"' in html
    assert "<script" not in html
    assert "style=" not in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_language_follows_the_browser_the_choice_and_the_offer(client: Client, organization: Organization) -> None:
    german = client.get("/privacy/acme/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert '<html lang="de">' in german.content.decode()
    assert "Wie wir Ihre Daten verwenden" in german.content.decode()
    assert german["Content-Language"] == "de"
    chosen = client.get("/privacy/acme/?lang=en", HTTP_ACCEPT_LANGUAGE="de")
    assert '<html lang="en">' in chosen.content.decode()
    assert chosen.cookies["privacy_center_language"].value == "en"
    remembered = client.get("/privacy/acme/", HTTP_ACCEPT_LANGUAGE="de")
    assert '<html lang="en">' in remembered.content.decode()


def test_an_offered_language_without_translation_shows_english(client: Client, organization: Organization) -> None:
    brand(organization, languages=("fr", "en"))
    html = client.get("/privacy/acme/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="en">' in html  # the page says the language it is really in (WCAG 3.1.1)
    assert "How we use your data" in html
    not_offered = client.get("/privacy/acme/?lang=de").content.decode()
    assert '<html lang="en">' in not_offered


def test_unknown_organizations_answer_404(client: Client, organization: Organization) -> None:
    assert client.get("/privacy/nobody/").status_code == 404
    assert client.get("/privacy/").status_code == 404


def test_a_custom_host_serves_only_its_organization(
    client: Client, organization: Organization, other_organization: Organization, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    brand(organization, custom_host=HOST)
    assert client.get("/privacy/acme/", HTTP_HOST=HOST).status_code == 200
    assert client.get("/privacy/globex/", HTTP_HOST=HOST).status_code == 404
    home = client.get("/privacy/", HTTP_HOST=HOST)
    assert home.status_code == 302
    assert home["Location"] == "/privacy/acme/"
    assert client.get("/privacy/globex/").status_code == 200  # the service's own host serves everyone


def test_a_host_not_allowed_is_refused(client: Client, organization: Organization) -> None:
    assert client.get("/privacy/acme/", HTTP_HOST="evil.example").status_code == 400


def test_theme_and_logo_come_from_our_origin(client: Client, organization: Organization) -> None:
    brand(organization, primary_color="#7a1f5c", accent_color="#005a32", logo_file=png())
    css = client.get("/privacy/acme/theme.css")
    assert css["Content-Type"].startswith("text/css")
    assert "--brand-primary: #7a1f5c;" in css.content.decode()
    assert "--brand-accent: #005a32;" in css.content.decode()
    logo = client.get("/privacy/acme/logo")
    assert logo["Content-Type"] == "image/png"
    assert logo["X-Content-Type-Options"] == "nosniff"
    assert logo.content == png()
    page = client.get("/privacy/acme/")
    assert 'src="/privacy/acme/logo?v=' in page.content.decode()
    assert "img-src 'self' data:;" in page["Content-Security-Policy"] + ";"


def test_a_remote_logo_widens_img_src_by_its_origin_only(client: Client, organization: Organization) -> None:
    brand(organization, logo_url="https://cdn.acme.example/brand/logo.png")
    page = client.get("/privacy/acme/")
    assert "img-src 'self' data: https://cdn.acme.example" in page["Content-Security-Policy"]
    assert 'referrerpolicy="no-referrer"' in page.content.decode()
    assert client.get("/privacy/acme/logo").status_code == 404


def test_a_scanner_head_changes_nothing(client: Client, organization: Organization) -> None:
    before = AuditLogEntry.objects.count()
    assert client.head("/privacy/acme/").status_code == 200
    assert client.post("/privacy/acme/").status_code == 405
    assert AuditLogEntry.objects.count() == before


# ----------------------------------------------------------------------------------------------- translations


def test_committed_mo_files_match_their_po() -> None:
    assert po_files(), "no catalogs found"
    for po_path in po_files():
        mo_path = po_path.with_suffix(".mo")
        assert mo_path.exists(), f"{mo_path} missing: run manage.py compile_translations"
        assert mo_messages(mo_path.read_bytes()) == mo_messages(compiled(po_path)), (
            f"{mo_path} is stale: run manage.py compile_translations"
        )


@pytest.mark.parametrize(
    ("app", "sources"),
    [
        ("dsar", ("dsar/templates/privacy_center", "dsar/pages")),
        ("consent", ("consent/templates/consent/privacy_center", "consent/services")),
    ],
)
def test_german_translates_every_privacy_center_message(app: str, sources: tuple[str, ...]) -> None:
    catalog = read_catalog(BASE / app / "locale" / "de" / "LC_MESSAGES" / "django.po")
    translated = {message.id for message in catalog if message.id and message.string and not message.fuzzy}
    messages = source_messages(*(BASE / source for source in sources))
    assert messages, "no messages extracted"
    missing = sorted(messages - translated)
    assert not missing, f"untranslated in German: {missing}"


# ----------------------------------------------------------------------------------------------- throttles


def test_throttles_count_per_address_and_per_identifier(rf: Any) -> None:
    throttle = Throttle("test.form", per_address="3/hour", per_identifier="2/hour")
    first = rf.post("/", REMOTE_ADDR="198.51.100.7")
    assert throttle_allows(first, throttle, identifier="ada@example.com")
    assert throttle_allows(first, throttle, identifier="ADA@example.com ")
    assert not throttle_allows(first, throttle, identifier="ada@example.com")  # the email's limit
    other_address = rf.post("/", REMOTE_ADDR="198.51.100.8")
    assert not throttle_allows(other_address, throttle, identifier="ada@example.com")
    assert throttle_allows(other_address, throttle, identifier="grace@example.com")
    assert not throttle_allows(first, throttle, identifier="linus@example.com")  # the address's limit
    keys = redis.Redis.from_url(settings.PROVENANT_THROTTLE_STORAGE_URI).keys("*")
    assert keys
    assert not any(b"example.com" in key for key in keys)
