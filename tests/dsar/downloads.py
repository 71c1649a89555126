"""How a requester (and an integration) downloads an export from the emailed link: the link opens a page, and only
the POST from that page, with its signed confirmation value, downloads."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from rest_framework.test import APIClient

# The link emailed at approval: the organization's privacy center download page.
EXPORT_LINK = re.compile(r"https?://[^/\s]+(/privacy/[a-z0-9-]+/download/\S+)")
CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')
JSON = {"HTTP_ACCEPT": "application/json"}


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def api_path(link: str) -> str:
    """The API route of the same link (kept for integrations)."""
    return f"/api/v1/dsar/exports/{token_of(link)}"


def download_by_page(link: str, client: Any = None) -> Any:
    """Open the link (a page, which changes nothing) and press its button (a POST): the response to the POST."""
    client = client or Client()
    page = client.get(link)
    assert page.status_code == 200, page.content[:300]
    match = CONFIRMATION.search(page.content.decode())
    assert match is not None, "the page has a confirmation form"
    return client.post(link, {"confirmation": match.group(1)})


def download_by_api(link: str) -> Any:
    """What an integration does on the API route: GET the JSON (nothing changes), POST its confirmation back."""
    preview = APIClient().get(api_path(link), **JSON)
    assert preview.status_code == 200, preview.content[:300]
    return APIClient().post(api_path(link), {"confirmation": preview.json()["confirmation"]}, format="json", **JSON)
