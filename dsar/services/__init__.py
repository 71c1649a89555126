"""Writes for data-subject requests, one direction: workflow (intake, transitions, the one extension, assignment)
<- identity (identity verification and its sweep) <- fulfilment (the steps that carry a request out) <- pipeline
(the hops after a commit: the only module that enqueues tasks) <- privacy_center (the person's request form);
connectors, exports, the deadline sweep, the messages to the requester (messaging: the outbox), their templates
(message_templates) and legal's casework (casework: linking the subject, writing to the requester) beside them.
Import from here."""

from dsar.enums import FINAL_STATUSES, LEGAL_TRANSITIONS, NO_VERIFICATION_NEEDED, OPEN_STATUSES
from dsar.problems import (
    AlreadyExtended,
    DeadlineInputInvalid,
    ExtensionNoticeTooLate,
    ExtensionUnavailable,
    FulfilmentNotReady,
    IllegalTransition,
    RequestClosed,
    RequesterUnreachable,
    StatusChanged,
    deadline_problem,
)
from dsar.services.casework import dsar_message_write, dsar_subject_link
from dsar.services.connectors import (
    connector_calls_record,
    connector_create,
    connector_secret_rotate,
    connector_update,
)
from dsar.services.deadline_settings import deadline_settings_update
from dsar.services.deadline_sweep import deadline_claims_record, deadline_mail_send, dsar_deadline_sweep
from dsar.services.erasure import dsar_erasure_cancel
from dsar.services.exports import (
    ExportDownload,
    dsar_export_download,
    dsar_export_download_by_staff,
    dsar_exports_purge,
)
from dsar.services.fulfilment import STEPS, dsar_fulfil_run, steps_for
from dsar.services.identity import (
    IDENTITY_SWEEP_ACTOR,
    LINK_ACTOR,
    dsar_identity_link_send,
    dsar_identity_sweep,
)
from dsar.services.legal_contacts import legal_contact_create, legal_contact_delete, legal_contact_update
from dsar.services.message_templates import (
    message_template_check,
    message_template_preview,
    message_template_reset,
    message_template_save,
)
from dsar.services.messaging import MESSAGE_ACTOR, dsar_messages_sweep, message_deliver, message_deliver_waiting
from dsar.services.pipeline import (
    AcceptedRequest,
    IdentityLinkOutcome,
    IdentityLinkPreview,
    dsar_accept,
    dsar_create,
    dsar_erasure_approve,
    dsar_erasure_sweep,
    dsar_fulfil_resume_stuck,
    dsar_fulfil_start,
    dsar_identity_link_preview,
    dsar_identity_request,
    dsar_identity_verify,
    dsar_identity_verify_by_link,
)
from dsar.services.privacy_center import PRIVACY_CENTER_ACTOR, dsar_file_from_privacy_center
from dsar.services.workflow import Requester, dsar_assign, dsar_extend, dsar_requester_reveal, dsar_transition

__all__ = [
    "FINAL_STATUSES",
    "IDENTITY_SWEEP_ACTOR",
    "LEGAL_TRANSITIONS",
    "LINK_ACTOR",
    "MESSAGE_ACTOR",
    "NO_VERIFICATION_NEEDED",
    "OPEN_STATUSES",
    "PRIVACY_CENTER_ACTOR",
    "STEPS",
    "AcceptedRequest",
    "AlreadyExtended",
    "DeadlineInputInvalid",
    "ExportDownload",
    "ExtensionNoticeTooLate",
    "ExtensionUnavailable",
    "FulfilmentNotReady",
    "IdentityLinkOutcome",
    "IdentityLinkPreview",
    "IllegalTransition",
    "RequestClosed",
    "Requester",
    "RequesterUnreachable",
    "StatusChanged",
    "connector_calls_record",
    "connector_create",
    "connector_secret_rotate",
    "connector_update",
    "deadline_claims_record",
    "deadline_mail_send",
    "deadline_problem",
    "deadline_settings_update",
    "dsar_accept",
    "dsar_assign",
    "dsar_create",
    "dsar_deadline_sweep",
    "dsar_erasure_approve",
    "dsar_erasure_cancel",
    "dsar_erasure_sweep",
    "dsar_export_download",
    "dsar_export_download_by_staff",
    "dsar_exports_purge",
    "dsar_extend",
    "dsar_file_from_privacy_center",
    "dsar_fulfil_resume_stuck",
    "dsar_fulfil_run",
    "dsar_fulfil_start",
    "dsar_identity_link_preview",
    "dsar_identity_link_send",
    "dsar_identity_request",
    "dsar_identity_sweep",
    "dsar_identity_verify",
    "dsar_identity_verify_by_link",
    "dsar_message_write",
    "dsar_messages_sweep",
    "dsar_requester_reveal",
    "dsar_subject_link",
    "dsar_transition",
    "legal_contact_create",
    "legal_contact_delete",
    "legal_contact_update",
    "message_deliver",
    "message_deliver_waiting",
    "message_template_check",
    "message_template_preview",
    "message_template_reset",
    "message_template_save",
    "steps_for",
]
