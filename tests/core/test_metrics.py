"""/metrics (issue #15): counters move with real traffic, the token is required, and every alert rule in
docker/prometheus/alerts.yml names a metric the endpoint exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from consent.models import Purpose, Source
from core.models import Organization
from provenance.services.recipients import recipient_create
from tests.conftest import event_body

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-the-test"


def scrape(client: Client) -> dict[str, float]:
    """Every sample of /metrics by ``name{label="value",...}`` (labels sorted)."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed_metrics() -> set[str]:
    """The sample names /metrics declares (also those with no sample yet, such as the 5xx counter)."""
    Client().get("/readyz")  # one request, so the per-route series exist
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        family.name + suffix
        for family in text_string_to_metric_families(response.content.decode())
        for suffix in SUFFIXES.get(family.type, ("",))
    }


@pytest.fixture
def metrics_on(settings: Any) -> None:
    settings.PROVENANT_METRICS_TOKEN = TOKEN
    settings.PROVENANT_METRICS_CACHE_SECONDS = 0  # every scrape counts afresh: the tests watch figures move


@pytest.mark.django_db
def test_the_endpoint_does_not_exist_without_a_token_setting(settings: Any) -> None:
    settings.PROVENANT_METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_the_token_is_required(metrics_on: None) -> None:
    client = Client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 404
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"provenant_http_requests_total" in response.content


@pytest.mark.django_db
def test_counters_move_with_real_traffic(
    metrics_on: None,
    organization: Organization,
    source: Source,
    purpose: Purpose,
    client_rw: APIClient,
    api_client_for: Callable[..., APIClient],
) -> None:
    client = Client()
    recipient_create(
        organization=organization, actor="test", key="crm", name="CRM", role="processor", purposes=["marketing-email"]
    )
    before = scrape(client)

    assert (
        client_rw.post("/api/v1/consent-events", event_body(subject_id="metrics-1"), format="json").status_code == 201
    )
    stamper = api_client_for(organization, "stamp")
    allowed = stamper.post(
        "/api/v1/stamps",
        {"recipient": "crm", "purpose": "marketing-email", "subject_id": "metrics-1", "data": {}},
        format="json",
    )
    blocked = stamper.post(
        "/api/v1/stamps",
        {"recipient": "crm", "purpose": "marketing-email", "subject_id": "nobody", "data": {}},
        format="json",
    )
    assert allowed.status_code == blocked.status_code == 200, (allowed.content, blocked.content)
    assert client_rw.get("/api/v1/subjects/alice@example.com/consent").status_code in (200, 404)
    assert client.get("/no/such/page").status_code == 404

    after = scrape(client)

    def moved(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    consent_route = 'method="POST",route="/api/v1/consent-events",status="201"'
    assert moved(f"provenant_http_requests_total{{{consent_route}}}") == 1
    assert moved('provenant_http_request_duration_seconds_count{method="POST",route="/api/v1/consent-events"}') == 1
    assert moved('provenant_http_requests_total{method="GET",route="unmatched",status="404"}') == 1
    assert moved("provenant_consent_events_recorded_total{}") == 1
    assert moved('provenant_stamps_total{decision="allow"}') == 1
    assert moved('provenant_stamps_total{decision="block"}') == 1
    assert moved('provenant_stamp_block_reasons_total{reason="NO_CONSENT"}') == 1
    assert "provenant_dsar_overdue{}" in after
    assert "provenant_dsar_due_within_7_days{}" in after
    assert 'provenant_celery_queue_length{queue="celery"}' in after
    # The route pattern, never the path: the subject id in the URL is nowhere in the scrape.
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert "alice@example.com" not in text
    assert "/api/v1/subjects/{subject_id}/consent" in text


@pytest.mark.django_db
def test_task_runs_are_counted_from_celery_signals(metrics_on: None) -> None:
    from config.celery import app

    client = Client()
    name = "consent.tasks.purge_preference_links"
    before = scrape(client)
    app.loader.import_default_modules()
    app.tasks[name].apply()
    after = scrape(client)
    for outcome in ("started", "succeeded"):
        key = f'provenant_celery_tasks_total{{outcome="{outcome}",task="{name}"}}'
        assert after.get(key, 0.0) - before.get(key, 0.0) >= 1, key


def _alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((ROOT / "docker" / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.mark.django_db
def test_alert_rules_parse_and_name_only_metrics_the_endpoint_exposes(metrics_on: None) -> None:
    exposed = exposed_metrics()
    rules = _alert_rules()
    names = {rule["alert"] for rule in rules}
    assert {"ProvenantHigh5xxRatio", "ProvenantSlowP95", "ProvenantOverdueDsars", "ProvenantDeadLetters"} <= names
    assert {"ProvenantLedgerVerificationStale", "ProvenantQueueBacklog", "ProvenantQueueStale"} <= names
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        metrics = set(re.findall(r"\b(provenant_[a-z0-9_]+)", rule["expr"]))
        assert metrics, rule["alert"]
        assert metrics <= exposed, (rule["alert"], metrics - exposed)


@pytest.mark.django_db
def test_the_dashboard_queries_only_exposed_metrics(metrics_on: None) -> None:
    exposed = exposed_metrics()
    dashboard = json.loads((ROOT / "docker" / "grafana" / "provenant.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert len(expressions) >= 8
    for expression in expressions:
        metrics = set(re.findall(r"\b(provenant_[a-z0-9_]+)", expression))
        assert metrics, expression
        assert metrics <= exposed, (expression, metrics - exposed)


DOMAIN_TABLES = ("consent_", "provenance_", "dsar_")


def domain_queries(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if any(t in query["sql"] for t in DOMAIN_TABLES)]


@pytest.mark.django_db
def test_a_second_scrape_within_the_cache_period_counts_nothing_again(metrics_on: None, settings: Any) -> None:
    client = Client()
    with CaptureQueriesContext(connection) as uncached:
        first = scrape(client)
    assert len(domain_queries(uncached)) >= 5  # with 0 seconds: counted on the scrape
    settings.PROVENANT_METRICS_CACHE_SECONDS = 30
    scrape(client)  # counts, and keeps the figures

    with CaptureQueriesContext(connection) as cached:
        second = scrape(client)

    assert domain_queries(cached) == []
    for name in ("provenant_dsar_open{}", "provenant_dsar_overdue{}", "provenant_deliveries_dead_lettered_total{}"):
        assert second[name] == first[name]
