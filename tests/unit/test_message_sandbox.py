"""The message templates' sandbox and the shipped defaults, without a database: every default renders in English
and German with only the documented variables and carries what its kind must; the sandbox refuses what an
admin-authored template must not reach; the digest is of exactly the sent text."""

from __future__ import annotations

import hashlib

import pytest

from dsar.enums import MESSAGE_LANGUAGES, MESSAGE_REQUIRED_VARIABLES, MessageKind
from dsar.message_context import CONTEXT_VARIABLES, message_context, sample_facts
from dsar.message_defaults import DEFAULTS, default_version_id, message_language
from dsar.message_sandbox import (
    MAX_OUTPUT_CHARS,
    RenderedMessage,
    TemplateRejected,
    TemplateSource,
    render_message,
    variables_in,
)


@pytest.mark.parametrize("language", MESSAGE_LANGUAGES)
@pytest.mark.parametrize("kind", MessageKind.values)
def test_every_default_renders_with_the_documented_variables_and_shows_what_its_kind_needs(
    kind: str, language: str
) -> None:
    source = DEFAULTS[language][kind]
    context = message_context(sample_facts(kind=kind, organization_name="Acme"), language=language)

    rendered = render_message(source, context, language=language, checking=True)  # unknown variables raise

    assert set(MESSAGE_REQUIRED_VARIABLES[kind]) <= variables_in(source.body_text, part="body_text")
    assert variables_in(source.body_text, part="body_text") <= set(CONTEXT_VARIABLES)
    assert "Acme" in rendered.subject
    assert "01SAMPLE0REQUEST000000000" in rendered.body_text
    assert "\n" not in rendered.subject


def test_the_language_falls_back_to_english() -> None:
    assert [message_language(tag) for tag in ("de", "de-AT", "DE_ch", "fr", "", "en-GB")] == [
        "de",
        "de",
        "de",
        "en",
        "en",
        "en",
    ]
    assert default_version_id("receipt", "fr") == default_version_id("receipt", "en")
    assert default_version_id("receipt", "de") != default_version_id("receipt", "en")


@pytest.mark.parametrize(
    "body",
    [
        "{% load static %}x",
        "{% include 'admin/base.html' %}",
        "{% extends 'admin/base.html' %}",
        "{% debug %}",
        "{% csrf_token %}",
        "{% url 'admin:index' %}",
        "{% autoescape off %}{{ request_id }}{% endautoescape %}",
        "{{ request_id|safe }}",
        "{{ request_id|pprint }}",
        "{{ request_id|center:'999999999' }}",
        "{% for c in 'abc' %}{{ c }}{% endfor %}",
        "{% for c in recipients|dictsort:'name' %}{{ c }}{% endfor %}",
        "{% for a in recipients %}{% for b in recipients %}{% for c in recipients %}x{% endfor %}{% endfor %}"
        "{% endfor %}",
        "{% if request_id %}{% for a in recipients %}{% for b in recipients %}{% for c in recipients %}x"
        "{% endfor %}{% endfor %}{% endfor %}{% endif %}",
        "x" * 20_001,
    ],
)
def test_the_sandbox_refuses_what_an_admin_template_must_not_reach(body: str) -> None:
    context = message_context(sample_facts(kind="receipt", organization_name="Acme"), language="en")

    with pytest.raises(TemplateRejected):
        render_message(TemplateSource("s", body), context, language="en")


def test_an_unknown_variable_renders_empty_when_sending_and_is_an_error_when_checking() -> None:
    context = message_context(sample_facts(kind="receipt", organization_name="Acme"), language="en")
    source = TemplateSource("s", "{{ request_id }}{{ request.organization.apikeys }}")

    assert render_message(source, context, language="en").body_text == "01SAMPLE0REQUEST000000000\n"
    with pytest.raises(TemplateRejected, match="Unknown variable"):
        render_message(source, context, language="en", checking=True)


def test_output_is_bounded() -> None:
    context = message_context(sample_facts(kind="receipt", organization_name="Acme"), language="en")
    big = "{% for a in recipients %}" + "x" * 19_000 + "{% endfor %}"
    many = {**context, "recipients": [{"name": "n", "confirmed": True}] * 10}

    with pytest.raises(TemplateRejected, match=str(MAX_OUTPUT_CHARS)):
        render_message(TemplateSource("s", big), many, language="en")


def test_the_digest_is_of_subject_newline_body_and_the_html_when_there_is_one() -> None:
    plain = RenderedMessage("Subject", "Body\n")
    with_html = RenderedMessage("Subject", "Body\n", "<p>Body</p>")

    assert plain.sha256 == hashlib.sha256(b"Subject\nBody\n").hexdigest()
    assert with_html.sha256 == hashlib.sha256(b"Subject\nBody\n\n<p>Body</p>").hexdigest()
