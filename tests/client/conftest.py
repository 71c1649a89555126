"""The client against a live server: Django's live server on 127.0.0.1 over the test database, an
organization with a source, a purpose, a recipient registered for it, and a key holding the client's scopes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from provenant_client import ProvenantClient, RetryPolicy

from consent import services as consent_services
from consent.enums import SourceKind
from core.services import api_key_create, organization_create
from provenance.services import keys
from provenance.services.recipients import recipient_create

CLIENT_SCOPES = ["consent:read", "consent:write", "stamp", "provenance:read", "dsar:read", "dsar:write"]
# Fast retries for tests that meet a transport failure; server-named waits are honoured as given.
FAST_RETRY = RetryPolicy(attempts=3, base=0.05, cap=0.2)


@dataclass(frozen=True)
class LiveProvenant:
    url: str
    api_key: str
    issuer: str

    def client(self, **kwargs: Any) -> ProvenantClient:
        return ProvenantClient(self.url, self.api_key, retry=FAST_RETRY, **kwargs)


@pytest.fixture(autouse=True)
def fresh_signing_key_cache() -> Iterator[None]:
    """The current signing key is cached per process; one cached by an earlier test was flushed."""
    keys._cache.clear()
    yield
    keys._cache.clear()


@pytest.fixture
def provenant(transactional_db: Any, live_server: Any) -> LiveProvenant:
    """Acme with the source web-signup, the purposes marketing-email and ad-sale, the recipient crm (a processor
    receiving marketing-email) and an API key with the client's scopes, served on 127.0.0.1."""
    organization = organization_create(slug="acme", name="Acme", actor="test")
    consent_services.source_create(
        organization=organization, actor="test", key="web-signup", name="Signup form", kind=SourceKind.WEB_FORM
    )
    consent_services.purpose_create(organization=organization, actor="test", key="marketing-email", name="Email")
    # A sale purpose: a GPC signal is an opt-out of it, which stamps then carry as Sec-GPC.
    consent_services.purpose_create(
        organization=organization, actor="test", key="ad-sale", name="Ad sale", is_sale_or_sharing=True
    )
    recipient_create(
        organization=organization, actor="test", key="crm", name="CRM", role="processor", purposes=["marketing-email"]
    )
    _, secret = api_key_create(organization=organization, name="client", scopes=CLIENT_SCOPES, actor="test")
    return LiveProvenant(url=live_server.url, api_key=secret, issuer=organization.slug)


@dataclass
class Arrival:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class ScriptedServer:
    """A tiny HTTP server on 127.0.0.1 answering each request with the next scripted
    ``(status, headers, body)`` (JSON, or bytes sent as they are; the last one repeats), recording what arrived
    and when."""

    script: list[tuple[int, dict[str, str], Any]]
    arrivals: list[Arrival] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                index = min(len(server.arrivals), len(server.script) - 1)
                server.arrivals.append(Arrival(self.command, self.path, dict(self.headers), body, time.monotonic()))
                status, headers, payload = server.script[index]
                content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
