from django.apps import AppConfig


class DsarConfig(AppConfig):
    name = "dsar"
