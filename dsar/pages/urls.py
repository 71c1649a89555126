"""The privacy center's URLs, under /privacy/ (config/urls.py), namespace ``privacy_center``."""

from django.urls import path

from dsar.pages import views

app_name = "privacy_center"

urlpatterns = [
    path("", views.host_home, name="host_home"),
    path("<slug:slug>/", views.overview, name="overview"),
    path("<slug:slug>/theme.css", views.theme, name="theme"),
    path("<slug:slug>/logo", views.logo, name="logo"),
]
