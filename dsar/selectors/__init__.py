"""Reads for data-subject requests, scoped by organization where a caller names one: requests and their requester
(requests), the subject's data for the export (subject_data), exports and connectors. Import from here."""

from dsar.selectors.connectors import (
    connector_call_answer,
    connector_secret,
    connectors_active,
    failed_call_keys,
    recipients_with_webhook,
)
from dsar.selectors.deadline_settings import (
    deadline_settings_of,
    deadline_settings_summary,
    organization_deadline_layer,
)
from dsar.selectors.exports import (
    export_by_public_id,
    export_for_request,
    export_ids_past_retention,
    export_retention,
)
from dsar.selectors.requests import (
    MaskedRequester,
    RequesterContact,
    deadlines_what_if,
    dsar_by_pk,
    dsar_by_public_id,
    dsar_certificate_facts,
    dsar_for_organization,
    dsar_history,
    dsar_ids_erasure_due,
    dsar_ids_stuck,
    dsar_requester_contact,
    dsar_requester_email,
    dsar_requester_masked,
    dsar_status,
    dsars_identity_pending,
    legal_recipients,
)
from dsar.selectors.subject_data import request_contact_email, request_subject, sale_purposes, subject_tables

__all__ = [
    "MaskedRequester",
    "RequesterContact",
    "connector_call_answer",
    "connector_secret",
    "connectors_active",
    "deadline_settings_of",
    "deadline_settings_summary",
    "deadlines_what_if",
    "dsar_by_pk",
    "dsar_by_public_id",
    "dsar_certificate_facts",
    "dsar_for_organization",
    "dsar_history",
    "dsar_ids_erasure_due",
    "dsar_ids_stuck",
    "dsar_requester_contact",
    "dsar_requester_email",
    "dsar_requester_masked",
    "dsar_status",
    "dsars_identity_pending",
    "export_by_public_id",
    "export_for_request",
    "export_ids_past_retention",
    "export_retention",
    "failed_call_keys",
    "legal_recipients",
    "organization_deadline_layer",
    "recipients_with_webhook",
    "request_contact_email",
    "request_subject",
    "sale_purposes",
    "subject_tables",
]
