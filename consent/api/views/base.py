"""The base of the consent API's views: the organization-scoped view, plus the subject lookup and the
``Sec-GPC`` header every consent operation on a person's behalf honours."""

from __future__ import annotations

from consent import selectors, services
from consent.models import Subject
from core.api.views import OrganizationApi
from core.problems import NotFound


class ConsentApi(OrganizationApi):
    def honor_gpc_header(self, subject_id: str, *, jurisdiction: str | None = None) -> services.GpcOutcome | None:
        """The call is made on the person's behalf: a ``Sec-GPC: 1`` it carries is their signal."""
        if not getattr(self.request, "gpc", False):
            return None
        return services.gpc_signal_record(
            organization=self.organization,
            subject_id=subject_id,
            channel="header",
            raw_value=getattr(self.request, "gpc_raw", None) or "1",
            jurisdiction=jurisdiction,
        )

    def subject_or_404(self, subject_id: str) -> Subject:
        subject = selectors.subject_by_external_id(organization=self.organization, external_id=subject_id)
        if subject is None:
            raise NotFound("No subject with this id in your organization.", subject_id=subject_id)
        return subject
