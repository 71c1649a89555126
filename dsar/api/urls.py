from django.urls import path

from dsar.api import certificate, exports, identity_link, legal_contacts, lists, views, workflow

urlpatterns = [
    path("dsar/verify/<str:token>", identity_link.DsarVerifyLinkApi.as_view(), name="dsar-verify-link"),
    path("dsar", lists.DsarCollectionApi.as_view(), name="dsar-create"),
    path("dsar/<str:request_id>", views.DsarDetailApi.as_view(), name="dsar-detail"),
    path("deadlines/compute", views.DeadlineComputeApi.as_view(), name="deadlines-compute"),
    path("deadlines/settings", views.DeadlineSettingsApi.as_view(), name="deadlines-settings"),
    path("dsar/<str:request_id>/certificate", certificate.DsarCertificateApi.as_view(), name="dsar-certificate"),
    path("dsar/<str:request_id>/verify", workflow.DsarVerifyApi.as_view(), name="dsar-verify"),
    path("dsar/<str:request_id>/fulfil", workflow.DsarFulfilApi.as_view(), name="dsar-fulfil"),
    path("dsar/<str:request_id>/extend", workflow.DsarExtendApi.as_view(), name="dsar-extend"),
    path("dsar/<str:request_id>/transitions", workflow.DsarTransitionApi.as_view(), name="dsar-transitions"),
    path("dsar/exports/<str:token>", exports.DsarExportDownloadApi.as_view(), name="dsar-export-download"),
    path("legal-contacts", legal_contacts.LegalContactListCreateApi.as_view(), name="legal-contact-list"),
    path(
        "legal-contacts/<str:contact_id>", legal_contacts.LegalContactDetailApi.as_view(), name="legal-contact-detail"
    ),
]
