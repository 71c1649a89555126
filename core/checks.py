"""System checks (tag "provenant"): ``manage.py check`` fails on a broken jurisdiction rule table or GPC date."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from core.jurisdiction_rules import (
    DATA_PATH,
    ProblemKind,
    RuleTableError,
    is_rfc3339_date_or_date_time,
    load_rule_table_raw,
    rule_table_problems,
)

TAG = "provenant"
RULES_OBJECT = f"core/{DATA_PATH}"

# Stable ids: one per kind of problem, never renumbered.
CHECK_IDS: Mapping[ProblemKind, str] = {
    ProblemKind.UNREADABLE: "provenant.E001",
    ProblemKind.STRUCTURE: "provenant.E002",
    ProblemKind.GPC_LAST_UPDATE: "provenant.E003",
    ProblemKind.MISSING_SOURCE: "provenant.E004",
    ProblemKind.BAD_DATE: "provenant.E005",
    ProblemKind.UNKNOWN_REGIME: "provenant.E006",
    ProblemKind.UNKNOWN_SIGNAL_CATEGORY: "provenant.E007",
    ProblemKind.SIGNAL_WITHOUT_CATEGORIES: "provenant.E008",
    ProblemKind.DUPLICATE_CODE: "provenant.E009",
    ProblemKind.BAD_FIELD: "provenant.E010",
    ProblemKind.MISSING_FALLBACK: "provenant.E011",
    ProblemKind.BAD_DSAR: "provenant.E012",
}
GPC_LAST_UPDATE_SETTING_ID = "provenant.E013"

_HINTS: Mapping[ProblemKind, str] = {
    ProblemKind.MISSING_SOURCE: "Every jurisdiction rule cites at least one source URL.",
    ProblemKind.GPC_LAST_UPDATE: "Use an RFC 3339 full-date such as 2025-04-15 (it feeds /.well-known/gpc.json).",
}


@register(TAG)
def check_jurisdiction_rules(
    app_configs: Sequence[AppConfig] | None = None, *, raw_table: object = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report each problem in the jurisdiction rule table; ``raw_table`` replaces the packaged file in tests."""
    if raw_table is None:
        try:
            raw_table = load_rule_table_raw()
        except RuleTableError as exc:
            return [_error(problem.kind, problem.message) for problem in exc.problems]
    return [_error(problem.kind, problem.message) for problem in rule_table_problems(raw_table)]


@register(TAG)
def check_gpc_last_update_setting(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """``PROVENANT_GPC_LAST_UPDATE``, when set (not None or empty), is the GPC ``lastUpdate``: RFC 3339."""
    value = settings.PROVENANT_GPC_LAST_UPDATE
    if value is None or value == "" or is_rfc3339_date_or_date_time(value):
        return []
    return [
        Error(
            f"PROVENANT_GPC_LAST_UPDATE {value!r} is not an RFC 3339 full-date or date-time.",
            hint="Use a date such as 2025-04-15 or a date-time such as 2025-04-15T09:30:00Z.",
            obj="settings.PROVENANT_GPC_LAST_UPDATE",
            id=GPC_LAST_UPDATE_SETTING_ID,
        )
    ]


def _error(kind: ProblemKind, message: str) -> Error:
    return Error(message, hint=_HINTS.get(kind), obj=RULES_OBJECT, id=CHECK_IDS[kind])
