"""The privacy center's forms. Field errors render next to their field, in the page's language."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.jurisdiction_rules import FALLBACK, jurisdiction_rules


def jurisdiction_choices() -> list[tuple[str, str]]:
    """Where a person may say they live: every jurisdiction of the rule table, by name."""
    rules = sorted((rule for rule in jurisdiction_rules() if rule.code != FALLBACK), key=lambda rule: rule.name)
    return [(rule.code, rule.name) for rule in rules]


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Your email address"),
        max_length=254,
        help_text=_("We send a link to this address. It works once, for a short while."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )


class ConfirmForm(forms.Form):
    confirmation = forms.CharField(widget=forms.HiddenInput, max_length=500)
    jurisdiction = forms.ChoiceField(
        label=_("Where do you live?"),
        help_text=_("Your rights, and what a Global Privacy Control signal means, depend on it."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["jurisdiction"].choices = jurisdiction_choices()  # type: ignore[attr-defined]


class ChangeForm(forms.Form):
    GIVE = "give"
    WITHDRAW = "withdraw"

    purpose = forms.CharField(max_length=64)
    action = forms.ChoiceField(choices=[(GIVE, GIVE), (WITHDRAW, WITHDRAW)])
    version = forms.CharField(max_length=64, required=False)
