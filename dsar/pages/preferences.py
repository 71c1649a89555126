"""The preference center: a person proves control of an email address by a magic link, then gives or withdraws
each purpose's consent with one click (GDPR Art. 7(3)).

- ``preferences``: the email form. Its answer is the same page whether the email is known or not; throttled per
  client address and per email.
- ``preferences_open``: the link from the email. GET and HEAD show a page and change nothing (mail scanners open
  links); its POST uses the single-use link, asks where the person lives, honors the browser's GPC signal, and
  opens a session for this organization.
- ``preferences_manage``: each purpose's state for the person, and a button to give or withdraw it. Each click is
  a ledger event (``consent.services.preference_change``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from consent import selectors as consent_selectors
from consent import services as consent_services
from consent.models import PreferenceLink
from consent.preference_links import (
    PreferenceLinkExpired,
    PreferenceLinkInvalid,
    confirmation_value,
    is_confirmation_for,
    link_lifetime,
    public_id_from_token,
    session_lifetime,
)
from core.problems import DomainError
from core.throttling import Throttle, throttle_allows
from dsar.pages.forms import ChangeForm, ConfirmForm, EmailForm
from dsar.pages.site import PrivacyCenter, privacy_center_for, render_page

SESSION_KEY: Final = "privacy_center_preferences"


def link_throttle() -> Throttle:
    return Throttle(
        "privacy-center.preference-link",
        per_address=settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_ADDRESS,
        per_identifier=settings.PROVENANT_PRIVACY_CENTER_THROTTLE_PER_EMAIL,
    )


# --- the session -----------------------------------------------------------------------------------------------------


def _session_link(request: HttpRequest, center: PrivacyCenter) -> tuple[PreferenceLink, str] | None:
    """The confirmed link of this organization's preference session and the jurisdiction the person gave, or
    None when there is no session, it ran out, or the link is gone."""
    entry = request.session.get(SESSION_KEY, {}).get(str(center.organization.pk))
    if not isinstance(entry, dict):
        return None
    try:
        until = datetime.fromisoformat(str(entry.get("until")))
    except ValueError:
        return None
    if until <= timezone.now():
        return None
    link = consent_selectors.preference_link_by_public_id(
        organization=center.organization, public_id=str(entry.get("link"))
    )
    if link is None or link.confirmed_at is None:
        return None
    return link, str(entry.get("jurisdiction") or "")


def _open_session(request: HttpRequest, center: PrivacyCenter, link: PreferenceLink, jurisdiction: str) -> None:
    request.session.cycle_key()  # a new session id once the person proved who they are (no fixation)
    sessions = dict(request.session.get(SESSION_KEY, {}))
    sessions[str(center.organization.pk)] = {
        "link": link.public_id,
        "jurisdiction": jurisdiction,
        "until": (timezone.now() + session_lifetime()).isoformat(),
    }
    request.session[SESSION_KEY] = sessions


def _close_session(request: HttpRequest, center: PrivacyCenter) -> None:
    sessions = dict(request.session.get(SESSION_KEY, {}))
    sessions.pop(str(center.organization.pk), None)
    request.session[SESSION_KEY] = sessions


# --- the email form --------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, slug: str) -> HttpResponse:
    center = privacy_center_for(request, slug)
    context: dict[str, Any] = {
        "active_page": "preferences",
        "has_session": _session_link(request, center) is not None,
        "minutes": int(link_lifetime().total_seconds() // 60),
    }
    if request.method != "POST":
        return render_page(request, center, "privacy_center/preferences_request.html", {**context, "form": EmailForm()})
    form = EmailForm(request.POST)
    email = form.cleaned_data["email"] if form.is_valid() else None
    if not throttle_allows(request, link_throttle(), identifier=email):
        context.update(form=form, throttled=True)
        response = render_page(request, center, "privacy_center/preferences_request.html", context, status=429)
        response["Retry-After"] = "3600"  # the throttles count per hour
        return response
    if email is None:
        return render_page(
            request, center, "privacy_center/preferences_request.html", {**context, "form": form}, status=400
        )
    consent_services.preference_link_request(organization=center.organization, email=email, language=center.language)
    # The same answer for every address: nothing tells whether it is known.
    return render_page(request, center, "privacy_center/preferences_sent.html", context)


# --- the magic link --------------------------------------------------------------------------------------------------


def _link_problem(request: HttpRequest, center: PrivacyCenter, error: DomainError) -> HttpResponse:
    expired = isinstance(error, PreferenceLinkExpired)
    return render_page(
        request,
        center,
        "privacy_center/link_problem.html",
        {"active_page": "preferences", "expired": expired},
        status=410 if expired else 400,
    )


def _usable_link(center: PrivacyCenter, token: str) -> PreferenceLink:
    """The link the token names, read only: PreferenceLinkInvalid or PreferenceLinkExpired when it can't be used."""
    link = consent_selectors.preference_link_by_public_id(
        organization=center.organization, public_id=public_id_from_token(token)
    )
    if link is None:
        raise PreferenceLinkInvalid("This link is not valid; ask for a new one.")
    if link.confirmed_at is not None or link.expires_at <= timezone.now():
        raise PreferenceLinkExpired("This link has expired or was used already; ask for a new one.")
    return link


@require_http_methods(["GET", "HEAD", "POST"])
def preferences_open(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    center = privacy_center_for(request, slug)
    try:
        link = _usable_link(center, token)
    except (PreferenceLinkInvalid, PreferenceLinkExpired) as error:
        return _link_problem(request, center, error)
    context: dict[str, Any] = {"active_page": "preferences"}
    if request.method != "POST":
        email = consent_selectors.preference_link_email(link)
        subjects = consent_selectors.subjects_for_email(organization=center.organization, email=email)
        known = next((subject.jurisdiction for subject in subjects if subject.jurisdiction), None)
        form = ConfirmForm(initial={"confirmation": confirmation_value(token), "jurisdiction": known})
        return render_page(request, center, "privacy_center/preferences_open.html", {**context, "form": form})
    form = ConfirmForm(request.POST)
    if not form.is_valid() or not is_confirmation_for(form.cleaned_data["confirmation"], token):
        form = ConfirmForm(
            data={"confirmation": confirmation_value(token), "jurisdiction": request.POST.get("jurisdiction", "")}
        )
        form.is_valid()
        return render_page(
            request, center, "privacy_center/preferences_open.html", {**context, "form": form}, status=400
        )
    try:
        link = consent_services.preference_link_confirm(organization=center.organization, token=token)
    except (PreferenceLinkInvalid, PreferenceLinkExpired) as error:
        return _link_problem(request, center, error)
    jurisdiction = form.cleaned_data["jurisdiction"]
    _open_session(request, center, link, jurisdiction)
    if getattr(request, "gpc", False):
        consent_services.privacy_center_gpc_record(
            organization=center.organization,
            link=link,
            jurisdiction=jurisdiction,
            gpc_header=str(getattr(request, "gpc_raw", None) or "1"),
        )
    return redirect("privacy_center:preferences_manage", slug=center.slug)


# --- the preference page ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def preferences_manage(request: HttpRequest, slug: str) -> HttpResponse:
    center = privacy_center_for(request, slug)
    session = _session_link(request, center)
    if session is None:
        messages.info(request, _("Your session has ended. Ask for a new link to manage your choices."))
        return redirect("privacy_center:preferences", slug=center.slug)
    link, jurisdiction = session
    if request.method == "POST":
        return _change(request, center, link, jurisdiction)
    email = consent_selectors.preference_link_email(link)
    subjects = consent_selectors.subjects_for_email(organization=center.organization, email=email)
    person = consent_selectors.person_preferences(
        organization=center.organization, subjects=subjects, at=timezone.now()
    )
    context = {
        "active_page": "preferences",
        "person": person,
        "gpc_in_request": bool(getattr(request, "gpc", False)),
        "hide_gpc_notice": person.gpc is not None,  # the page says what the signal did instead
    }
    return render_page(request, center, "privacy_center/preferences_manage.html", context)


def _change(request: HttpRequest, center: PrivacyCenter, link: PreferenceLink, jurisdiction: str) -> HttpResponse:
    form = ChangeForm(request.POST)
    purpose = (
        consent_selectors.purpose_by_key(organization=center.organization, key=form.cleaned_data["purpose"])
        if form.is_valid()
        else None
    )
    if purpose is None:
        messages.error(request, _("That choice could not be recorded. Please try again."))
        return redirect("privacy_center:preferences_manage", slug=center.slug)
    give = form.cleaned_data["action"] == ChangeForm.GIVE
    change = consent_services.PreferenceChange(
        purpose=purpose.key,
        give=give,
        policy_version=form.cleaned_data["version"] or None,
        jurisdiction=jurisdiction,
        gpc_header=getattr(request, "gpc_raw", None) if getattr(request, "gpc", False) else None,
    )
    try:
        consent_services.preference_change(organization=center.organization, link=link, change=change)
    except DomainError:
        messages.error(request, _("That choice could not be recorded. Please try again."))
        return redirect("privacy_center:preferences_manage", slug=center.slug)
    if give:
        messages.success(request, _("You gave your consent to “%(purpose)s”.") % {"purpose": purpose.name})
    else:
        messages.success(request, _("You withdrew your consent to “%(purpose)s”.") % {"purpose": purpose.name})
    return redirect("privacy_center:preferences_manage", slug=center.slug)


@require_POST
def preferences_sign_out(request: HttpRequest, slug: str) -> HttpResponse:
    center = privacy_center_for(request, slug)
    _close_session(request, center)
    return redirect("privacy_center:overview", slug=center.slug)
