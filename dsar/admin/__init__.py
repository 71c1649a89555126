"""Admin for the legal team: the request queue with its workflow actions (requests, with its forms) and the
read-only connectors (connectors), the organizations' deadline calendar and time zone (settings), the wording of
the messages to requesters (messages), and the subject page's requests section and request-id search (subjects,
registered with consent's admin hooks). Importing the package registers them."""

from dsar.admin.connectors import ConnectorAdmin
from dsar.admin.legal_contacts import LegalContactAdmin
from dsar.admin.messages import MessageTemplateAdmin
from dsar.admin.requests import DataSubjectRequestAdmin, countdown_level, days_left
from dsar.admin.settings import DeadlineSettingsAdmin
from dsar.admin.subjects import subject_requests_section

__all__ = [
    "ConnectorAdmin",
    "DataSubjectRequestAdmin",
    "DeadlineSettingsAdmin",
    "LegalContactAdmin",
    "MessageTemplateAdmin",
    "countdown_level",
    "days_left",
    "subject_requests_section",
]
