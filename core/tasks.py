"""How services hand work to Celery: by task name, after the transaction commits, on the configured queue.

Services never import ``tasks`` modules (tasks import services): they name the task, and this module sends it.
The queue is Celery's own ``CELERY_TASK_DEFAULT_QUEUE`` setting, read when the message is sent, so a process
(a test, a deployment with several queues) decides where its messages go without a branch in product code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)

# The retry policy of every task that only reads and writes the database: a lost connection or a database
# restart is transient; anything else is a bug or bad data and is not retried blindly.
DATABASE_RETRY: Final[dict[str, Any]] = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


def tasks_run_here() -> bool:
    """Whether ``enqueue`` runs a task in the calling process (Celery's eager mode) instead of sending it."""
    return bool(current_app.conf.task_always_eager)


def enqueue(task_name: str, *args: Any, eta: datetime | None = None) -> None:
    """Send ``task_name`` now (outside any transaction, or when the caller knows the rows are committed)."""
    app = current_app
    if tasks_run_here():  # local runs without a broker: run it here, as Celery's eager mode does
        app.loader.import_default_modules()
        app.tasks[task_name].apply(args=args)
        return
    app.send_task(task_name, args=args, queue=settings.CELERY_TASK_DEFAULT_QUEUE, eta=eta)


def enqueue_or_defer(task_name: str, *args: Any, eta: datetime | None = None) -> bool:
    """Send ``task_name``; with the broker down, log it and carry on (False). For work whose rows are committed
    and that a beat sweep finds again (issue #15: an API call succeeds while Redis is down)."""
    try:
        enqueue(task_name, *args, eta=eta)
    except BrokerUnavailable as exc:
        logger.warning("broker unavailable, %s left to its sweep: %s", task_name, type(exc).__name__)
        return False
    return True


def enqueue_after_commit(task_name: str, *args: Any, eta: datetime | None = None) -> None:
    """Send ``task_name`` once the surrounding transaction commits (at once when there is none). A message
    lost after that (the broker down, a crash) is found again by the task's sweep: every task here is idempotent."""
    transaction.on_commit(lambda: enqueue_or_defer(task_name, *args, eta=eta), robust=True)


def enqueue_each_after_commit(task_name: str, object_ids: Iterable[int], *, eta: datetime | None = None) -> None:
    """One message per id, sent after commit."""
    ids = list(object_ids)
    if not ids:
        return

    def send() -> None:
        for object_id in ids:
            if not enqueue_or_defer(task_name, object_id, eta=eta):
                return  # the broker is down: the sweep sends the rest too

    transaction.on_commit(send, robust=True)
