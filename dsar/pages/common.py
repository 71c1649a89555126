"""PROVISIONAL until the privacy center foundation lands: the organization, the shared context, throttling."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from core.models import Organization


def organization_or_404(slug: str) -> Organization:
    found = Organization.objects.filter(slug=slug).first()
    if found is None:
        raise Http404("no such privacy center")
    return found


def center_context(request: HttpRequest, organization: Organization | None) -> dict[str, Any]:
    return {"organization": organization}


def request_throttled(*, scope: str, organization: Organization, address: str, email: str) -> HttpResponse | None:
    return None
