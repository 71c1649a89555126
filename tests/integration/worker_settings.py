"""Settings of the Celery worker the integration tests start: the test settings, plus the retry base and
outbound timeout the test chose (passed through the environment; the queue is CELERY_TASK_DEFAULT_QUEUE)."""

from __future__ import annotations

import os

from config.settings.test import *  # noqa: F403

PROVENANT_RETRY_BASE_SECONDS = float(os.environ.get("PROVENANT_RETRY_BASE_SECONDS", "30"))
PROVENANT_OUTBOUND_TIMEOUT_SECONDS = float(os.environ.get("PROVENANT_OUTBOUND_TIMEOUT_SECONDS", "10"))
# Requester messages go through the worker, as in production (config/settings/base.py).
PROVENANT_DSAR_MESSAGES_IN_WORKER = env_bool("PROVENANT_DSAR_MESSAGES_IN_WORKER", True)  # noqa: F405

# Email the worker sends (verification links, notices) is written to files the test reads.
if os.environ.get("PROVENANT_TEST_MAIL_DIR"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["PROVENANT_TEST_MAIL_DIR"]
