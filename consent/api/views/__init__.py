"""Consent API: thin views that validate, call one service or selector, and render. Import from here."""

from consent.api.views.base import ConsentApi
from consent.api.views.catalog import (
    PolicyVersionListCreateApi,
    PurposeDetailApi,
    PurposeListCreateApi,
    PurposeScopedApi,
    SourceDetailApi,
    SourceListCreateApi,
)
from consent.api.views.gpc import (
    GpcWellKnownView,
    PrivacyStatusApi,
    SignalCreateApi,
    SolicitationApi,
    SubjectLinksApi,
    UnsubscribeLinkApi,
)
from consent.api.views.ledger import (
    ConsentEventBulkCreateApi,
    ConsentEventCreateApi,
    ConsentEventDetailApi,
    LedgerVerifyApi,
    SubjectConsentApi,
    SubjectConsentEventsApi,
)
from consent.api.views.lists import (
    ConsentEventCollectionApi,
    ConsentEventExportApi,
    ConsentEventFeedApi,
    ConsentStateListApi,
    SubjectListApi,
)
from consent.api.views.transparency import (
    LedgerCheckpointApi,
    LedgerConsistencyProofApi,
    LedgerExportApi,
    LedgerInclusionProofApi,
    LedgerLogApi,
    LedgerVerificationJobApi,
    LedgerVerificationJobsApi,
)

__all__ = [
    "ConsentApi",
    "ConsentEventBulkCreateApi",
    "ConsentEventCollectionApi",
    "ConsentEventCreateApi",
    "ConsentEventDetailApi",
    "ConsentEventExportApi",
    "ConsentEventFeedApi",
    "ConsentStateListApi",
    "GpcWellKnownView",
    "LedgerCheckpointApi",
    "LedgerConsistencyProofApi",
    "LedgerExportApi",
    "LedgerInclusionProofApi",
    "LedgerLogApi",
    "LedgerVerificationJobApi",
    "LedgerVerificationJobsApi",
    "LedgerVerifyApi",
    "PolicyVersionListCreateApi",
    "PrivacyStatusApi",
    "PurposeDetailApi",
    "PurposeListCreateApi",
    "PurposeScopedApi",
    "SignalCreateApi",
    "SolicitationApi",
    "SourceDetailApi",
    "SourceListCreateApi",
    "SubjectConsentApi",
    "SubjectConsentEventsApi",
    "SubjectLinksApi",
    "SubjectListApi",
    "UnsubscribeLinkApi",
]
