from django.urls import path

from provenance.api import receipts

urlpatterns = [
    path("consent-events/<str:event_id>/receipt", receipts.ConsentReceiptApi.as_view(), name="consent-event-receipt"),
    path("provenance/validate", receipts.ProvenanceValidateApi.as_view(), name="provenance-validate"),
]
