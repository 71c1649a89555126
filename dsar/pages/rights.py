"""What each right means, in the person's words (the law's name for it is the regime's business); lazily translated,
so a page renders them in its own language."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from dsar.enums import NO_VERIFICATION_NEEDED, RequestType
from dsar.rights import FormJurisdiction, rights_of_regime

RIGHT_TEXTS: dict[str, tuple[Promise, Promise]] = {
    RequestType.ACCESS: (
        gettext_lazy("Get a copy of my data"),
        gettext_lazy("Learn what we hold about you and receive a copy of it."),
    ),
    RequestType.PORTABILITY: (
        gettext_lazy("Take my data elsewhere"),
        gettext_lazy("Receive the data you gave us in a machine-readable format, to take it to another service."),
    ),
    RequestType.DELETION: (
        gettext_lazy("Delete my data"),
        gettext_lazy("Ask us to erase the personal data we hold about you."),
    ),
    RequestType.CORRECTION: (
        gettext_lazy("Correct my data"),
        gettext_lazy("Ask us to correct data about you that is wrong or incomplete. We contact you to learn what."),
    ),
    RequestType.OPT_OUT_OF_SALE: (
        gettext_lazy("Do not sell or share my data"),
        gettext_lazy("Opt out of the sale of your data and of its sharing for targeted advertising."),
    ),
    RequestType.LIMIT_SENSITIVE: (
        gettext_lazy("Limit the use of my sensitive data"),
        gettext_lazy("Limit our use of your sensitive personal information to what is needed to serve you."),
    ),
    RequestType.RESTRICT: (
        gettext_lazy("Restrict the processing of my data"),
        gettext_lazy("Ask us to keep your data but not use it while a question about it is settled."),
    ),
    RequestType.OBJECT: (
        gettext_lazy("Object to the processing of my data"),
        gettext_lazy("Object to our use of your data, for example for direct marketing."),
    ),
}


def right_label(request_type: str) -> Promise | str:
    return RIGHT_TEXTS[request_type][0] if request_type in RIGHT_TEXTS else request_type


def form_rights(place: FormJurisdiction) -> list[dict[str, Any]]:
    """The rights the place's law grants, as the form's choices."""
    return [
        {
            "value": right,
            "label": RIGHT_TEXTS[right][0],
            "help": RIGHT_TEXTS[right][1],
            "needs_verification": right not in NO_VERIFICATION_NEEDED,
        }
        for right in rights_of_regime(place.regime)
    ]
