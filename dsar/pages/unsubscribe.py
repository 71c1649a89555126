"""Unsubscribe links from recipients' emails (``consent.unsubscribe_links``).

- POST with the body ``List-Unsubscribe=One-Click`` (RFC 8058, sent by the mail provider) withdraws at once;
- GET and HEAD show a page asking to confirm and change nothing (mail scanners open links); its POST withdraws.

The link itself is the credential (signed, per person and purpose), so the POST needs no CSRF token: a mail
provider's one-click POST can't carry one, and a forged POST without the link can do nothing. It is not throttled
per address either: one provider posts for many people. Withdrawing is idempotent.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from consent import selectors as consent_selectors
from consent import services as consent_services
from consent.preference_links import PreferenceLinkExpired, PreferenceLinkInvalid
from consent.unsubscribe_links import target_from_token
from dsar.pages.site import privacy_center_for, render_page


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    center = privacy_center_for(request, slug)
    try:
        target = target_from_token(token)
        purpose = consent_selectors.purpose_by_key(organization=center.organization, key=target.purpose_key)
        if target.organization_id != center.organization.pk or purpose is None:
            raise PreferenceLinkInvalid("This unsubscribe link is not valid.")
    except (PreferenceLinkInvalid, PreferenceLinkExpired) as error:
        expired = isinstance(error, PreferenceLinkExpired)
        problem = {"expired": expired, "unsubscribe": True}
        return render_page(request, center, "privacy_center/link_problem.html", problem, status=410 if expired else 400)
    context: dict[str, Any] = {"purpose": purpose}
    if request.method != "POST":
        return render_page(request, center, "privacy_center/unsubscribe.html", context)
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    if not one_click and request.POST.get("confirm") != "yes":
        return render_page(request, center, "privacy_center/unsubscribe.html", context, status=400)
    outcome = consent_services.consent_unsubscribe(organization=center.organization, token=token)
    return render_page(request, center, "privacy_center/unsubscribe_done.html", {"purpose": outcome.purpose})
