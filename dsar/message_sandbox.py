"""The sandbox an organization's message templates render in. Pure: no ORM, no files, no settings it may read.

Templates are Django template language, compiled by an engine of their own: no loaders (no ``include`` or
``extends``), no ``load`` (no other tag library), only the tags and filters listed here (no ``debug``, ``url``,
``csrf_token``, ``autoescape`` or ``safe``), ``for`` only over a context variable and at most two deep, and a
context of plain values (strings, dates, numbers, lists and dicts of them: never a model, whose methods a template
could call). Text parts render unescaped, the HTML part autoescaped. Sources and results are bounded in size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from django.template import (
    Context,
    Engine,
    Library,
    Node,
    NodeList,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, Variable, VariableNode
from django.template.defaulttags import ForNode
from django.utils import translation

MAX_SOURCE_CHARS: Final = 20_000
MAX_SUBJECT_CHARS: Final = 300
MAX_OUTPUT_CHARS: Final = 100_000
MAX_LOOP_DEPTH: Final = 2
INVALID_MARKER: Final = "\x00unknown-variable\x00"

ALLOWED_TAGS: Final = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "regroup",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
ALLOWED_FILTERS: Final = (
    "add",
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "dictsort",
    "dictsortreversed",
    "divisibleby",
    "escape",
    "first",
    "force_escape",
    "iriencode",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "slugify",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "yesno",
)

# The one tag and filter library the sandbox engine knows (its "builtins"); nothing can be loaded beside it.
register = Library()
register.tags.update({name: defaulttags.register.tags[name] for name in ALLOWED_TAGS})
register.filters.update({name: defaultfilters.register.filters[name] for name in ALLOWED_FILTERS})


class SandboxEngine(Engine):
    default_builtins: Final = ["dsar.message_sandbox"]  # type: ignore[misc]


def _engine(*, autoescape: bool, checking: bool) -> Engine:
    return SandboxEngine(
        dirs=[],
        app_dirs=False,
        loaders=[],
        libraries={},
        autoescape=autoescape,
        debug=False,
        string_if_invalid=f"{INVALID_MARKER}%s{INVALID_MARKER}" if checking else "",
    )


TEXT_ENGINE: Final = _engine(autoescape=False, checking=False)
HTML_ENGINE: Final = _engine(autoescape=True, checking=False)
CHECK_TEXT_ENGINE: Final = _engine(autoescape=False, checking=True)
CHECK_HTML_ENGINE: Final = _engine(autoescape=True, checking=True)


class TemplateRejected(ValueError):
    """The template cannot be used; the message says why, for the person who wrote it."""

    def __init__(self, message: str, *, part: str) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class TemplateSource:
    """One message kind in one language: subject, plain-text body and (optionally) HTML body."""

    subject: str
    body_text: str
    body_html: str = ""

    @property
    def digest(self) -> str:
        """Identifies this wording: the version id of a shipped default is built from it."""
        joined = "\x1f".join((self.subject, self.body_text, self.body_html))
        return hashlib.sha256(joined.encode()).hexdigest()


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body_text: str
    body_html: str = ""

    @property
    def sha256(self) -> str:
        """SHA-256 of exactly what is sent: the subject, a newline, the text body, and, when there is one, a
        newline and the HTML body (UTF-8)."""
        parts = [self.subject, self.body_text] + ([self.body_html] if self.body_html else [])
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _walk(nodelist: NodeList, depth: int, part: str) -> None:
    for node in nodelist:
        child_depth = depth
        if isinstance(node, ForNode):
            child_depth = depth + 1
            if child_depth > MAX_LOOP_DEPTH:
                raise TemplateRejected(f"Loops may nest at most {MAX_LOOP_DEPTH} deep.", part=part)
            sequence = node.sequence
            var = sequence.var if isinstance(sequence, FilterExpression) else None
            has_filters = isinstance(sequence, FilterExpression) and bool(sequence.filters)
            if not isinstance(var, Variable) or var.literal is not None or has_filters:
                raise TemplateRejected(
                    "A {% for %} loop may only go over one of the message's list variables, without filters.",
                    part=part,
                )
        for attr in getattr(node, "child_nodelists", ()):
            children = getattr(node, attr, None)
            if isinstance(children, NodeList):
                _walk(children, child_depth, part)
        if isinstance(node, Node) and hasattr(node, "conditions_nodelists"):  # {% if %}
            for _, children in node.conditions_nodelists:
                _walk(children, child_depth, part)


def compile_part(source: str, *, part: str, html: bool = False, checking: bool = False) -> Template:
    """Compile one part in the sandbox; TemplateRejected with a readable reason when it cannot be used. Compiled
    once per wording (the last 512 used, by their text): every message of a kind in a language renders the same
    parts, and compiling them cost more than rendering (issue #16). A compiled template holds no state of a
    rendering, so threads share it, as Django's own template loaders share theirs."""
    return _compiled(source, part, html, checking)


@lru_cache(maxsize=512)
def _compiled(source: str, part: str, html: bool, checking: bool) -> Template:
    limit = MAX_SUBJECT_CHARS if part == "subject" else MAX_SOURCE_CHARS
    if len(source) > limit:
        raise TemplateRejected(f"At most {limit} characters.", part=part)
    engines = {(False, False): TEXT_ENGINE, (True, False): HTML_ENGINE}
    engines |= {(False, True): CHECK_TEXT_ENGINE, (True, True): CHECK_HTML_ENGINE}
    engine = engines[(html, checking)]
    try:
        template = engine.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateRejected(f"Template error: {exc}", part=part) from exc
    _walk(template.nodelist, 0, part)
    return template


def _render(template: Template, context: Mapping[str, Any], part: str) -> str:
    try:
        # The Context decides escaping (its default is on): the engine's flag says which part this is.
        text = template.render(Context(dict(context), autoescape=template.engine.autoescape))
    except Exception as exc:  # a filter given a bad argument: the author's error, never a crash at send time
        raise TemplateRejected(f"The template does not render: {type(exc).__name__}: {exc}", part=part) from exc
    if len(text) > MAX_OUTPUT_CHARS:
        raise TemplateRejected(f"The rendered text is longer than {MAX_OUTPUT_CHARS} characters.", part=part)
    return text


def render_message(
    source: TemplateSource, context: Mapping[str, Any], *, language: str, checking: bool = False
) -> RenderedMessage:
    """Render the three parts in ``language`` (dates and numbers localized). ``checking``: an unknown variable
    is an error instead of an empty string. Raises TemplateRejected."""
    with translation.override(language):
        subject = _render(compile_part(source.subject, part="subject", checking=checking), context, "subject")
        text = _render(compile_part(source.body_text, part="body_text", checking=checking), context, "body_text")
        html = ""
        if source.body_html.strip():
            html = _render(
                compile_part(source.body_html, part="body_html", html=True, checking=checking), context, "body_html"
            )
    rendered = RenderedMessage(" ".join(subject.split()), text.strip() + "\n", html)
    if checking:
        for part, value in (("subject", rendered.subject), ("body_text", text), ("body_html", html)):
            if INVALID_MARKER in value:
                name = value.split(INVALID_MARKER)[1]
                raise TemplateRejected(f"Unknown variable {name!r}; see the list of variables.", part=part)
    if not rendered.subject:
        raise TemplateRejected("The subject renders empty.", part="subject")
    return rendered


def variables_in(source: str, *, part: str, html: bool = False) -> set[str]:
    """The top-level context variables a template part names (``{{ a.b }}`` names ``a``), leaving out the names
    the template binds itself (loop variables, ``with``, ``as`` targets, ``forloop``)."""
    names: set[str] = set()
    bound: set[str] = {"forloop"}

    def walk(nodelist: NodeList) -> None:
        for node in nodelist:
            bound.update(getattr(node, "loopvars", ()) or ())
            bound.update(getattr(node, "extra_context", {}) or {})
            for attr in ("var_name", "asvar", "variable_name"):
                value = getattr(node, attr, None)
                if isinstance(value, str):
                    bound.add(value)
            if isinstance(node, VariableNode) and isinstance(node.filter_expression.var, Variable):
                lookups = node.filter_expression.var.lookups
                if lookups:
                    names.add(lookups[0])
            for attr in getattr(node, "child_nodelists", ()):
                children = getattr(node, attr, None)
                if isinstance(children, NodeList):
                    walk(children)
            for _, children in getattr(node, "conditions_nodelists", ()):
                walk(children)

    if source.strip():
        walk(compile_part(source, part=part, html=html).nodelist)
    return names - bound
