"""The texts DSAR records and sends to legal: the reasons recorded when the identity sweep closes a request, the
deadline digest, and the one way legal's mail is sent. Messages to the requester are templates
(``dsar.message_defaults``), sent through ``services.messaging``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from django.conf import settings
from django.core.mail import send_mail

OVERDUE_KIND: Final = "deadline.overdue"


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


def deadline_digest_message(
    *, organization_name: str, lines: list[tuple[str, str, str, str, date]], today: date
) -> Message:
    """One organization's digest for legal: overdue requests (escalated) first, then those due soon."""
    labels = {
        "deadline.7": "due in 7 days or less",
        "deadline.3": "due in 3 days or less",
        "deadline.1": "due tomorrow",
    }
    overdue = [line for line in lines if line[0] == OVERDUE_KIND]
    upcoming = [line for line in lines if line[0] != OVERDUE_KIND]
    body = [f"Data-subject request deadlines for {organization_name} on {today.isoformat()}.", ""]
    if overdue:
        body += [f"OVERDUE ({len(overdue)}), escalated:"]
        body += [
            f"  {public_id}  {rtype}/{regime}  was due {due.isoformat()}"
            for _, public_id, rtype, regime, due in overdue
        ]
        body.append("")
    if upcoming:
        body += [f"Upcoming ({len(upcoming)}):"]
        body += [
            f"  {public_id}  {rtype}/{regime}  due {due.isoformat()} ({labels.get(kind, kind)})"
            for kind, public_id, rtype, regime, due in upcoming
        ]
    subject = f"[Provenant] {organization_name}: {len(overdue)} overdue, {len(upcoming)} due soon"
    return Message(subject=subject, body="\n".join(body) + "\n")


def message_send(recipients: list[str], message: Message) -> None:
    send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, recipients)
