import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from core.garbage_collection import freeze_after_start_up

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
application = get_wsgi_application()
# Every view module now rather than at the first request, then out of the collector's sight (issue #16).
get_resolver().url_patterns  # noqa: B018
freeze_after_start_up()
