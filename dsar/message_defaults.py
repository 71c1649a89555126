"""The shipped wording of every message to the requester, in English and German. Pure.

Each is a sandboxed Django template (``dsar.message_sandbox``) over the variables of ``dsar.message_context``; an
organization may override any of them in the admin. A default's version id is built from its wording, so a
message records which default it used even after a release changes the text.
"""

from __future__ import annotations

from typing import Final

from dsar.enums import DEFAULT_MESSAGE_LANGUAGE, MESSAGE_LANGUAGES, MessageKind
from dsar.message_sandbox import TemplateSource

_SIGN_EN = "\n\n{{ organization_name }}\nReference: {{ request_id }}"
_SIGN_DE = "\n\n{{ organization_name }}\nAktenzeichen: {{ request_id }}"

EN: Final[dict[str, TemplateSource]] = {
    MessageKind.RECEIPT: TemplateSource(
        subject="{{ organization_name }} received your privacy request {{ request_id }}",
        body_text=(
            "Hello,\n\n"
            "{{ organization_name }} received your request ({{ request_type_label }}) on "
            '{{ received_on|date:"j F Y" }}.'
            "\n{% if needs_verification %}\nBefore we act on it we need to confirm that it comes from you: you will "
            "get a separate email with a confirmation link. Open it and press the button on the page.\n{% endif %}\n"
            'We will answer by {{ due_on|date:"j F Y" }} at the latest ({{ regime_label }}).'
            '{% if confirm_by %} The law asks us to confirm receipt by {{ confirm_by|date:"j F Y" }}: this message '
            "is that confirmation.{% endif %}\n\n"
            "If you did not make this request, reply to this message." + _SIGN_EN
        ),
    ),
    MessageKind.IDENTITY_LINK: TemplateSource(
        subject="{{ organization_name }}: please confirm your privacy request {{ request_id }}",
        body_text=(
            "Hello,\n\n"
            "{{ organization_name }} received a privacy request ({{ request_type_label }}) in your name. To confirm "
            "that it was you, open this link and press the button on the page:\n\n"
            "{{ verification_url }}\n\n"
            "The link works for {{ link_hours }} hours. If you did not make this request, ignore this message: "
            "nothing happens until someone confirms." + _SIGN_EN
        ),
    ),
    MessageKind.IDENTITY_REMINDER: TemplateSource(
        subject="Reminder from {{ organization_name }}: please confirm your privacy request {{ request_id }}",
        body_text=(
            "Hello,\n\n"
            "{{ reminder_day }} days ago we asked you to confirm your privacy request {{ request_id }}. We cannot act "
            "on it until you do. Open this link and press the button on the page:\n\n"
            "{{ verification_url }}\n\n"
            "The link works for {{ link_hours }} hours. If you did not make this request, ignore this message."
            + _SIGN_EN
        ),
    ),
    MessageKind.EXTENSION: TemplateSource(
        subject="{{ organization_name }} needs more time for your privacy request {{ request_id }}",
        body_text=(
            "Hello,\n\n"
            "We need more time to answer your request ({{ request_type_label }}) of "
            '{{ received_on|date:"j F Y" }}: {{ extension_reason }}. The law allows us to extend the period once '
            "({{ extension_rule }}); we will answer by "
            '{{ due_on|date:"j F Y" }} at the latest.' + _SIGN_EN
        ),
    ),
    MessageKind.COMPLETION: TemplateSource(
        subject=(
            "{{ organization_name }}: {% if download_url %}your data for privacy request {{ request_id }} is ready"
            "{% else %}your privacy request {{ request_id }} is complete{% endif %}"
        ),
        body_text=(
            "Hello,\n\n"
            "{{ organization_name }} completed your request ({{ request_type_label }}) of "
            '{{ received_on|date:"j F Y" }}.\n'
            "{% if download_url %}\nThe copy of your data is ready. Download it here (you confirm on the page):\n\n"
            "{{ download_url }}\n\n"
            'The link works until {{ download_expires_at|date:"j F Y, H:i e" }}. Do not forward this message: '
            "anyone with the link can download your data. The archive holds a cover letter (cover_letter.txt) with "
            "the purposes, recipients, retention and your rights.\n{% endif %}"
            "{% if request_type == 'deletion' %}\n"
            "{% if erased_items %}What we erased:\n{% for item in erased_items %}- {{ item }}\n{% endfor %}"
            "{% else %}We held no data about you beyond this request.\n{% endif %}"
            "{% if recipients %}\nWe told these recipients of your data to erase it too:\n"
            "{% for recipient in recipients %}- {{ recipient.name }}"
            "{% if recipient.confirmed %} (confirmed){% else %} (not confirmed yet){% endif %}\n{% endfor %}"
            "{% endif %}{% endif %}"
            "{% if opted_out_purposes %}\nYou are opted out of: {{ opted_out_purposes|join:', ' }}.\n{% endif %}"
            + _SIGN_EN
        ),
    ),
    MessageKind.DENIAL: TemplateSource(
        subject="{{ organization_name }}: your privacy request {{ request_id }} was refused",
        body_text=(
            "Hello,\n\n"
            "{{ organization_name }} cannot act on your request ({{ request_type_label }}) of "
            '{{ received_on|date:"j F Y" }}.\n\nReason: {{ reason }}\n\n{{ remedies }}' + _SIGN_EN
        ),
    ),
    MessageKind.UNVERIFIABLE: TemplateSource(
        subject="{{ organization_name }} closed your privacy request {{ request_id }}",
        body_text=(
            "Hello,\n\n"
            '{{ organization_name }} closed your request ({{ request_type_label }}) of {{ received_on|date:"j F Y" }}'
            " because we could not confirm that it came from you: our request of "
            '{{ identity_requested_on|date:"j F Y" }} to confirm it was not answered by '
            '{{ identity_cutoff|date:"j F Y" }} ({{ closure_rule }}).\n\n'
            "You can make a new request at any time.\n\n{{ remedies }}" + _SIGN_EN
        ),
    ),
    MessageKind.STAFF: TemplateSource(
        subject="{{ organization_name }}: about your privacy request {{ request_id }}",
        body_text="Hello,\n\n{{ staff_text }}" + _SIGN_EN,
    ),
}

DE: Final[dict[str, TemplateSource]] = {
    MessageKind.RECEIPT: TemplateSource(
        subject="{{ organization_name }} hat Ihre Datenschutzanfrage {{ request_id }} erhalten",
        body_text=(
            "Guten Tag,\n\n"
            "{{ organization_name }} hat Ihre Anfrage ({{ request_type_label }}) am "
            '{{ received_on|date:"j. F Y" }} erhalten.\n'
            "{% if needs_verification %}\nBevor wir tätig werden, müssen wir bestätigen, dass sie von Ihnen stammt: "
            "Sie erhalten eine gesonderte E-Mail mit einem Bestätigungslink. Öffnen Sie ihn und drücken Sie die "
            "Schaltfläche auf der Seite.\n{% endif %}\n"
            'Wir antworten spätestens bis zum {{ due_on|date:"j. F Y" }} ({{ regime_label }}).'
            "{% if confirm_by %} Das Gesetz verlangt, dass wir den Eingang bis zum "
            '{{ confirm_by|date:"j. F Y" }} bestätigen: Dies ist diese Bestätigung.{% endif %}\n\n'
            "Wenn Sie diese Anfrage nicht gestellt haben, antworten Sie bitte auf diese Nachricht." + _SIGN_DE
        ),
    ),
    MessageKind.IDENTITY_LINK: TemplateSource(
        subject="{{ organization_name }}: Bitte bestätigen Sie Ihre Datenschutzanfrage {{ request_id }}",
        body_text=(
            "Guten Tag,\n\n"
            "{{ organization_name }} hat in Ihrem Namen eine Datenschutzanfrage ({{ request_type_label }}) "
            "erhalten. Um zu bestätigen, dass sie von Ihnen stammt, öffnen Sie diesen Link und drücken Sie die "
            "Schaltfläche auf der Seite:\n\n"
            "{{ verification_url }}\n\n"
            "Der Link ist {{ link_hours }} Stunden gültig. Wenn Sie diese Anfrage nicht gestellt haben, ignorieren "
            "Sie diese Nachricht: Ohne Bestätigung geschieht nichts." + _SIGN_DE
        ),
    ),
    MessageKind.IDENTITY_REMINDER: TemplateSource(
        subject="Erinnerung von {{ organization_name }}: Bitte bestätigen Sie Ihre Datenschutzanfrage {{ request_id }}",
        body_text=(
            "Guten Tag,\n\n"
            "vor {{ reminder_day }} Tagen haben wir Sie gebeten, Ihre Datenschutzanfrage {{ request_id }} zu "
            "bestätigen. Bis dahin können wir nicht tätig werden. Öffnen Sie diesen Link und drücken Sie die "
            "Schaltfläche auf der Seite:\n\n"
            "{{ verification_url }}\n\n"
            "Der Link ist {{ link_hours }} Stunden gültig. Wenn Sie diese Anfrage nicht gestellt haben, ignorieren "
            "Sie diese Nachricht." + _SIGN_DE
        ),
    ),
    MessageKind.EXTENSION: TemplateSource(
        subject="{{ organization_name }} benötigt mehr Zeit für Ihre Datenschutzanfrage {{ request_id }}",
        body_text=(
            "Guten Tag,\n\n"
            "wir benötigen mehr Zeit, um Ihre Anfrage ({{ request_type_label }}) vom "
            '{{ received_on|date:"j. F Y" }} zu beantworten: {{ extension_reason }}. Das Gesetz erlaubt uns, die '
            "Frist einmal zu verlängern ({{ extension_rule }}); wir antworten spätestens bis zum "
            '{{ due_on|date:"j. F Y" }}.' + _SIGN_DE
        ),
    ),
    MessageKind.COMPLETION: TemplateSource(
        subject=(
            "{{ organization_name }}: {% if download_url %}Ihre Daten zur Datenschutzanfrage {{ request_id }} liegen "
            "bereit{% else %}Ihre Datenschutzanfrage {{ request_id }} ist erledigt{% endif %}"
        ),
        body_text=(
            "Guten Tag,\n\n"
            "{{ organization_name }} hat Ihre Anfrage ({{ request_type_label }}) vom "
            '{{ received_on|date:"j. F Y" }} erledigt.\n'
            "{% if download_url %}\nDie Kopie Ihrer Daten liegt bereit. Laden Sie sie hier herunter (Sie "
            "bestätigen auf der Seite):\n\n"
            "{{ download_url }}\n\n"
            'Der Link ist bis zum {{ download_expires_at|date:"j. F Y, H:i e" }} gültig. Leiten Sie diese '
            "Nachricht nicht weiter: Jeder mit dem Link kann Ihre Daten herunterladen. Das Archiv enthält ein "
            "Begleitschreiben (cover_letter.txt) mit den Zwecken, Empfängern, der Speicherdauer und Ihren Rechten."
            "\n{% endif %}"
            "{% if request_type == 'deletion' %}\n"
            "{% if erased_items %}Was wir gelöscht haben:\n{% for item in erased_items %}- {{ item }}\n{% endfor %}"
            "{% else %}Über diese Anfrage hinaus hatten wir keine Daten über Sie gespeichert.\n{% endif %}"
            "{% if recipients %}\nDiese Empfänger Ihrer Daten haben wir aufgefordert, sie ebenfalls zu löschen:\n"
            "{% for recipient in recipients %}- {{ recipient.name }}"
            "{% if recipient.confirmed %} (bestätigt){% else %} (noch nicht bestätigt){% endif %}\n{% endfor %}"
            "{% endif %}{% endif %}"
            "{% if opted_out_purposes %}\nSie haben widersprochen für: {{ opted_out_purposes|join:', ' }}.\n"
            "{% endif %}" + _SIGN_DE
        ),
    ),
    MessageKind.DENIAL: TemplateSource(
        subject="{{ organization_name }}: Ihre Datenschutzanfrage {{ request_id }} wurde abgelehnt",
        body_text=(
            "Guten Tag,\n\n"
            "{{ organization_name }} kann Ihrer Anfrage ({{ request_type_label }}) vom "
            '{{ received_on|date:"j. F Y" }} nicht nachkommen.\n\nBegründung: {{ reason }}\n\n{{ remedies }}' + _SIGN_DE
        ),
    ),
    MessageKind.UNVERIFIABLE: TemplateSource(
        subject="{{ organization_name }} hat Ihre Datenschutzanfrage {{ request_id }} geschlossen",
        body_text=(
            "Guten Tag,\n\n"
            "{{ organization_name }} hat Ihre Anfrage ({{ request_type_label }}) vom "
            '{{ received_on|date:"j. F Y" }} geschlossen, weil wir nicht bestätigen konnten, dass sie von Ihnen '
            'stammt: Unsere Bitte vom {{ identity_requested_on|date:"j. F Y" }}, sie zu bestätigen, blieb bis zum '
            '{{ identity_cutoff|date:"j. F Y" }} unbeantwortet ({{ closure_rule }}).\n\n'
            "Sie können jederzeit eine neue Anfrage stellen.\n\n{{ remedies }}" + _SIGN_DE
        ),
    ),
    MessageKind.STAFF: TemplateSource(
        subject="{{ organization_name }}: zu Ihrer Datenschutzanfrage {{ request_id }}",
        body_text="Guten Tag,\n\n{{ staff_text }}" + _SIGN_DE,
    ),
}

DEFAULTS: Final[dict[str, dict[str, TemplateSource]]] = {"en": EN, "de": DE}


def message_language(language: str) -> str:
    """The language a message goes out in: the requester's when we ship it (``de-AT`` -> ``de``), else English."""
    base = (language or "").lower().replace("_", "-").split("-")[0]
    return base if base in MESSAGE_LANGUAGES else DEFAULT_MESSAGE_LANGUAGE


def default_source(kind: str, language: str) -> TemplateSource:
    return DEFAULTS[message_language(language)][kind]


def default_version_id(kind: str, language: str) -> str:
    """``default:<language>:<first 12 hex digits of the wording's digest>``."""
    lang = message_language(language)
    return f"default:{lang}:{DEFAULTS[lang][kind].digest[:12]}"
