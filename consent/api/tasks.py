"""The worker side of ``POST /api/v1/imports``: thin, idempotent (a finished import is left alone; a redelivered
one resumes after its last committed batch). It lives with the API because it parses rows with the API's own
serializer; ``config.celery`` discovers it."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from consent import selectors, services
from consent.api.imports import ImportRowParser
from consent.enums import ImportStatus
from consent.import_files import read_rows
from core.problems import DomainError
from core.tasks import enqueue_or_defer

# An upload's task that has not finished this long after it was queued may have been lost: send it again (a live
# run keeps going; the second one stops at its first batch, ImportInProgress).
LOST_IMPORT_AFTER = timedelta(minutes=2)


@shared_task(acks_late=True, ignore_result=True)
def run_consent_import(job_id: int) -> dict[str, Any]:
    """Run (or resume) an uploaded import; a no-op once it is done."""
    job = selectors.consent_import_for_worker(job_id)
    if job is None or job.status == ImportStatus.DONE:
        return {"import": job_id, "ran": False}
    actor = f"task:consent.run_consent_import:{job.requested_by}"[:200]
    try:
        rows = read_rows(io.BytesIO(services.import_content(job)), job.file_format)
        progress = services.consent_import_run(
            organization=job.organization, job=job, rows=rows, parse=ImportRowParser(), actor=actor
        )
    except services.ImportInProgress:
        return {"import": job_id, "ran": False}
    except DomainError as exc:
        services.consent_import_complete(job=job, actor=actor, error=exc.detail)  # with the counts as committed
        return {"import": job_id, "ran": True, "error": exc.detail}
    return {"import": job_id, "ran": True, "recorded": progress.rows_recorded, "rejected": progress.rows_rejected}


@shared_task(ignore_result=True)
def sweep_consent_imports() -> dict[str, int]:
    """Every minute: send again the task of each upload still queued or running after LOST_IMPORT_AFTER."""
    ids = selectors.consent_import_ids_unfinished(created_before=timezone.now() - LOST_IMPORT_AFTER)
    sent = sum(1 for job_id in ids if enqueue_or_defer(services.IMPORT_TASK, job_id))
    return {"unfinished": len(ids), "sent": sent}
