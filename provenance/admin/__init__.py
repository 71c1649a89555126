"""Admin for the legal team: recipients, the stamp log, deliveries and consent notices with their
attempt logs, signing keys and provenance alerts.

Every write is a call to a provenance service (STYLE rule 1); logs are read-only. What was sent about
one subject is the stamp log (and the delivery and notice lists) filtered by subject:
``?subject=<Subject pk>`` (the links on the subject page, no identifier in the URL) or
``?subject_external_id=<id>`` (add ``&organization__id__exact=<pk>``: ids repeat across organizations).
"""

from provenance.admin import keys_alerts, recipients, sending

__all__ = ["keys_alerts", "recipients", "sending"]
