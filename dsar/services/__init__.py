"""Writes for data-subject requests: intake, status transitions and the one extension (workflow), identity
verification (identity) and the beat deadline sweep (deadline_sweep). Import from here."""

from dsar.services.common import (
    FINAL_STATUSES,
    LEGAL_TRANSITIONS,
    NO_VERIFICATION_NEEDED,
    OPEN_STATUSES,
    AlreadyExtended,
    DeadlineInputInvalid,
    ExtensionNoticeTooLate,
    ExtensionUnavailable,
    IllegalTransition,
    RequestClosed,
    StatusChanged,
    _requester_email,
    deadline_problem,
)
from dsar.services.deadline_sweep import dsar_deadline_sweep
from dsar.services.identity import (
    IDENTITY_SWEEP_ACTOR,
    LINK_ACTOR,
    RequesterUnreachable,
    VerificationOutcome,
    dsar_identity_request,
    dsar_identity_sweep,
    dsar_verification_link_send,
    dsar_verify,
    dsar_verify_link,
)
from dsar.services.workflow import Requester, dsar_assign, dsar_create, dsar_extend, dsar_transition

__all__ = [
    "FINAL_STATUSES",
    "IDENTITY_SWEEP_ACTOR",
    "LEGAL_TRANSITIONS",
    "LINK_ACTOR",
    "NO_VERIFICATION_NEEDED",
    "OPEN_STATUSES",
    "AlreadyExtended",
    "DeadlineInputInvalid",
    "ExtensionNoticeTooLate",
    "ExtensionUnavailable",
    "IllegalTransition",
    "RequestClosed",
    "Requester",
    "RequesterUnreachable",
    "StatusChanged",
    "VerificationOutcome",
    "_requester_email",
    "deadline_problem",
    "dsar_assign",
    "dsar_create",
    "dsar_deadline_sweep",
    "dsar_extend",
    "dsar_identity_request",
    "dsar_identity_sweep",
    "dsar_transition",
    "dsar_verification_link_send",
    "dsar_verify",
    "dsar_verify_link",
]
