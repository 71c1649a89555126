from django.urls import path

from consent.api import imports, views

urlpatterns = [
    path("consent-events", views.ConsentEventCollectionApi.as_view(), name="consent-event-create"),
    path("consent-events/bulk", views.ConsentEventBulkCreateApi.as_view(), name="consent-event-bulk"),
    path("consent-events/export", views.ConsentEventExportApi.as_view(), name="consent-event-export"),
    path("subjects", views.SubjectListApi.as_view(), name="subject-list"),
    path("consent-states", views.ConsentStateListApi.as_view(), name="consent-state-list"),
    path("consent-events/<str:event_id>", views.ConsentEventDetailApi.as_view(), name="consent-event-detail"),
    path("subjects/<str:subject_id>/consent", views.SubjectConsentApi.as_view(), name="subject-consent"),
    path(
        "subjects/<str:subject_id>/consent-events",
        views.SubjectConsentEventsApi.as_view(),
        name="subject-consent-events",
    ),
    path("imports", imports.ImportCreateApi.as_view(), name="consent-import-create"),
    path("imports/<str:import_id>", imports.ImportDetailApi.as_view(), name="consent-import-detail"),
    path("imports/<str:import_id>/report", imports.ImportReportApi.as_view(), name="consent-import-report"),
    path("sources", views.SourceListCreateApi.as_view(), name="source-list"),
    path("sources/<str:key>", views.SourceDetailApi.as_view(), name="source-detail"),
    path("purposes", views.PurposeListCreateApi.as_view(), name="purpose-list"),
    path("purposes/<str:key>", views.PurposeDetailApi.as_view(), name="purpose-detail"),
    path(
        "purposes/<str:key>/policy-versions",
        views.PolicyVersionListCreateApi.as_view(),
        name="policy-version-list",
    ),
    path("ledger/verify", views.LedgerVerifyApi.as_view(), name="ledger-verify"),
    path("ledger/log", views.LedgerLogApi.as_view(), name="ledger-log"),
    path("ledger/checkpoint", views.LedgerCheckpointApi.as_view(), name="ledger-checkpoint"),
    path("ledger/export", views.LedgerExportApi.as_view(), name="ledger-export"),
    path("ledger/verifications", views.LedgerVerificationJobsApi.as_view(), name="ledger-verifications"),
    path("ledger/verifications/<str:job_id>", views.LedgerVerificationJobApi.as_view(), name="ledger-verification"),
    path("ledger/proofs/inclusion", views.LedgerInclusionProofApi.as_view(), name="ledger-proof-inclusion"),
    path("ledger/proofs/consistency", views.LedgerConsistencyProofApi.as_view(), name="ledger-proof-consistency"),
    path("signals", views.SignalCreateApi.as_view(), name="signal-create"),
    path("subjects/<str:subject_id>/links", views.SubjectLinksApi.as_view(), name="subject-links"),
    path("subjects/<str:subject_id>/privacy-status", views.PrivacyStatusApi.as_view(), name="subject-privacy-status"),
    path("subjects/<str:subject_id>/solicitation", views.SolicitationApi.as_view(), name="subject-solicitation"),
    path(
        "subjects/<str:subject_id>/unsubscribe-link",
        views.UnsubscribeLinkApi.as_view(),
        name="subject-unsubscribe-link",
    ),
]
