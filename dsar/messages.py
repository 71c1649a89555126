"""The texts DSAR records and sends to legal: the reasons recorded when the identity sweep closes a request, the
deadline digest and escalation, and the one way legal's mail is sent. Messages to the requester are templates
(``dsar.message_defaults``), sent through ``services.messaging``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

from django.conf import settings
from django.core.mail import send_mail

from dsar.enums import DsarRegime, RequestType
from dsar.selectors import DigestLine

OVERDUE_KIND: Final = "deadline.overdue"
ESCALATED_KIND: Final = "deadline.escalated"
# The digest lists every open request due within this many days, and every overdue one.
DIGEST_DAYS: Final = 7


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def gdpr_unable_to_identify_reason(*, requested_on: date, cutoff: date) -> str:
    """GDPR Art. 12(2), 12(4) and REGULATORY.md A3: the reason recorded and sent when nobody answered."""
    return (
        "Unable to identify the data subject: the identity request of "
        f"{requested_on.isoformat()} was not answered by {cutoff.isoformat()} (GDPR Art. 12(2), 12(6); "
        "EDPB Guidelines 01/2022 §159). Art. 12(4) notice: we are not taking action on the request because we could "
        "not identify you. You have the right to lodge a complaint with a supervisory authority and to seek a "
        "judicial remedy."
    )


def ccpa_unverified_reason(*, requested_on: date, day_45: date) -> str:
    """CCPA: a request that cannot be verified may be denied; the reason and how to contest it are recorded."""
    return (
        "Denied: the requester's identity could not be verified; the identity request of "
        f"{requested_on.isoformat()} was not answered by day 45 ({day_45.isoformat()}) (Cal. Civ. Code "
        "§1798.130(a)(2); Cal. Code Regs. tit. 11 §7060-7062). Notice: you may appeal this decision by replying "
        "to this message, or make a new request with the information we need to verify your identity; you may "
        "also contact the California Privacy Protection Agency or the California Attorney General."
    )


_TYPE_LABELS: Final = {value: str(label) for value, label in RequestType.choices}
_REGIME_LABELS: Final = {value: str(label) for value, label in DsarRegime.choices}


def _days(due_on: date, today: date) -> str:
    days = (due_on - today).days
    if days < 0:
        return f"{-days} day{'s' if days != -1 else ''} overdue"
    if days == 0:
        return "due today"
    return f"{days} day{'s' if days != 1 else ''} left"


def _line(line: DigestLine, *, today: date, link: Callable[[DigestLine], str], new: str) -> list[str]:
    request_type = _TYPE_LABELS.get(line.request_type, line.request_type)
    head = f"  {line.public_id}  {request_type} ({_REGIME_LABELS.get(line.regime, line.regime)})"
    detail = f"    due {line.due_on.isoformat()}, {_days(line.due_on, today)}{new}"
    return [head, detail, f"    {link(line)}"]


def deadline_digest_message(
    *,
    organization_name: str,
    lines: list[DigestLine],
    today: date,
    new: Mapping[str, str],
    link: Callable[[DigestLine], str],
) -> Message:
    """One organization's digest for legal: every open request that is overdue, then every one due within
    ``DIGEST_DAYS`` days, each with its type and regime, due date, days left or overdue and the link to its admin
    page; ``new`` marks the requests that crossed a reminder threshold or became overdue since the last digest."""
    overdue = [line for line in lines if line.due_on < today]
    upcoming = [line for line in lines if line.due_on >= today]
    body = [f"Data-subject request deadlines for {organization_name} on {today.isoformat()}.", ""]
    if overdue:
        body.append(f"OVERDUE ({len(overdue)}):")
        for line in overdue:
            body += _line(line, today=today, link=link, new=new.get(line.public_id, ""))
        body.append("")
    if upcoming:
        body.append(f"Due within {DIGEST_DAYS} days ({len(upcoming)}):")
        for line in upcoming:
            body += _line(line, today=today, link=link, new=new.get(line.public_id, ""))
        body.append("")
    if not lines:
        body += ["No open request is overdue or due within the next week.", ""]
    body.append("Every date is the enforced due date the request's page shows.")
    subject = f"[Provenant] {organization_name}: {len(overdue)} overdue, {len(upcoming)} due within {DIGEST_DAYS} days"
    return Message(subject=subject, body="\n".join(body) + "\n")


def deadline_escalation_message(
    *, organization_name: str, lines: list[DigestLine], today: date, link: Callable[[DigestLine], str]
) -> Message:
    """The escalation of the requests that became overdue: each with its due date and link."""
    body = [
        f"{len(lines)} data-subject request(s) of {organization_name} passed the due date without an answer.",
        "The law's deadline is missed: answer them now, and record why they are late.",
        "",
    ]
    for line in lines:
        body += _line(line, today=today, link=link, new="")
    subject = f"[Provenant] ESCALATION {organization_name}: {len(lines)} request(s) overdue"
    return Message(subject=subject, body="\n".join(body) + "\n")


def message_send(recipients: list[str], message: Message) -> None:
    """Send to legal; raises ``OSError`` (``smtplib.SMTPException`` is one) when the server does not accept it."""
    send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, recipients)
