"""Writes of the consent app. Import from here: ``from consent.services import consent_record_many``."""

from consent.gpc import GpcOutcome
from consent.services.appending import RecordedEvent
from consent.services.builtin_sources import (
    GPC_SOURCE_KEY,
    LEGAL_TEAM_SOURCE_KEY,
    PRIVACY_CENTER_SOURCE_KEY,
    SYSTEM_SOURCE_KEY,
    UNSUBSCRIBE_SOURCE_KEY,
    gpc_source,
    system_source,
)
from consent.services.catalog import (
    policy_version_create,
    purpose_create,
    purpose_update,
    source_create,
    source_retire,
    source_update,
)
from consent.services.checkpoints import (
    CheckpointKey,
    checkpoint_signer,
    ledger_checkpoint,
    ledger_origin,
    register_checkpoint_signer,
    unregister_checkpoint_signer,
)
from consent.services.expiry import consent_expire_lapsed
from consent.services.gpc import (
    gpc_signal_record,
    organization_gpc_settings_update,
    subject_link,
)
from consent.services.integrity import ledger_integrity_check
from consent.services.privacy_center import (
    PreferenceChange,
    UnsubscribeOutcome,
    consent_unsubscribe,
    preference_change,
    preference_link_confirm,
    preference_link_request,
    preference_link_url,
    preference_links_purge,
    privacy_center_gpc_record,
)
from consent.services.projection import consent_states_rebuild
from consent.services.recording import (
    SignalledRecording,
    consent_record,
    consent_record_many,
    consent_record_with_signals,
)
from consent.services.sequencing import SequencingReport, ledger_sequence, ledger_sequence_all
from consent.services.staff_recording import consent_record_by_staff
from consent.services.subjects import (
    subject_contact_reveal,
    subject_erase,
    subject_suppress,
    suppression_index,
)
from consent.services.validation import (
    ConsentEventInput,
    EvidenceDocument,
    IdempotencyKeyReused,
    OccurredInFuture,
    StaffRecord,
    SubjectErased,
    SubjectSuppressed,
    UnknownSource,
    request_digest,
)
from consent.services.verification_jobs import verification_job_create, verification_job_run, verification_jobs_due
from consent.services.witnesses import (
    checkpoint_push,
    checkpoint_push_claim,
    checkpoint_push_record,
    checkpoint_pushes_create,
    witness_create,
    witness_pushes_due,
    witness_update,
)
from consent.subject_keys import SubjectKeyUnavailable

__all__ = [
    "GPC_SOURCE_KEY",
    "LEGAL_TEAM_SOURCE_KEY",
    "PRIVACY_CENTER_SOURCE_KEY",
    "SYSTEM_SOURCE_KEY",
    "UNSUBSCRIBE_SOURCE_KEY",
    "CheckpointKey",
    "ConsentEventInput",
    "EvidenceDocument",
    "GpcOutcome",
    "IdempotencyKeyReused",
    "OccurredInFuture",
    "PreferenceChange",
    "RecordedEvent",
    "SequencingReport",
    "SignalledRecording",
    "StaffRecord",
    "SubjectErased",
    "SubjectKeyUnavailable",
    "SubjectSuppressed",
    "UnknownSource",
    "UnsubscribeOutcome",
    "checkpoint_push",
    "checkpoint_push_claim",
    "checkpoint_push_record",
    "checkpoint_pushes_create",
    "checkpoint_signer",
    "consent_expire_lapsed",
    "consent_record",
    "consent_record_by_staff",
    "consent_record_many",
    "consent_record_with_signals",
    "consent_states_rebuild",
    "consent_unsubscribe",
    "gpc_signal_record",
    "gpc_source",
    "ledger_checkpoint",
    "ledger_integrity_check",
    "ledger_origin",
    "ledger_sequence",
    "ledger_sequence_all",
    "organization_gpc_settings_update",
    "policy_version_create",
    "preference_change",
    "preference_link_confirm",
    "preference_link_request",
    "preference_link_url",
    "preference_links_purge",
    "privacy_center_gpc_record",
    "purpose_create",
    "purpose_update",
    "register_checkpoint_signer",
    "request_digest",
    "source_create",
    "source_retire",
    "source_update",
    "subject_contact_reveal",
    "subject_erase",
    "subject_link",
    "subject_suppress",
    "suppression_index",
    "system_source",
    "unregister_checkpoint_signer",
    "verification_job_create",
    "verification_job_run",
    "verification_jobs_due",
    "witness_create",
    "witness_pushes_due",
    "witness_update",
]
