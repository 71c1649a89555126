"""Writes of the consent app. Import from here: ``from consent.services import consent_record_many``."""

from consent.services.catalog import (
    policy_version_create,
    purpose_create,
    purpose_update,
    source_create,
    source_retire,
    source_update,
)
from consent.services.recording import (
    CLIENT_ACTIONS,
    SYSTEM_SOURCE_KEY,
    ConsentEventInput,
    IdempotencyKeyReused,
    OccurredInFuture,
    RecordedEvent,
    SubjectErased,
    UnknownSource,
    consent_expire_lapsed,
    consent_record,
    consent_record_many,
    request_digest,
    system_source,
)
from consent.services.subjects import subject_erase
from consent.services.verification import ledger_verify

__all__ = [
    "CLIENT_ACTIONS",
    "SYSTEM_SOURCE_KEY",
    "ConsentEventInput",
    "IdempotencyKeyReused",
    "OccurredInFuture",
    "RecordedEvent",
    "SubjectErased",
    "UnknownSource",
    "consent_expire_lapsed",
    "consent_record",
    "consent_record_many",
    "ledger_verify",
    "policy_version_create",
    "purpose_create",
    "purpose_update",
    "request_digest",
    "source_create",
    "source_retire",
    "source_update",
    "subject_erase",
    "system_source",
]
