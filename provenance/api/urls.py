from django.urls import path

from provenance.api import views

urlpatterns = [
    path("recipients", views.RecipientListCreateApi.as_view(), name="recipient-list"),
    path("recipients/<str:key>", views.RecipientDetailApi.as_view(), name="recipient-detail"),
    path("stamps", views.StampCreateApi.as_view(), name="stamp-create"),
    path("stamps/batch", views.StampBatchApi.as_view(), name="stamp-batch"),
    path("stamps/verify", views.StampVerifyApi.as_view(), name="stamp-verify"),
]
