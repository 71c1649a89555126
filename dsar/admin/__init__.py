"""Admin for the legal team: the request queue with its workflow actions (requests, with its forms) and the
read-only connectors (connectors). Importing the package registers both."""

from dsar.admin.connectors import ConnectorAdmin
from dsar.admin.requests import DataSubjectRequestAdmin, countdown_level, days_left

__all__ = ["ConnectorAdmin", "DataSubjectRequestAdmin", "countdown_level", "days_left"]
