"""System checks (tag "provenant") of the DSAR settings: ``manage.py check`` and every server start refuse an
unknown erasure review mode or a cooling-off period that is not a number of hours."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from dsar.erasure_review import cooling_off_problem, review_mode_problem

ERASURE_REVIEW_ID = "provenant.E101"
ERASURE_COOLING_OFF_ID = "provenant.E102"


@register("provenant")
def check_erasure_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    review = getattr(settings, "PROVENANT_DSAR_ERASURE_REVIEW", None)
    problem = review_mode_problem(review)
    if problem is not None:
        errors.append(
            Error(
                f"PROVENANT_DSAR_ERASURE_REVIEW {problem}.",
                hint='"legal" holds erasures for staff approval; "none" runs them after the cooling-off period.',
                obj="settings.PROVENANT_DSAR_ERASURE_REVIEW",
                id=ERASURE_REVIEW_ID,
            )
        )
    problem = cooling_off_problem(getattr(settings, "PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS", None))
    if problem is not None:
        errors.append(
            Error(
                f"PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS {problem}.",
                obj="settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS",
                id=ERASURE_COOLING_OFF_ID,
            )
        )
    return errors
