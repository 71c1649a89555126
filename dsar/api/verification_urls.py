from django.urls import path

from dsar.api import verification

urlpatterns = [
    path("dsar/verify/<str:token>", verification.DsarVerifyLinkApi.as_view(), name="dsar-verify-link"),
]
