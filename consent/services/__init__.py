"""Writes of the consent app. Import from here: ``from consent.services import consent_record_many``."""

from consent.services.catalog import (
    policy_version_create,
    purpose_create,
    purpose_update,
    source_create,
    source_retire,
    source_update,
)
from consent.services.gpc import (
    GPC_SOURCE_KEY,
    GpcOutcome,
    gpc_signal_record,
    gpc_source,
    organization_gpc_settings_update,
    subject_link,
)
from consent.services.recording import (
    CLIENT_ACTIONS,
    SYSTEM_SOURCE_KEY,
    ConsentEventInput,
    IdempotencyKeyReused,
    OccurredInFuture,
    RecordedEvent,
    SubjectErased,
    SubjectSuppressed,
    UnknownSource,
    consent_expire_lapsed,
    consent_record,
    consent_record_many,
    request_digest,
    system_source,
)
from consent.services.subjects import subject_erase, subject_suppress, suppression_index
from consent.services.verification import ledger_verify

__all__ = [
    "CLIENT_ACTIONS",
    "GPC_SOURCE_KEY",
    "SYSTEM_SOURCE_KEY",
    "ConsentEventInput",
    "GpcOutcome",
    "IdempotencyKeyReused",
    "OccurredInFuture",
    "RecordedEvent",
    "SubjectErased",
    "SubjectSuppressed",
    "UnknownSource",
    "consent_expire_lapsed",
    "consent_record",
    "consent_record_many",
    "gpc_signal_record",
    "gpc_source",
    "ledger_verify",
    "organization_gpc_settings_update",
    "policy_version_create",
    "purpose_create",
    "purpose_update",
    "request_digest",
    "source_create",
    "source_retire",
    "source_update",
    "subject_erase",
    "subject_link",
    "subject_suppress",
    "suppression_index",
    "system_source",
]
