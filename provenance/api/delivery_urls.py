from django.urls import path

from provenance.api import deliveries

urlpatterns = [
    path("deliveries", deliveries.DeliveryCreateApi.as_view(), name="delivery-create"),
    path("deliveries/<str:public_id>", deliveries.DeliveryDetailApi.as_view(), name="delivery-detail"),
    path(
        "recipients/<str:key>/webhook-secret",
        deliveries.RecipientWebhookSecretRotateApi.as_view(),
        name="recipient-webhook-secret",
    ),
]
