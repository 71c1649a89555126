"""Every admin list and the pages the legal team reads fit a 1366 x 768 laptop screen: no horizontal scroll
bar, and the last column of each table is on screen (Debian's Chromium against a live server, seeded rows)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.browser.workbench_seed import STAFF_PASSWORD, STAFF_USERNAME, Workbench, seed_workbench

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}

# What the page measures: the document's overflow, and the right edge of each table's last header cell.
MEASURE = """() => {
  const root = document.documentElement;
  const tables = [...document.querySelectorAll('#result_list, #content table')].filter(t => t.offsetParent);
  const cut = tables.map(t => {
    const cells = t.querySelectorAll('thead tr:last-child th');
    const last = cells[cells.length - 1];
    if (!last) return null;
    // The table's own scroll box (the admin wraps a list in one) counts as the edge too.
    let edge = root.clientWidth;
    for (let box = t.parentElement; box && box !== document.body; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if (overflow === 'auto' || overflow === 'scroll' || overflow === 'hidden') {
        edge = Math.min(edge, box.getBoundingClientRect().right);
      }
    }
    const right = last.getBoundingClientRect().right;
    return right > edge + 1 ? (t.id || t.parentElement.id || 'table') + ':' + right + '>' + edge : null;
  }).filter(Boolean);
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, cut: cut,
          rows: document.querySelectorAll('#result_list tbody tr').length};
}"""


@pytest.fixture
def workbench(transactional_db: Any) -> Workbench:
    """Seeded before the browser starts (Django refuses database calls inside Playwright's event loop)."""
    return seed_workbench()


def _changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    )


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", STAFF_USERNAME)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_every_admin_list_and_the_subject_and_request_pages_fit_a_laptop_screen(
    workbench: Workbench, live_server: Any, browser_page: Any
) -> None:
    # Given a staff user on a 1366 x 768 screen.
    page = browser_page
    page.set_viewport_size(LAPTOP)
    base = live_server.url
    sign_in(page, base)
    pages = [
        *_changelists(),
        reverse("admin:consent_subject_change", args=[workbench.subject_pk]),
        reverse("admin:dsar_datasubjectrequest_change", args=[workbench.request.pk]),
        "/admin/",
    ]

    # When each page is opened, then nothing runs off the right edge.
    overflowing: dict[str, Any] = {}
    empty: list[str] = []
    for url in pages:
        response = page.goto(f"{base}{url}")
        assert response is not None, url
        assert response.status == 200, url
        found = page.evaluate(MEASURE)
        if os.environ.get("LAYOUT_SHOTS"):  # a folder to keep each page's screenshot in, to look at them
            page.screenshot(path=str(Path(os.environ["LAYOUT_SHOTS"]) / f"{url.strip('/').replace('/', '_')}.png"))
        if found["scrollWidth"] > found["clientWidth"] or found["cut"]:
            overflowing[url] = found
        if url.endswith("/") and url.count("/") == 4 and url != "/admin/" and found["rows"] == 0:
            empty.append(url)
    assert overflowing == {}, "\n".join(f"{url}: {found}" for url, found in overflowing.items())
    # The lists were measured with rows in them (those the seed has nothing for are named here).
    assert set(empty) <= {
        "/admin/core/stafforganizationscope/",
        "/admin/core/privacycenterbranding/",
        "/admin/dsar/messagetemplate/",
        "/admin/consent/ledgerwitnesspush/",
        "/admin/consent/gpcsignalreceipt/",
    }, empty
