"""/api/docs/: Swagger UI from our own static files (drf-spectacular-sidecar), under the site's strict CSP.

Two exceptions on this page only, both for styles, none for scripts: the page's one ``<style>`` element is
allowed by its hash (computed from what is served), and the style attributes Swagger UI sets as it renders
(``style-src-attr``). Scripts stay ``'self'``: the sidecar's bundle and the split view's init script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from drf_spectacular.views import SpectacularSwaggerSplitView

_STYLE_ELEMENT = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL)
_swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="schema")


def api_docs(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
    response = _swagger_ui(request, *args, **kwargs)
    render = getattr(response, "render", None)
    if callable(render):
        render()
    content = getattr(response, "content", b"").decode(errors="replace")
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'"
        for style in _STYLE_ELEMENT.findall(content)
    ]
    response._csp_update = {  # type: ignore[attr-defined]  # django-csp's per-response addition
        "style-src-elem": ["'self'", *hashes],
        "style-src-attr": ["'unsafe-inline'"],
    }
    return response
