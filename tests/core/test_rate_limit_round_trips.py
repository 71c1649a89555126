"""An API request counts itself in its key's budget in one Redis round trip (issue #16): limits' two sliding-window
scripts go in one pipeline (``core.throttling.OneRoundTripRedisStorage``). Measured on the wire through a proxy in
front of a redis-server of the test's own; the counts must be the ones the library itself reads back."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from core.rate_limits import BUCKET_API_KEY, rate_limit_hit
from core.throttling import OneRoundTripRedisStorage, throttle_storage
from tests.integration.faults import RedisServer


class ExchangeCountingProxy:
    """A TCP proxy on 127.0.0.1 that counts round trips: each time the client speaks after the server has
    answered (or first), one more. Pipelined commands sent together count once."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.exchanges = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            turn = {"client_spoke_last": False}
            threading.Thread(target=self.pipe, args=(client, server, turn, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, turn, False), daemon=True).start()

    def pipe(self, source: socket.socket, target: socket.socket, turn: dict[str, bool], from_client: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                for end in (source, target):
                    end.close()
                return
            with self.lock:
                if from_client and not turn["client_spoke_last"]:
                    self.exchanges += 1
                turn["client_spoke_last"] = from_client
            target.sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def counted_store(own_redis: RedisServer, settings: Any) -> Iterator[ExchangeCountingProxy]:
    proxy = ExchangeCountingProxy(own_redis.port)
    settings.PROVENANT_THROTTLE_STORAGE_URI = f"redis://127.0.0.1:{proxy.port}/0"
    yield proxy
    proxy.close()


def library_view(port: int, per_minute: int, identity: str) -> int:
    """What limits itself (its own storage and strategy, another connection) says remains of the budget."""
    from django.conf import settings

    storage = RedisStorage(f"redis://127.0.0.1:{port}/0", key_prefix=settings.PROVENANT_THROTTLE_KEY_PREFIX)
    limiter = SlidingWindowCounterRateLimiter(storage)
    return int(limiter.get_window_stats(RateLimitItemPerMinute(per_minute), "rate", BUCKET_API_KEY, identity).remaining)


def test_a_request_counts_itself_in_one_round_trip_and_the_library_reads_the_same_counts(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer
) -> None:
    assert isinstance(throttle_storage(), OneRoundTripRedisStorage)
    first_allowed, first = rate_limit_hit(BUCKET_API_KEY, "key-1", 5)  # loads the scripts on first use
    assert first_allowed
    assert first.remaining == 4

    outcomes = []
    for _ in range(5):
        before = counted_store.exchanges
        allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-1", 5)
        outcomes.append((allowed, state.remaining, counted_store.exchanges - before))
        assert state.remaining == library_view(own_redis.port, 5, "key-1")
    # Four more within the budget of five, then refused; each counted in exactly one round trip.
    assert outcomes == [(True, 3, 1), (True, 2, 1), (True, 1, 1), (True, 0, 1), (False, 0, 1)]
    assert 0 < state.reset_seconds <= 60


def test_a_redis_that_lost_its_scripts_is_counted_the_librarys_way_then_in_one_round_trip_again(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer
) -> None:
    rate_limit_hit(BUCKET_API_KEY, "key-2", 10)
    with redis.Redis(port=own_redis.port) as direct:
        direct.script_flush()  # as after a restart of Redis, or SCRIPT FLUSH by an operator

    allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-2", 10)
    assert allowed
    assert state.remaining == 8 == library_view(own_redis.port, 10, "key-2")

    before = counted_store.exchanges
    allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-2", 10)
    assert (allowed, state.remaining, counted_store.exchanges - before) == (True, 7, 1)


def test_a_redis_holding_only_the_counting_script_counts_a_request_once(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer
) -> None:
    """After a restart, a public form's throttle (which only counts) loads the counting script first; the next API
    request finds the window's script missing. Its entry was taken; it must not be taken again."""
    with redis.Redis(port=own_redis.port) as direct:
        direct.script_flush()
    SlidingWindowCounterRateLimiter(throttle_storage()).hit(RateLimitItemPerMinute(30), "form", "address", "x")

    allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-4", 1)  # a budget of one request a minute

    assert allowed
    assert state.remaining == 0 == library_view(own_redis.port, 1, "key-4")
    refused, _ = rate_limit_hit(BUCKET_API_KEY, "key-4", 1)
    assert not refused


def test_other_callers_of_the_store_are_answered_by_the_library_unchanged(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer
) -> None:
    """The public forms' throttles hit and test windows through the same store, outside ``hit_and_window_stats``:
    each call is the library's own (a window read is never an earlier hit's kept answer)."""
    storage = throttle_storage()
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = RateLimitItemPerMinute(3)
    assert limiter.hit(item, "form", "address", "198.51.100.1")
    rate_limit_hit(BUCKET_API_KEY, "key-3", 5)
    assert limiter.hit(item, "form", "address", "198.51.100.1")
    assert limiter.get_window_stats(item, "form", "address", "198.51.100.1").remaining == 1
    assert limiter.hit(item, "form", "address", "198.51.100.1")
    assert not limiter.test(item, "form", "address", "198.51.100.1")
    assert not limiter.hit(item, "form", "address", "198.51.100.1")
