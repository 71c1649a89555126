"""Celery application: broker from CELERY_BROKER_URL, a server-less filesystem broker by default."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("provenant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
