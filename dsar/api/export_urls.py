from django.urls import path

from dsar.api import exports

urlpatterns = [
    path("dsar/exports/<str:token>", exports.DsarExportDownloadApi.as_view(), name="dsar-export-download"),
]
