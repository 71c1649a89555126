from django.urls import path

from dsar.api import views

urlpatterns = [
    path("dsar", views.DsarCreateApi.as_view(), name="dsar-create"),
    path("dsar/<str:request_id>", views.DsarDetailApi.as_view(), name="dsar-detail"),
    path("deadlines/compute", views.DeadlineComputeApi.as_view(), name="deadlines-compute"),
]
