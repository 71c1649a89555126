"""The README's 'Verifying the ledger yourself' snippet recomputes the hashes the API returns."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import event_body

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_event_hash() -> Any:
    text = README.read_text()
    section = text[text.index("## Verifying the ledger yourself") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "the README lost its verification snippet"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    return namespace["event_hash"]


def test_readme_snippet_recomputes_every_hash_of_a_history(client_rw, source, purpose):
    # Given a subject with a few events, one carrying sealed evidence
    client_rw.post(
        "/api/v1/consent-events",
        event_body(evidence={"ip_address": "198.51.100.7", "user_agent": "ua"}),
        format="json",
    )
    client_rw.post("/api/v1/consent-events", event_body(action="withdraw"), format="json")
    client_rw.post("/api/v1/consent-events", event_body(action="grant"), format="json")

    # When a client reads the history and applies the README's function
    history = client_rw.get("/api/v1/subjects/cust-1/consent-events").json()
    event_hash = readme_event_hash()

    # Then every hash matches, each links to its predecessor, and the last is the chain head
    previous = "0" * 64
    for event in history["results"]:
        assert event["prev_hash"] == previous
        assert event_hash(event) == event["hash"]
        previous = event["hash"]
    assert previous == history["ledger_head_hash"]
    assert len(history["results"]) == history["ledger_length"] == 3
