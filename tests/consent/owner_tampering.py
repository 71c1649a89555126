"""What the ledger tables' owner can do that the application role can't: switch the append-only guards off,
rewrite rows in one go, and switch them on again. The tamper tests use it to show what verification detects."""

from __future__ import annotations

from django.db import connection

# (table, guard trigger): every guard of the events, the chain tips and the transparency log.
GUARDS = [
    ("consent_consentevent", "consent_event_append_only"),
    ("consent_subject", "consent_subject_tip_grows"),
    ("consent_ledgerleaf", "consent_ledgerleaf_append_only"),
    ("consent_ledgertreenode", "consent_ledgertreenode_append_only"),
    ("consent_ledgerloghead", "consent_log_head_grows"),
    ("consent_ledgercheckpoint", "consent_ledgercheckpoint_append_only"),
]


def as_owner(*statements: str) -> None:
    """Run the statements with every guard off, as the tables' owner could."""
    with connection.cursor() as cursor:
        for table, trigger in GUARDS:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            for table, trigger in GUARDS:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
