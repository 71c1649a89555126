"""The request and answer shapes the client types: stamp requests and results, webhook notices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "block", "invalid"]


@dataclass(frozen=True, slots=True)
class StampRequest:
    """What ``POST /api/v1/stamps`` takes: the recipient's key, the subject, the purpose (or purposes) the
    data is sent for, and the data itself (any JSON). ``jurisdiction`` and ``provenance`` are optional."""

    recipient: str
    subject_id: str
    data: Any
    purpose: str | None = None
    purposes: Sequence[str] | None = None
    jurisdiction: str | None = None
    provenance: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"recipient": self.recipient, "subject_id": self.subject_id, "data": self.data}
        if self.purpose is not None:
            body["purpose"] = self.purpose
        if self.purposes is not None:
            body["purposes"] = list(self.purposes)
        if self.jurisdiction is not None:
            body["jurisdiction"] = self.jurisdiction
        if self.provenance is not None:
            body["provenance"] = dict(self.provenance)
        return body


@dataclass(frozen=True, slots=True)
class StampResult:
    """One decision. ``allow`` carries the ``body`` to send (``{"data", "privacy"}``) and the ``headers``
    (``Privacy-Stamp``, ``Content-Digest`` and ``Sec-GPC`` when the subject's GPC opt-out is on record);
    ``block`` carries per-purpose ``reasons``; ``invalid`` (batch only) carries ``errors``."""

    decision: Decision
    stamp_id: str | None
    body: Any
    headers: dict[str, str]
    reasons: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    index: int | None = None

    @property
    def is_allowed(self) -> bool:
        return self.decision == "allow"

    @property
    def reason_codes(self) -> list[str]:
        return [str(reason.get("reason")) for reason in self.reasons]

    @classmethod
    def from_json(cls, answer: Mapping[str, Any]) -> StampResult:
        given = answer.get("decision")
        decision: Decision = "allow" if given == "allow" else "block" if given == "block" else "invalid"
        return cls(
            decision=decision,
            stamp_id=answer.get("stamp_id") or None,
            body=answer.get("body"),
            headers={str(name): str(value) for name, value in (answer.get("headers") or {}).items()},
            reasons=[dict(reason) for reason in answer.get("reasons") or []],
            errors=[dict(error) for error in answer.get("errors") or []],
            index=answer.get("index"),
        )


@dataclass(frozen=True, slots=True)
class Notice:
    """A consent-change webhook notice. ``type`` is dotted (``consent.withdrawn``); the members a newer
    server adds (chain index, sequence, state after the event, a link to the current state) are kept in
    ``raw`` and, when present, in the typed fields."""

    id: str | None
    type: str
    subject_id: str
    purpose: str
    event_id: str | None
    occurred_at: str | None
    jurisdiction: str | None
    legal_deadline: str | None
    legal_rule: str | None
    chain_index: int | None
    sequence: int | None
    state: Any
    raw: dict[str, Any]
