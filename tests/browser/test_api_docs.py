"""/api/docs/ offline (issue #15): Swagger UI comes from our own static files (drf-spectacular-sidecar), so with
every address but 127.0.0.1 blocked it renders, under the strict CSP, and "Try it out" with the demo key sends
the operation's example and gets a 200."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command


@pytest.fixture
def demo_key(transactional_db: Any, tmp_path: Path) -> str:
    """The demo organization (seed_demo) and its key; seeded before the browser starts (Playwright's event loop
    would make the ORM refuse)."""
    key_file = tmp_path / "demo-api-key"
    call_command("seed_demo", api_key_file=str(key_file))
    return key_file.read_text().strip()


def test_api_docs_render_offline_and_try_it_out_succeeds(demo_key: str, live_server: Any, browser_page: Any) -> None:
    page = browser_page
    elsewhere: list[str] = []
    console_errors: list[str] = []

    def only_local(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in {"127.0.0.1", "localhost"}:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", state="visible")
    assert "Provenant API" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".swagger-ui .opblock").count() >= 30

    page.click(".swagger-ui button.authorize")
    page.fill(".swagger-ui .modal-ux input", demo_key)
    page.click(".swagger-ui .modal-ux .auth-btn-wrapper button.authorize")
    page.click(".swagger-ui .modal-ux button.btn-done")

    operation = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/api/v1/stamps"])').first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    body = operation.locator("textarea.body-param__text").input_value()
    assert '"demo-alice"' in body  # the example, not "string"
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(state="visible")
    assert status.inner_text().strip().startswith("200"), operation.locator(".live-responses-table").inner_text()

    assert elsewhere == []  # nothing was even asked of another host
    assert not [error for error in console_errors if "Content Security Policy" in error], console_errors
