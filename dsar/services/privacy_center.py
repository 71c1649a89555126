"""The privacy center's request intake: a person files a request in the form. The same path as the API's intake
(``services.pipeline.dsar_create``: deadlines, audit, the identity link or an immediate start), with the rights the
person's jurisdiction grants checked first and the language they used recorded."""

from __future__ import annotations

from typing import Final

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.crypto import normalize_email
from core.models import Organization
from core.problems import InvalidInput
from dsar.enums import Channel
from dsar.models import DataSubjectRequest
from dsar.problems import RightNotGranted
from dsar.rights import form_jurisdiction, rights_of_regime
from dsar.selectors import subject_external_id_for_email
from dsar.services.pipeline import dsar_create
from dsar.services.workflow import Requester

PRIVACY_CENTER_ACTOR: Final = "requester:privacy-center"
MAX_EMAIL_LENGTH: Final = 254
MAX_NAME_LENGTH: Final = 200
MAX_LANGUAGE_LENGTH: Final = 16


def dsar_file_from_privacy_center(
    *,
    organization: Organization,
    jurisdiction: str,
    request_type: str,
    email: str,
    name: str = "",
    language: str = "",
) -> DataSubjectRequest:
    """Record the request a person filed in the organization's privacy center (channel ``web_form``). Refused
    (422, nothing written) for a place whose law grants no such right, a type it does not grant, or a malformed
    email. The answer never depends on whether the email is known: the subject it names is linked when there is
    exactly one, and nothing is done for it before the email's owner confirms (except an opt-out, which needs no
    verification and only protects)."""
    place = form_jurisdiction(jurisdiction)
    if place is None:
        raise InvalidInput(
            "Choose where you live from the list.",
            errors=[{"pointer": "/jurisdiction", "detail": "no data-subject-request law of this place is offered"}],
        )
    if request_type not in rights_of_regime(place.regime):
        raise RightNotGranted(
            f"The law of {place.name} does not grant this request type.",
            errors=[{"pointer": "/type", "detail": f"not granted in {place.code}"}],
        )
    email = normalize_email(email)
    try:
        if len(email) > MAX_EMAIL_LENGTH:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(
            "Enter a valid email address.", errors=[{"pointer": "/email", "detail": "not a valid email"}]
        ) from exc
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"The name is longer than {MAX_NAME_LENGTH} characters.",
            errors=[{"pointer": "/name", "detail": "too long"}],
        )
    return dsar_create(
        organization=organization,
        request_type=request_type,
        channel=Channel.WEB_FORM,
        actor=PRIVACY_CENTER_ACTOR,
        jurisdiction=place.code,
        regime=place.regime,
        subject_external_id=subject_external_id_for_email(organization=organization, email=email),
        requester=Requester(email=email, name=name),
        language=language[:MAX_LANGUAGE_LENGTH],
    )
