"""The base of the consent API's views: the organization-scoped view, plus the subject lookup and the
``Sec-GPC`` header every consent operation on a person's behalf honours."""

from __future__ import annotations

from consent import selectors, services
from consent.gpc import GpcOutcome
from consent.models import Subject
from core.api.views import OrganizationApi
from core.problems import NotFound


class ConsentApi(OrganizationApi):
    def gpc_header(self) -> str | None:
        """The raw ``Sec-GPC`` value when the call carries the person's signal (the call is made on their
        behalf), else None."""
        if not getattr(self.request, "gpc", False):
            return None
        return getattr(self.request, "gpc_raw", None) or "1"

    def honor_gpc_header(self, subject_id: str) -> GpcOutcome | None:
        """Honor a ``Sec-GPC: 1`` on a call that records nothing else."""
        header = self.gpc_header()
        if header is None:
            return None
        return services.gpc_header_record(organization=self.organization, subject_id=subject_id, raw_value=header)

    def subject_or_404(self, subject_id: str) -> Subject:
        subject = selectors.subject_by_external_id(organization=self.organization, external_id=subject_id)
        if subject is None:
            raise NotFound("No subject with this id in your organization.", subject_id=subject_id)
        return subject
