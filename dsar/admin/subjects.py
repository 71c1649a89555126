"""The subject page's "Data-subject requests" section and the request-id search of the subject and ledger lists,
registered with consent's hooks (consent never imports dsar)."""

from __future__ import annotations

import re
from typing import Final

from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from consent.admin.related import register_subject_search, register_subject_section
from consent.models import Subject
from dsar.selectors import dsars_of_subject, subjects_of_request_id

SECTION_TEMPLATE: Final = "admin/dsar/subject_requests.html"
SECTION_ROWS: Final = 50
# A request's public id: a ULID (26 characters of Crockford's base 32).
REQUEST_ID: Final = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def subject_requests_section(request: HttpRequest, subject: Subject) -> SafeString:
    """The subject's requests with links to their pages, for staff who may see requests."""
    if not request.user.has_perm("dsar.view_datasubjectrequest"):
        return SafeString("")
    rows = list(dsars_of_subject(subject)[: SECTION_ROWS + 1])
    html = render_to_string(
        SECTION_TEMPLATE,
        {"requests": rows[:SECTION_ROWS], "has_more": len(rows) > SECTION_ROWS, "subject": subject},
        request=request,
    )
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, autoescaped


def subjects_of_request(request: HttpRequest, term: str) -> QuerySet[Subject] | None:
    term = term.strip().upper()
    return subjects_of_request_id(term) if REQUEST_ID.match(term) else None


register_subject_section("dsar.requests", subject_requests_section)
register_subject_search("dsar.request_id", subjects_of_request)
