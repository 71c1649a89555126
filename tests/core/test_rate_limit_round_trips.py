"""An API request counts itself in its key's budget in one Redis round trip (issue #16): limits' two sliding-window
scripts go in one pipeline (``core.throttling.OneRoundTripRedisStorage``); a busy budget's requests go several in one
(``core.rate_batches``). Measured on the wire through a proxy in front of a redis-server of the test's own; the
counts must be the ones the library itself reads back."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from core.rate_batches import BatchedCounts, flush_every_tally, forget_every_tally
from core.rate_limits import BUCKET_API_KEY, count_in_store, rate_limit_hit
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
            try:
                target.sendall(data)
            except OSError:  # the other end went away (a stopped redis-server)
                for end in (source, target):
                    end.close()
                return

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
    forget_every_tally()  # no request of another test waits to be sent to this store
    yield proxy
    forget_every_tally()
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


# Batched counting (core.rate_batches): a busy budget's requests go to Redis several at a time.


def test_a_busy_budget_goes_to_redis_in_batches_and_every_request_is_counted(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer, settings: Any
) -> None:
    settings.PROVENANT_API_RATE_COUNT_BATCH = 16
    settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS = 30  # no answer gets old during the loop, however slow the box
    budget = 100_000  # batches of 16 (at most 1/200 of the budget)
    rate_limit_hit(BUCKET_API_KEY, "key-warm", 5)  # loads the scripts
    before = counted_store.exchanges
    remaining = []
    for _ in range(160):
        allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-busy", budget)
        assert allowed
        remaining.append(state.remaining)
    # The first request goes alone (nothing is known of the budget yet), then every 16th carries itself and the 15
    # served before it: 10 round trips (requests 1, 17, ..., 145) where counting one by one takes 160.
    assert counted_store.exchanges - before == 10
    # One process: what it reports is exact, one less with every request.
    assert remaining == [budget - n for n in range(1, 161)]
    # The last 15 wait in the process; the others are in Redis.
    assert library_view(own_redis.port, budget, "key-busy") == budget - 145

    settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS = 0.05
    time.sleep(0.1)  # the store's answer is now older than FLUSH_SECONDS: the next request sends the waiting ones
    allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-busy", budget)
    assert allowed
    assert state.remaining == budget - 161 == library_view(own_redis.port, budget, "key-busy")


def test_threads_of_one_process_share_its_tally_and_every_served_request_reaches_redis(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer, settings: Any
) -> None:
    settings.PROVENANT_API_RATE_COUNT_BATCH = 16
    settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS = 30
    budget = 100_000
    rate_limit_hit(BUCKET_API_KEY, "key-warm", 5)
    before = counted_store.exchanges
    served: list[int] = []

    def client() -> None:
        for _ in range(150):
            allowed, _ = rate_limit_hit(BUCKET_API_KEY, "key-threads", budget)
            served.append(int(allowed))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(served) == 1200
    assert counted_store.exchanges - before < 1200 / 4  # most requests counted in the process (1/8 here)
    flush_every_tally()  # as a gunicorn worker does on its way out
    assert library_view(own_redis.port, budget, "key-threads") == budget - 1200


def test_a_batch_the_budget_no_longer_takes_whole_is_counted_as_far_as_it_goes(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer, settings: Any
) -> None:
    """One request waits in this process (batches of 2 in a budget of 400) when another process spends all but one
    of the budget: this process's next hit of two is refused whole, so the waiting one is counted alone (the last
    one the budget takes) and the request itself is refused. 400 served, 400 counted."""
    settings.PROVENANT_API_RATE_COUNT_BATCH = 16
    settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS = 30
    budget = ("api-key", "key-spent", 400)
    process = BatchedCounts(count_in_store)
    assert process.hit(budget).allowed  # to the store: 399 left
    assert process.hit(budget).allowed  # counted here: one waits
    assert count_in_store(budget, 398).allowed  # another process: 1 left in Redis
    third = process.hit(budget)
    assert not third.allowed
    assert library_view(own_redis.port, 400, "key-spent") == 0


def test_requests_waiting_when_redis_is_unreachable_are_sent_once_it_is_back(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer, settings: Any
) -> None:
    settings.PROVENANT_API_RATE_COUNT_BATCH = 16
    settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS = 30
    budget = 100_000
    for _ in range(6):  # one to the store, five wait
        assert rate_limit_hit(BUCKET_API_KEY, "key-outage", budget)[0]
    own_redis.stop()  # an unpersisted Redis: its counts are gone
    settings.PROVENANT_API_RATE_COUNT_FLUSH_SECONDS = 0  # every request now goes to the store
    allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-outage", budget)
    assert allowed  # served uncounted while Redis is down (issue #15), as before
    assert state.remaining == budget
    own_redis.start()
    allowed, _ = rate_limit_hit(BUCKET_API_KEY, "key-outage", budget)
    assert allowed
    # The restarted Redis holds the five that waited and this request; the one served during the outage is not.
    assert library_view(own_redis.port, budget, "key-outage") == budget - 6


def test_the_last_quarter_of_a_budget_is_counted_request_by_request_and_the_budget_holds(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer, settings: Any
) -> None:
    """Two processes (two sets of tallies on one store) share a budget of 400 a minute (batches of 2): together
    they are let through at most 400 + 2 x (2 - 1), the refusals are Redis's, and every request served is in it."""
    settings.PROVENANT_API_RATE_COUNT_BATCH = 16
    processes = [BatchedCounts(count_in_store), BatchedCounts(count_in_store)]
    budget = ("api-key", "key-shared", 400)
    outcomes: list[tuple[int, bool, int]] = []
    for n in range(480):
        process = n % 2
        before = counted_store.exchanges
        answer = processes[process].hit(budget)
        outcomes.append((process, answer.allowed, counted_store.exchanges - before))
    served = sum(1 for _, allowed, _ in outcomes if allowed)
    assert 400 <= served <= 402
    assert all(not allowed for _, allowed, _ in outcomes[405:])  # spent: every later request refused
    # The first 300 or so go to Redis in pairs; the last quarter each on its own.
    first_half = sum(trips for _, _, trips in outcomes[:200])
    assert first_half <= 110
    assert all(trips >= 1 for _, _, trips in outcomes[330:400])
    for counts in processes:  # what still waits in either process goes to Redis with its next request
        counts.hit(budget)
    assert library_view(own_redis.port, 400, "key-shared") == 0


def test_small_budgets_are_counted_one_request_at_a_time(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer, settings: Any
) -> None:
    settings.PROVENANT_API_RATE_COUNT_BATCH = 16
    rate_limit_hit(BUCKET_API_KEY, "key-small", 399)
    for n in range(2, 12):
        before = counted_store.exchanges
        allowed, state = rate_limit_hit(BUCKET_API_KEY, "key-small", 399)
        assert (allowed, counted_store.exchanges - before) == (True, 1)
        assert state.remaining == 399 - n == library_view(own_redis.port, 399, "key-small")


def test_batching_is_off_with_a_batch_of_one(
    counted_store: ExchangeCountingProxy, own_redis: RedisServer, settings: Any
) -> None:
    settings.PROVENANT_API_RATE_COUNT_BATCH = 1
    rate_limit_hit(BUCKET_API_KEY, "key-unbatched", 100_000)
    before = counted_store.exchanges
    for _ in range(20):
        rate_limit_hit(BUCKET_API_KEY, "key-unbatched", 100_000)
    assert counted_store.exchanges - before == 20
    assert library_view(own_redis.port, 100_000, "key-unbatched") == 100_000 - 21
