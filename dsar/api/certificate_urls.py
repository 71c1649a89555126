from django.urls import path

from dsar.api import certificate

urlpatterns = [
    path("dsar/<str:request_id>/certificate", certificate.DsarCertificateApi.as_view(), name="dsar-certificate"),
]
