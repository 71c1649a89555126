from django.urls import path

from core.api.audit import AuditLogListApi

urlpatterns = [
    path("audit-log", AuditLogListApi.as_view(), name="audit-log-list"),
]
