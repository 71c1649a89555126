from django.urls import path

from provenance.api import deliveries, evidence, lists, receipts, validation, views

urlpatterns = [
    path("recipients", views.RecipientListCreateApi.as_view(), name="recipient-list"),
    path("recipients/<str:key>", views.RecipientDetailApi.as_view(), name="recipient-detail"),
    path("stamps", lists.StampCollectionApi.as_view(), name="stamp-create"),
    path("stamps/batch", views.StampBatchApi.as_view(), name="stamp-batch"),
    path("stamps/verify", views.StampVerifyApi.as_view(), name="stamp-verify"),
    path("consent-events/<str:event_id>/receipt", receipts.ConsentReceiptApi.as_view(), name="consent-event-receipt"),
    path("subjects/<str:subject_id>/evidence", evidence.SubjectEvidenceApi.as_view(), name="subject-evidence"),
    path("provenance/alerts", lists.ProvenanceAlertListApi.as_view(), name="provenance-alert-list"),
    path("provenance/validate", validation.ProvenanceValidateApi.as_view(), name="provenance-validate"),
    path("deliveries", lists.DeliveryCollectionApi.as_view(), name="delivery-create"),
    path("deliveries/<str:public_id>", deliveries.DeliveryDetailApi.as_view(), name="delivery-detail"),
    path(
        "recipients/<str:key>/webhook-secret",
        deliveries.RecipientWebhookSecretRotateApi.as_view(),
        name="recipient-webhook-secret",
    ),
]
