from django.urls import path

from reports.pages import views

app_name = "reports"

urlpatterns = [
    path("login/", views.ClientLoginView.as_view(), name="login"),
    path("logout/", views.ClientLogoutView.as_view(), name="logout"),
    path("", views.report_home, name="home"),
    path("org/<slug:slug>/", views.report_page, name="report"),
    path("org/<slug:slug>/report.pdf", views.report_pdf_download, name="report_pdf"),
    path("org/<slug:slug>/csv/<slug:table>.csv", views.report_csv, name="report_csv"),
]
