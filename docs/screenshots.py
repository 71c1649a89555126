"""Screenshots of the legal team's admin at 1366 x 768, for the README's "For legal teams" section.

Run from the repository root, with PostgreSQL and Redis as for the tests (`make test` starts and names them):

    DJANGO_SETTINGS_MODULE=config.settings.test \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/provenant CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \\
    .venv/bin/python docs/screenshots.py [--out docs/screenshots]

What it does: creates a throwaway database beside DATABASE_URL's (``screenshots_<name>``, dropped at the end) and
migrates it; seeds the demo workbench (``tests/browser/workbench_seed.py``: the ``seed_demo`` organization and
ledger, data-subject requests in every countdown colour, stamps, deliveries, an alert, a connector, and the staff
user Lena Fischer); serves it on 127.0.0.1 with Django's live server; signs in as Lena in Debian's Chromium
(``PROVENANT_CHROMIUM``, default /usr/bin/chromium) and saves, at 1366 x 768:

    dashboard.png    the admin index (the signed-in user's dashboard)
    dsar-queue.png   the data-subject request queue, nearest due date first
    request.png      one request's page (a GDPR access request assigned to Lena)
    subject.png      a subject's page, scrolled to its consent now and its ledger

Nothing is written to the database DATABASE_URL names; tasks the seed enqueues go to CELERY_BROKER_URL's Redis
database and are never run (no worker is started).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1366, 768


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    scroll_to: str | None = None  # a CSS selector brought to the top of the screen first


def _prepare_database() -> tuple[str, list[Shot]]:
    """Create, migrate and seed the throwaway database; return its original name and the pages to shoot."""
    from django.db import connection
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from tests.browser.workbench_seed import seed_workbench

    setup_test_environment()
    original = str(connection.settings_dict["NAME"])
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"screenshots_{original}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    workbench = seed_workbench()
    shots = [
        Shot("dashboard", reverse("admin:index")),
        Shot("dsar-queue", reverse("admin:dsar_datasubjectrequest_changelist")),
        Shot("request", reverse("admin:dsar_datasubjectrequest_change", args=[workbench.request.pk])),
        Shot("subject", reverse("admin:consent_subject_change", args=[workbench.subject_pk]), "#consent-state"),
    ]
    return original, shots


def _shoot(base: str, shots: list[Shot], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.browser.workbench_seed import STAFF_PASSWORD, STAFF_USERNAME

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/admin/login/?next=/admin/")
        page.fill("#id_username", STAFF_USERNAME)
        page.fill("#id_password", STAFF_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        for shot in shots:
            response = page.goto(f"{base}{shot.path}")
            if response is None or response.status != 200:
                raise SystemExit(f"{shot.path} answered {response.status if response else 'nothing'}")
            if shot.scroll_to:
                page.eval_on_selector(shot.scroll_to, "e => window.scrollTo(0, e.getBoundingClientRect().top - 12)")
            target = out / f"{shot.name}.png"
            page.screenshot(path=str(target))
            saved.append(target)
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    options = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

    import django

    django.setup()
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connection, connections
    from django.test.testcases import LiveServerThread
    from django.test.utils import teardown_test_environment

    original, shots = _prepare_database()
    server = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=None, port=0)
    server.daemon = True
    try:
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        options.out.mkdir(parents=True, exist_ok=True)
        for path in _shoot(f"http://127.0.0.1:{server.port}", shots, options.out):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    finally:
        server.terminate()
        server.join()
        connections.close_all()
        connection.creation.destroy_test_db(original, verbosity=0)
        teardown_test_environment()


if __name__ == "__main__":
    main()
