from django.urls import path

from dsar.api import workflow

urlpatterns = [
    path("dsar/<str:request_id>/verify", workflow.DsarVerifyApi.as_view(), name="dsar-verify"),
    path("dsar/<str:request_id>/fulfil", workflow.DsarFulfilApi.as_view(), name="dsar-fulfil"),
    path("dsar/<str:request_id>/extend", workflow.DsarExtendApi.as_view(), name="dsar-extend"),
    path("dsar/<str:request_id>/transitions", workflow.DsarTransitionApi.as_view(), name="dsar-transitions"),
]
