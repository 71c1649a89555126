"""The front door as production runs it: gunicorn with config/gunicorn.py and production settings, on
127.0.0.1. Security audit items 5 (secrets stay out of the access log, no forged lines) and 12 (HTTPS is
decided by the trusted proxy, not by a header any client sends; HSTS covers subdomains)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "eyJzZWNyZXQiOiJ0b2tlbiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
SUBJECT = "alice@example.com"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gunicorn:
    def __init__(self, tmp_path: Path, *, trusted_proxies: str, extra_env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.log_path = tmp_path / f"gunicorn-{self.port}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
            "PROVENANT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "PROVENANT_BLIND_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
            "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant"),
            "GUNICORN_FORWARDED_ALLOW_IPS": trusted_proxies,
            # What production settings require besides the secrets (issue #15): a delivering email backend (nothing
            # is sent here), a public https address and a shared Redis cache.
            "EMAIL_URL": "smtp://127.0.0.1:25",
            "PROVENANT_PUBLIC_BASE_URL": "https://privacy.example.test",
            "REDIS_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15"),
            "WEB_CONCURRENCY": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **(extra_env or {}),
        }
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"),
            "--bind", f"127.0.0.1:{self.port}", "config.wsgi:application",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"gunicorn did not start:\n{self.log()}") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture
def untrusted_front(tmp_path: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(tmp_path, trusted_proxies="10.255.255.1")  # a proxy that is not us
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rebalancing_front(tmp_path: Path) -> Iterator[Gunicorn]:
    """Every request counts as CPU-heavy (0 ms): each answer hands its connection back to the listening socket."""
    server = Gunicorn(tmp_path, trusted_proxies="127.0.0.1", extra_env={"GUNICORN_REBALANCE_AFTER_MS": "0"})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def trusted_front(tmp_path: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(tmp_path, trusted_proxies="127.0.0.1")
    try:
        yield server
    finally:
        server.stop()


def test_a_client_cannot_claim_https_with_a_header(untrusted_front: Gunicorn) -> None:
    response = httpx.get(f"{untrusted_front.url}/api/v1/sources", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://")
    assert httpx.get(f"{untrusted_front.url}/healthz").status_code == 200  # the probe is exempt


def test_the_trusted_proxy_decides_https_and_hsts_covers_subdomains(trusted_front: Gunicorn) -> None:
    response = httpx.get(f"{trusted_front.url}/api/v1/sources", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 401  # served as HTTPS: no redirect; no key, so refused
    hsts = response.headers["strict-transport-security"]
    assert "includeSubDomains" in hsts
    assert "max-age=31536000" in hsts


def test_access_log_holds_no_token_no_subject_and_no_forged_line(untrusted_front: Gunicorn) -> None:
    url = untrusted_front.url
    httpx.get(f"{url}/api/v1/dsar/verify/{TOKEN}")
    httpx.get(f"{url}/api/v1/dsar/exports/{TOKEN}?after={TOKEN}", headers={"Referer": f"{url}/x/{TOKEN}"})
    httpx.get(f"{url}/api/v1/subjects/{SUBJECT}/state")
    httpx.get(f"{url}/nothing%0A127.0.0.1%20%22GET%20/forged%20HTTP/1.1%22%20200")
    deadline = time.monotonic() + 5
    while untrusted_front.log().count('"GET ') < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = untrusted_front.log()
    assert log.count('"GET ') >= 4, log
    assert "/api/v1/dsar/verify/{token}" in log
    assert TOKEN not in log
    assert SUBJECT not in log
    assert not any(line.startswith('127.0.0.1 "GET /forged') for line in log.splitlines())


def test_a_chunked_body_is_refused_not_read_as_empty(untrusted_front: Gunicorn) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"subject_id": "x",'
        yield b' "events": []}'

    response = httpx.post(
        f"{untrusted_front.url}/api/v1/consent", content=body(), headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 411
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/length-required")


def answers_on_one_connection(url: str, paths: list[str]) -> list[tuple[int, str, int]]:
    """Status, Connection header and local port of each answer, asked in turn by one keep-alive client."""
    answers = []
    with httpx.Client(base_url=url) as client:
        for path in paths:
            with client.stream("GET", path) as response:
                port = response.extensions["network_stream"].get_extra_info("client_addr")[1]  # before it closes
                response.read()
                answers.append((response.status_code, response.headers.get("connection", ""), port))
    return answers


def test_ordinary_requests_keep_their_connection(trusted_front: Gunicorn) -> None:
    answers = answers_on_one_connection(trusted_front.url, ["/healthz", "/healthz", "/healthz"])
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert {connection for _, connection, _ in answers} == {"keep-alive"}
    assert len({port for _, _, port in answers}) == 1  # one connection throughout


def test_a_heavy_request_alone_in_its_process_keeps_its_connection(rebalancing_front: Gunicorn) -> None:
    answers = answers_on_one_connection(rebalancing_front.url, ["/healthz", "/healthz"])
    assert {connection for _, connection, _ in answers} == {"keep-alive"}


def test_heavy_requests_sharing_their_process_hand_their_connections_back(rebalancing_front: Gunicorn) -> None:
    """(Issue #16) a keep-alive connection stays with the process that accepted it; after a request that took more CPU
    than GUNICORN_REBALANCE_AFTER_MS (0 here) while another request was in progress in that process (one worker, 8
    clients), the answer says Connection: close, and the client's next request comes on a new connection, which an
    idle worker may accept."""
    seen: list[tuple[int, str, int]] = []

    def client() -> None:
        seen.extend(answers_on_one_connection(rebalancing_front.url, ["/healthz"] * 40))

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=60)
    assert len(seen) == 320
    assert {status for status, _, _ in seen} == {200}
    closed = [answer for answer in seen if answer[1] == "close"]
    assert closed  # requests overlapped in the one process: those answers handed their connections back
    assert len({port for _, _, port in seen}) > 8  # and their clients came back on new connections
