from django.urls import path

from reports.api import views

urlpatterns = [
    path("reports/compliance", views.ComplianceReportApi.as_view(), name="reports-compliance"),
]
