"""The privacy center's URLs, under /privacy/ (config/urls.py), namespace ``privacy_center``."""

from django.urls import path

from dsar.pages import links, preferences, requests, unsubscribe, views

app_name = "privacy_center"

urlpatterns = [
    path("", views.host_home, name="host_home"),
    path("<slug:slug>/", views.overview, name="overview"),
    path("<slug:slug>/theme.css", views.theme, name="theme"),
    path("<slug:slug>/logo", views.logo, name="logo"),
    path("<slug:slug>/requests/", requests.RequestFormPage.as_view(), name="request_form"),
    path("<slug:slug>/requests/status/<str:token>", requests.RequestStatusPage.as_view(), name="request_status"),
    path("<slug:slug>/verify/<str:token>", links.VerifyIdentityPage.as_view(), name="verify"),
    path("<slug:slug>/download/<str:token>", links.ExportDownloadPage.as_view(), name="download"),
    path("<slug:slug>/preferences/", preferences.preferences, name="preferences"),
    path("<slug:slug>/preferences/open/<str:token>/", preferences.preferences_open, name="preferences_open"),
    path("<slug:slug>/preferences/manage/", preferences.preferences_manage, name="preferences_manage"),
    path("<slug:slug>/preferences/sign-out/", preferences.preferences_sign_out, name="preferences_sign_out"),
    path("<slug:slug>/unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
]
