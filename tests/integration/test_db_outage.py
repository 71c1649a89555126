"""A database outage (issue #15): gunicorn on a PostgreSQL cluster of the test's own, stopped mid-traffic.
Every endpoint (API, admin, privacy-center pages) answers 503 with Retry-After, never 500: problem+json, or a
small HTML page to a browser asking for a page;
/readyz names the database; /healthz stays 200 throughout; once the cluster is back, everything answers as
before."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.postgres_cluster import PostgresCluster, free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "outage-admin-password-1"


METRICS_TOKEN = "outage-metrics-token"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _environment(cluster: PostgresCluster, metrics_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": cluster.url,
        "DATABASE_CONN_MAX_AGE": "60",
        "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "PROVENANT_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "PROVENANT_BLIND_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        "PROVENANT_RETRY_AFTER_SECONDS": "7",
        "WEB_CONCURRENCY": "2",
        # Two workers, one scrape: prometheus_client's multiprocess mode sums them (config/gunicorn.py).
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PROVENANT_METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"manage.py {args}: {result.stdout}\n{result.stderr}"
    return result.stdout.strip()


class Server:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py"),
            "--bind", f"127.0.0.1:{self.port}", "config.wsgi:application",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"gunicorn did not start:\n{log_path.read_text()}") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture
def outage_stack(tmp_path: Path) -> Iterator[tuple[PostgresCluster, Server, str]]:
    cluster = PostgresCluster()
    cluster.start()
    server: Server | None = None
    try:
        cluster.create_database()
        env = _environment(cluster, tmp_path / "prometheus")
        _manage(env, "migrate", "--noinput")
        _manage(env, "create_organization", "acme", "--name", "Acme")
        secret = _manage(env, "create_api_key", "--organization", "acme", "--scope", "consent:read")
        _manage(env, "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.test")
        server = Server(env, tmp_path / "gunicorn.log")
        yield cluster, server, secret.splitlines()[-1]
    finally:
        if server is not None:
            server.stop()
        cluster.remove()


def _admin_session(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    page = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    response = client.post(
        "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token.group(1), "username": "admin", "password": ADMIN_PASSWORD},
        headers={"Referer": f"{base}/admin/login/"},
    )
    assert response.status_code == 302, response.text[:500]
    assert client.get("/admin/").status_code == 200
    return client


def test_a_database_outage_answers_503_with_retry_after_everywhere_and_recovers(
    outage_stack: tuple[PostgresCluster, Server, str],
) -> None:
    cluster, server, secret = outage_stack
    api = httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {secret}"})
    admin = _admin_session(server.url)
    public = httpx.Client(base_url=server.url, timeout=10)

    def requests() -> dict[str, httpx.Response]:
        return {
            "api": api.get("/api/v1/sources"),
            "api-write": api.post("/api/v1/consent-events", json={"subject_id": "x"}),
            "admin": admin.get("/admin/"),
            "admin-list": admin.get("/admin/core/organization/"),
            "privacy-center": public.get("/privacy/acme/"),
            "wrong-key": public.get("/api/v1/sources", headers={"Authorization": "Bearer nope"}),
        }

    before = requests()
    assert before["api"].status_code == 200
    assert before["admin"].status_code == 200
    assert before["admin-list"].status_code == 200
    assert server_ready(server)["status"] == "ready"

    # Traffic keeps flowing while the database goes away and comes back: never a 500, the probe always 200.
    seen: list[int] = []
    health: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=server.url, timeout=10, headers={"Authorization": f"Bearer {secret}"}) as c:
            while not stop.is_set():
                seen.append(c.get("/api/v1/sources").status_code)
                health.append(c.get("/healthz").status_code)

    runner = threading.Thread(target=traffic)
    runner.start()
    try:
        time.sleep(0.5)
        cluster.stop()
        time.sleep(0.5)

        during = requests()
        for name, response in during.items():
            assert response.status_code == 503, (name, response.status_code, response.text[:300])
            assert response.headers["retry-after"] == "7", name
            assert response.headers["content-type"] == "application/problem+json", name
            body = response.json()
            assert body["type"].endswith("/service-unavailable"), name
            assert body["status"] == 503
        # A browser asking for a page gets a small HTML page instead (no database, no template), same status.
        pages = {
            "privacy-center": public.get("/privacy/acme/", headers=BROWSER),
            "reports": admin.get("/reports/", headers=BROWSER),
            "admin": admin.get("/admin/core/organization/", headers=BROWSER),
            "api": api.get("/api/v1/sources", headers=BROWSER),  # the API answers problem+json whatever it is asked
        }
        for name, response in pages.items():
            assert response.status_code == 503, (name, response.status_code, response.text[:300])
            assert response.headers["retry-after"] == "7", name
            if name == "api":
                assert response.headers["content-type"] == "application/problem+json"
                continue
            assert response.headers["content-type"] == "text/html; charset=utf-8", name
            assert "<h1>Service unavailable</h1>" in response.text, name
            assert "7 seconds" in response.text, name
        ready = httpx.get(f"{server.url}/readyz", timeout=15)
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.headers["retry-after"] == "7"
        assert "database" in ready.json()["failing"]
        assert "database" in ready.json()["detail"]
        assert httpx.get(f"{server.url}/healthz").status_code == 200

        cluster.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{server.url}/readyz", timeout=15).status_code != 200:
            assert time.monotonic() < deadline, "not ready again within 30 s of the database's return"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        runner.join(timeout=30)

    after = requests()
    for name in ("api", "admin", "admin-list", "privacy-center", "wrong-key"):
        assert after[name].status_code == before[name].status_code, (name, after[name].text[:300])
    assert 503 in seen, "traffic met the outage"
    assert 500 not in seen
    assert set(seen) <= {200, 503}
    assert set(health) == {200}
    assert seen[-1] == 200
    assert server_ready(server)["checks"]["database"]["status"] == "ok"

    # The outage is on the dashboard: every 503 the traffic met is counted, across both gunicorn workers.
    scrape = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=15)
    assert scrape.status_code == 200
    counted = _sample(scrape.text, 'provenant_http_requests_total{method="GET",route="/api/v1/sources",status="503"}')
    assert counted >= seen.count(503) + 1  # the traffic's and requests()'s own
    assert _sample(scrape.text, 'provenant_http_requests_total{method="GET",route="/healthz",status="200"}') >= len(
        health
    )


def _sample(text: str, series: str) -> float:
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return 0.0


def server_ready(server: Server) -> dict[str, object]:
    response = httpx.get(f"{server.url}/readyz", timeout=15)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body
