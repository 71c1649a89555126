"""Celery's log lines (issue #15) carry the task's id and the id of the request that enqueued it: the request id
travels in the message's headers (before_task_publish) and is restored in the worker (task_prerun)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from core.request_context import reset_request_id, set_request_id
from core.tasks import enqueue
from tests.integration.conftest import CeleryWorker, wait_until

TASK = "consent.tasks.purge_preference_links"


@pytest.mark.django_db(transaction=True)
def test_worker_log_lines_name_the_task_and_the_enqueuing_request(
    celery_worker_factory: Callable[[], CeleryWorker], monkeypatch: Any
) -> None:
    monkeypatch.setenv("PROVENANT_LOG_FORMAT", "json")
    worker = celery_worker_factory().start()
    token = set_request_id("req-enqueued-42")
    try:
        enqueue(TASK)
    finally:
        reset_request_id(token)

    def succeeded() -> list[dict[str, Any]]:
        records = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
        return [r for r in records if f"Task {TASK}[" in r["message"] and " succeeded in " in r["message"]]

    (record,) = wait_until(succeeded, timeout=30)
    task_id = record["message"].split("[", 1)[1].split("]", 1)[0]
    assert record["task_id"] == task_id
    assert record["request_id"] == "req-enqueued-42"
    assert {"time", "level", "logger"} <= record.keys()
