"""A client user reads their organization's compliance report in a real browser (Chromium, headless),
against a real HTTP server on 127.0.0.1: sign in, charts and figures, CSV and PDF downloads, 404 for
another organization. Saves a screenshot under tests/artifacts/."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from core.models import Organization
from tests.reports.fixtures import CLIENT_PASSWORD, day

pytestmark = pytest.mark.browser


@pytest.fixture
def reader(transactional_db: Any, dataset: Organization, client_user_of: Callable[..., Any]) -> str:
    """A client user of the dataset's organization; created before the browser starts (Playwright's sync API
    runs an event loop, inside which Django refuses database calls)."""
    return str(client_user_of(dataset).username)


@pytest.fixture
def other_reader(transactional_db: Any, other_organization: Organization, client_user_of: Callable[..., Any]) -> str:
    return str(client_user_of(other_organization, "b-reader").username)


WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def accessibility_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it stands (axe is bundled with the Python package)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=WCAG_AA)
    return [
        f"{found['id']}: {found['help']} ({len(found['nodes'])} nodes, e.g. {found['nodes'][0]['html']})"
        for found in results.response["violations"]
    ]


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/reports/")
    assert accessibility_violations(page) == []
    page.fill("#id_username", username)
    page.fill("#id_password", CLIENT_PASSWORD)
    page.click("button[type=submit]")


def test_client_user_reads_the_report_downloads_it_and_cannot_see_another_organization(
    dataset: Organization,
    other_organization: Organization,
    reader: str,
    live_server: Any,
    artifacts: Path,
    browser_page: Any,
) -> None:
    # Given a client user of the dataset's organization.
    page = browser_page
    base = live_server.url

    # When they sign in, they land on their report; they pick the last 30 days.
    sign_in(page, base, reader)
    page.wait_for_url(f"**/reports/org/{dataset.slug}/")
    page.fill("#from", day(30))
    page.fill("#to", day(0))
    page.click("form.period button[type=submit]")
    page.wait_for_url("**from=*")

    # Then every section shows its charts (drawn: non-empty boxes), figures and text summary.
    assert page.title() == f"Compliance report · {dataset.name}"
    charts = page.locator("figure.chart svg[role=img]")
    assert charts.count() == 10
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 50
    assert page.locator("figure.chart svg rect").count() > 20
    assert page.locator("figure.chart svg polyline").count() == 9  # three lines for each of three purposes
    consent = page.locator("[data-summary=consent]").inner_text()
    assert "6 consents were granted, 4 refusals and 2 withdrawals recorded." in consent
    gpc_figures = page.locator("#gpc dl.figures").inner_text()
    assert "Signals received\n3" in gpc_figures
    assert "Conflicts with earlier opt-ins\n1" in gpc_figures
    assert page.locator("#table-consent-opt-in-rate tbody tr").count() == 3
    assert page.locator("#table-dsar-types tbody tr").first.inner_text().split("\t") == ["access", "gdpr", "1", "1"]
    assert "intact" in page.locator("#ledger").inner_text()
    assert accessibility_violations(page) == []
    page.screenshot(path=str(artifacts / "compliance-report.png"), full_page=True)

    # The opt-in-rate table downloads as CSV with the same figures.
    with page.expect_download() as csv_download:
        page.click("#table-consent-opt-in-rate a.csv")
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text())))
    assert csv_download.value.suggested_filename == f"{dataset.slug}-consent-opt-in-rate-{day(30)}-{day(0)}.csv"
    assert [(row["purpose"], row["rate"]) for row in rows] == [
        ("ad-sale", "0.3333"),
        ("analytics", "0.5"),
        ("marketing-email", "0.8"),
    ]

    # The whole report downloads as a PDF holding every section.
    with page.expect_download() as pdf_download:
        page.click("#download-pdf")
    pdf = Path(pdf_download.value.path()).read_bytes()
    (artifacts / "compliance-report.pdf").write_bytes(pdf)
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "6 consents were granted" in text
    assert "Ledger integrity" in text

    # Another organization's report, PDF and CSV answer 404 to this user.
    for suffix in ("", "report.pdf", "csv/gpc.csv"):
        response = page.goto(f"{base}/reports/org/{other_organization.slug}/{suffix}")
        assert response is not None
        assert response.status == 404, suffix


def test_client_of_another_organization_gets_404_for_this_report(
    dataset: Organization,
    other_organization: Organization,
    other_reader: str,
    live_server: Any,
    browser_page: Any,
) -> None:
    page = browser_page
    base = live_server.url

    sign_in(page, base, other_reader)
    page.wait_for_url(f"**/reports/org/{other_organization.slug}/")
    response = page.goto(f"{base}/reports/org/{dataset.slug}/")

    assert response is not None
    assert response.status == 404
    assert dataset.name not in page.content()
    assert "Not found" in page.content()


def test_the_accessibility_check_does_find_violations(browser_page: Any) -> None:
    """The axe check above is not vacuous: a page with an unlabelled image and input fails it."""
    browser_page.set_content('<html><body><img src="data:,"><input type="text"></body></html>')

    found = accessibility_violations(browser_page)

    assert any(item.startswith("image-alt:") for item in found)
    assert any(item.startswith("label:") for item in found)
