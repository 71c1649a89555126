"""Hooks that let higher layers add to the consent admin without consent importing them (the layers point one
way): sections on the subject page (dsar lists the subject's requests there) and search terms that find
subjects (a request id finds its subject). Also the blind-index email search the subject and ledger lists share:
the typed email is hashed as ``Subject.email_index`` is and matched exactly; nothing is decrypted to search."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.safestring import SafeString

from consent.models import Subject
from consent.subject_ids import email_index_candidates
from core.crypto import normalize_email
from core.models import Organization
from core.selectors import staff_organization_ids

# (request, subject) -> an HTML fragment shown at the end of the subject page (empty: nothing shown).
SubjectSection = Callable[[HttpRequest, Subject], SafeString]
# (request, search term) -> the ids of the subjects the term names, or None when it names none.
SubjectSearch = Callable[[HttpRequest, str], "QuerySet[Subject] | None"]

_sections: dict[str, SubjectSection] = {}
_searches: dict[str, SubjectSearch] = {}


def register_subject_section(key: str, section: SubjectSection) -> None:
    """Add a section to every subject page, once per key (registering again replaces it)."""
    _sections[key] = section


def register_subject_search(key: str, search: SubjectSearch) -> None:
    """Let the subject and ledger searches find subjects through another app's records, once per key."""
    _searches[key] = search


def subject_sections(request: HttpRequest, subject: Subject) -> list[SafeString]:
    return [html for html in (section(request, subject) for _, section in sorted(_sections.items())) if html]


def subjects_named_by(request: HttpRequest, term: str) -> Q | None:
    """A filter on subjects for what the registered searches found for ``term``; None when none matched."""
    found = [result for search in _searches.values() if (result := search(request, term)) is not None]
    if not found:
        return None
    condition = Q()
    for subjects in found:
        condition |= Q(pk__in=subjects.values("pk"))
    return condition


def looks_like_email(term: str) -> bool:
    term = term.strip()
    return "@" in term and not any(ch.isspace() for ch in term)


def email_search_indexes(request: HttpRequest, term: str) -> list[str]:
    """Every blind index the typed email may be stored under, in each organization this staff user may see."""
    ids: Iterable[int] | None = staff_organization_ids(request.user)
    if ids is None:
        ids = Organization.objects.values_list("pk", flat=True)
    email = normalize_email(term)
    found = (index for organization_id in ids for index in email_index_candidates(organization_id, email))
    return list(dict.fromkeys(found))  # the untenanted form is the same in every organization


class SubjectSearchAdmin(admin.ModelAdmin):
    """The list's own search, plus: an email finds the subjects it is indexed under (exact match on the blind
    index), and the registered searches (a request id) find their subjects. ``subject_path`` is the path from the
    model to its subject ("" for subjects themselves, ``"subject__"`` for their events)."""

    subject_path: str = ""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if not term:
            return results, may_have_duplicates
        if looks_like_email(term):
            indexes = email_search_indexes(request, term)
            results = results | queryset.filter(**{f"{self.subject_path}email_index__in": indexes})
        named = subjects_named_by(request, term)
        if named is not None:
            subjects = Subject.objects.filter(named).values("pk")
            results = results | queryset.filter(**{f"{self.subject_path}pk__in": subjects})
        return results, may_have_duplicates
