"""A gunicorn worker sends the API requests it counted itself (``core.rate_batches``) to Redis as it stops: gunicorn
with the project's own config file (its ``worker_exit`` hook), a redis-server of the test's own, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from core.models import Organization
from core.rate_limits import BUCKET_API_KEY
from core.services import api_key_create
from tests.integration.faults import RedisServer, WebServer, process_env

REQUESTS = 40  # with batches of 16: requests 1, 17 and 33 reach Redis with the ones before them, 7 wait


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def counted(redis_url: str, budget: int, identity: str) -> int:
    """What limits itself (its own storage and strategy) has counted in the key's budget."""
    storage = RedisStorage(redis_url, key_prefix=settings.PROVENANT_THROTTLE_KEY_PREFIX)
    stats = SlidingWindowCounterRateLimiter(storage).get_window_stats(
        RateLimitItemPerMinute(budget), "rate", BUCKET_API_KEY, identity
    )
    return budget - int(stats.remaining)


@pytest.mark.django_db(transaction=True)
def test_a_stopping_worker_sends_the_requests_it_counted_itself(
    own_redis: RedisServer, organization: Organization, tmp_path: Path
) -> None:
    api_key, key = api_key_create(organization=organization, name="exit", scopes=["consent:read"], actor="test")
    budget = settings.PROVENANT_API_RATE_LIMIT_PER_MINUTE  # the test settings' 1,000,000: batches of 16
    env = process_env(
        broker_url=own_redis.url,
        queue="unused",
        mail_dir=tmp_path / "mail",
        PROVENANT_THROTTLE_STORAGE_URI=own_redis.url,
        PROVENANT_API_RATE_COUNT_BATCH="16",
        PROVENANT_API_RATE_COUNT_FLUSH_SECONDS="600",  # nothing is sent for its age during the test
    )
    web = WebServer(tmp_path, env, config_file="config/gunicorn.py")
    try:
        with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {key}"}) as client:
            statuses = {client.get("/api/v1/subjects/nobody/consent").status_code for _ in range(REQUESTS)}
        assert statuses <= {200, 404}
        assert counted(own_redis.url, budget, str(api_key.pk)) == REQUESTS - 7  # 7 wait in the worker
    finally:
        web.stop()  # SIGTERM: the worker stops gracefully and runs worker_exit
    assert counted(own_redis.url, budget, str(api_key.pk)) == REQUESTS, web.log()
