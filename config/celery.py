"""Celery application: broker from CELERY_BROKER_URL, a server-less filesystem broker by default.

Signals (issue #15): a task message carries the id of the request that enqueued it and when it was published
(headers), so the worker's log lines name that request and /metrics can tell a queue's oldest message's age;
runs, retries and failures are counted (core.metrics); the worker logs through Django's LOGGING (the JSON or
text format and the redaction), not Celery's own handler.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from typing import Any

from celery import Celery, signals

from core.garbage_collection import freeze_after_start_up

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("provenant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The import worker parses rows with the consent API's serializer, so it lives with the API (issue #17).
app.autodiscover_tasks(["consent.api"])

REQUEST_ID_HEADER = "provenant_request_id"
PUBLISHED_AT_HEADER = "provenant_published_at"
_request_id_tokens: dict[str, object] = {}


@signals.worker_process_init.connect
def freeze_start_up_objects(**kwargs: Any) -> None:
    """A prefork worker process, forked with the tasks loaded: those objects out of the collector's sight."""
    freeze_after_start_up()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def format_worker_logs(logger: logging.Logger | None = None, **kwargs: Any) -> None:
    """The worker's handlers (Celery installs them, at the level given by ``--loglevel``) write in our format:
    JSON or text as PROVENANT_LOG_FORMAT says, redacted, with the task id and the enqueuing request's id."""
    from django.conf import settings

    from core.logging import JsonFormatter, RedactingFormatter, RequestIdFilter

    if logger is None:
        return
    formatter: logging.Formatter = (
        JsonFormatter()
        if settings.PROVENANT_LOG_FORMAT == "json"
        else RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s %(task_id)s] %(message)s")
    )
    for handler in logger.handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(existing, RequestIdFilter) for existing in handler.filters):
            handler.addFilter(RequestIdFilter())


@signals.before_task_publish.connect
def stamp_task_headers(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    from core.request_context import current_request_id

    if headers is None:
        return
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in headers:
        headers[REQUEST_ID_HEADER] = request_id
    headers[PUBLISHED_AT_HEADER] = time.time()


@signals.task_prerun.connect
def task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    from core.metrics import record_task
    from core.request_context import set_request_id

    request_id = getattr(task.request, REQUEST_ID_HEADER, None) if task is not None else None
    if task_id:
        _request_id_tokens[task_id] = set_request_id(request_id if isinstance(request_id, str) else None)
    record_task(getattr(task, "name", "unknown"), "started")


@signals.task_postrun.connect
def task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    from core.request_context import reset_request_id

    token = _request_id_tokens.pop(task_id or "", None)
    if token is not None:
        with contextlib.suppress(ValueError):  # set in another context (a thread pool): nothing to restore
            reset_request_id(token)


@signals.task_success.connect
def task_succeeded(sender: Any = None, **kwargs: Any) -> None:
    from core.metrics import record_task

    record_task(getattr(sender, "name", "unknown"), "succeeded")


@signals.task_retry.connect
def task_retried(sender: Any = None, **kwargs: Any) -> None:
    from core.metrics import record_task

    record_task(getattr(sender, "name", "unknown"), "retried")


@signals.task_failure.connect
def task_failed(sender: Any = None, **kwargs: Any) -> None:
    from core.metrics import record_task

    record_task(getattr(sender, "name", "unknown"), "failed")
