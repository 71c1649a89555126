"""The staff roles that ship with Provenant: four groups kept in step with this list after every ``migrate``.

A role is a Django group. Give a staff user one or more of them (and, to limit them to some organizations,
a staff organization scope). The groups are managed here: their permissions are reset to this list on every
``migrate``; for a variation, make your own group. Permission names are ``app_label.codename`` strings, so
core names every app's permissions without importing them.

- **Privacy counsel**: everything the legal team does (catalog, GPC stance, recording withdrawals received by letter
  or phone, evidence packs, DSAR workflow, approving and cancelling erasures, the wording of the messages to
  requesters, alerts, revealing contact data, downloading exports, the reports); no API keys, signing keys,
  connectors' secrets or scopes.
- **DSAR operator**: requests end to end (cancelling an erasure, not approving one), with the subjects and
  consent they touch; nothing else.
- **Key administrator**: API keys (including write scopes, per-key rate limits and revocation), signing-key
  rotation, webhook and connector secrets; no personal data.
- **Auditor**: reads everything, including the audit log and ledger verification runs; changes nothing and
  reveals no contact data.
"""

from __future__ import annotations

from typing import Any

PRIVACY_COUNSEL = "Privacy counsel"
DSAR_OPERATOR = "DSAR operator"
KEY_ADMINISTRATOR = "Key administrator"
AUDITOR = "Auditor"

# Every model whose rows staff see, by app.
MODELS: dict[str, tuple[str, ...]] = {
    "core": ("organization", "apikey", "auditlogentry", "stafforganizationscope", "privacycenterbranding"),
    "consent": (
        "source",
        "purpose",
        "policyversion",
        "subject",
        "consentevent",
        "consentstate",
        "ledgerverificationrun",
        "subjectlink",
        "gpcsignalreceipt",
        "suppressedidentifier",
        "ledgerwitness",
        "ledgerwitnesspush",
    ),
    "provenance": (
        "recipient",
        "signingkey",
        "stamprecord",
        "delivery",
        "deliveryattempt",
        "consentnotice",
        "consentnoticecursor",
        "provenancealert",
    ),
    "dsar": (
        "datasubjectrequest",
        "requesttransition",
        "requestnotice",
        "dsarlegalcontact",
        "deadlinesettings",
        "fulfilmentstep",
        "dsarexport",
        "connector",
        "connectorcall",
        "messagetemplate",
        "requestmessage",
    ),
    "reports": ("clientmembership",),
}


def _view(*apps: str, exclude: tuple[str, ...] = ()) -> set[str]:
    return {f"{app}.view_{model}" for app in apps for model in MODELS[app] if f"{app}.{model}" not in exclude}


_SECRET_MODELS = ("core.apikey", "core.stafforganizationscope", "provenance.signingkey")

ROLES: dict[str, frozenset[str]] = {
    PRIVACY_COUNSEL: frozenset(
        _view("core", "consent", "provenance", "dsar", "reports", exclude=_SECRET_MODELS)
        | {
            "core.change_organization",  # name, site domain and the GPC stance (form and actions)
            "core.add_privacycenterbranding",  # how the privacy center looks (issue #13)
            "core.change_privacycenterbranding",
            "consent.add_source",
            "consent.change_source",
            "consent.add_purpose",
            "consent.change_purpose",
            "consent.add_policyversion",
            "consent.reveal_subject_contact",
            "consent.add_consentevent",  # a withdrawal or refusal received by letter or phone, with its document
            "consent.add_ledgerverificationrun",  # the "verify ledger" action keeps a run
            "consent.rebuild_consent_state",  # a state verification found tampered, folded again from the ledger
            "consent.add_ledgerwitness",  # where the ledger's signed checkpoints are pushed
            "consent.change_ledgerwitness",
            "provenance.add_recipient",
            "provenance.change_recipient",
            "provenance.change_provenancealert",
            "provenance.produce_evidence_pack",  # decrypts the subject's evidence; audited
            "dsar.add_datasubjectrequest",
            "dsar.change_datasubjectrequest",
            "dsar.reveal_requester_contact",
            "dsar.download_dsarexport",
            "dsar.approve_erasure",  # the legal review of a verified deletion (PROVENANT_DSAR_ERASURE_REVIEW)
            "dsar.cancel_erasure",
            "dsar.add_dsarlegalcontact",
            "dsar.change_dsarlegalcontact",
            "dsar.delete_dsarlegalcontact",  # someone who left the legal team (the removal is audited)
            "dsar.add_deadlinesettings",
            "dsar.change_deadlinesettings",
            "dsar.add_messagetemplate",  # the organization's wording of the messages to requesters
            "dsar.change_messagetemplate",
            "reports.view_any_report",
        }
    ),
    DSAR_OPERATOR: frozenset(
        _view("dsar")
        | {
            "core.view_organization",
            "consent.view_subject",
            "consent.view_consentevent",
            "consent.view_consentstate",
            "consent.reveal_subject_contact",
            "dsar.add_datasubjectrequest",
            "dsar.change_datasubjectrequest",
            "dsar.reveal_requester_contact",
            "dsar.download_dsarexport",
            "dsar.cancel_erasure",  # stopping is an operator's call; approving an erasure is counsel's
        }
    ),
    KEY_ADMINISTRATOR: frozenset(
        {
            "core.view_organization",
            "core.view_apikey",
            "core.add_apikey",
            "core.change_apikey",  # a key's rate limit, its one editable field
            "core.revoke_apikey",
            "core.issue_write_scopes",
            "provenance.view_signingkey",
            "provenance.change_signingkey",
            "provenance.revoke_signingkey",
            "provenance.view_recipient",
            "provenance.rotate_webhook_secret",
            "dsar.view_connector",
            "dsar.add_connector",  # registering one issues its signing secret
            "dsar.change_connector",
        }
    ),
    AUDITOR: frozenset(_view("core", "consent", "provenance", "dsar", "reports") | {"reports.view_any_report"}),
}


def sync_staff_roles_after_migrate(sender: Any, using: str = "default", **_: Any) -> None:
    """post_migrate receiver: once per ``migrate``, after the last installed app has created its
    permissions."""
    from django.apps import apps

    if sender is list(apps.get_app_configs())[-1]:
        sync_staff_roles(using)


def sync_staff_roles(using: str = "default") -> None:
    """Create the four groups and set each one's permissions to exactly its list."""
    from django.contrib.auth.models import Group, Permission

    for name, wanted in ROLES.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        by_app: dict[str, set[str]] = {}
        for permission in wanted:
            app_label, codename = permission.split(".", 1)
            by_app.setdefault(app_label, set()).add(codename)
        found: list[Permission] = []
        for app_label, codenames in by_app.items():
            found.extend(
                Permission.objects.using(using).filter(content_type__app_label=app_label, codename__in=codenames)
            )
        group.permissions.set(found)
