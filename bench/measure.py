"""Instruments shared by the benchmarks (issue #16): server CPU per operation, database round trips and
transactions per operation, a reference endpoint measured in the same run, and one printing function.

* **Server CPU** (:class:`CpuProbe`): user+system CPU time from ``/proc/<pid>/stat`` of the app processes
  (a root pid such as gunicorn's master and all its descendants, e.g. the workers; add a Celery worker's pid
  as another root) and of the PostgreSQL backends serving the bench database (pids from
  ``pg_stat_activity`` where ``datname`` is that database, read over a connection to the ``postgres``
  database so the probe is not one of them). Sampled before and after a phase; a background thread
  re-reads every ``poll_seconds`` so a backend that exits during the phase still contributes the CPU it had
  used when last seen (the part after that last look is lost, and the backends that appeared or vanished are
  counted and printed). Fork cost of new backends is the postmaster's and is not counted.
* **Round trips** (:class:`WireCounter`): a TCP proxy in the bench process between the app and PostgreSQL
  (127.0.0.1, a free port) that parses the frontend stream and counts the messages after which the client
  waits for an answer: simple ``Query`` ('Q'), extended-protocol ``Sync`` ('S') and ``FunctionCall`` ('F').
  BEGIN, COMMIT, SAVEPOINT and connection health checks cross the wire as such messages, so they count.
  It also counts *exchanges* (the times a client speaks again after the server answered), which equals round
  trips when nothing is pipelined. SSL is refused on the proxied URL (``sslmode=disable``) so the stream is
  readable. The proxy costs latency, so round trips are measured in a separate short phase against a second
  server started through the proxy, never in the phase whose CPU and rate are reported.
* **Transactions**: counted on the same wire: every ReadyForQuery that reports the connection idle ends a
  transaction (explicit, or the implicit one of a lone statement such as a health check). Cross-checked over
  a whole run against ``xact_commit + xact_rollback`` of the bench database in ``pg_stat_database``
  (:func:`transactions`, read after the proxied server stopped so its backends flushed their statistics).
* **Reference**: ``bench/reference_settings.py`` (product settings + ``ROOT_URLCONF =
  bench.reference_urls``) adds ``GET /bench/reference/<pk>``, a minimal DRF ``APIView`` doing one
  primary-key lookup of an Organization, served by the same gunicorn, settings and middleware as the product
  routes. :func:`reference_environment` switches a bench's environment to it.
* :func:`print_table` prints req/s, p50/p95/p99, app and PG CPU ms/op, round trips/op, transactions/op and
  the ratios to the reference row.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------------------------------------- CPU


def process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    # After "pid (comm) ": state(0) ppid(1) ... utime(11) stime(12)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return int(raw[raw.rindex(b")") + 2 :].split()[1])


def descendants(roots: list[int]) -> set[int]:
    """``roots`` and every live process below them."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _parent_of(int(entry))
            if parent is not None:
                parents[int(entry)] = parent
    found = {pid for pid in roots if pid in parents}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                changed = True
    return found


def admin_url(database_url: str) -> str:
    return database_url.rsplit("/", 1)[0] + "/postgres"


def database_name(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")


@dataclass
class CpuDelta:
    app_seconds: float
    pg_seconds: float
    app_processes: int
    pg_backends: int
    pg_appeared: int
    pg_vanished: int
    app_appeared: int
    app_vanished: int

    def note(self) -> str:
        parts = [f"{self.app_processes} app processes", f"{self.pg_backends} PG backends"]
        if self.pg_appeared or self.pg_vanished:
            parts.append(f"PG backends +{self.pg_appeared}/-{self.pg_vanished} during the phase")
        if self.app_appeared or self.app_vanished:
            parts.append(f"app processes +{self.app_appeared}/-{self.app_vanished} during the phase")
        return ", ".join(parts)


class CpuProbe:
    """CPU of the app process trees under ``app_roots`` and of the PostgreSQL backends of the bench database."""

    def __init__(self, *, app_roots: list[int], database_url: str, poll_seconds: float = 0.5) -> None:
        self.app_roots = list(app_roots)
        self.database = database_name(database_url)
        self.admin_url = admin_url(database_url)
        self.poll_seconds = poll_seconds

    def _pg_pids(self, connection: Any) -> set[int]:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            (self.database,),
        ).fetchall()
        return {int(row[0]) for row in rows}

    def _read(self, connection: Any) -> tuple[dict[int, float], dict[int, float]]:
        app = {pid: cpu for pid in descendants(self.app_roots) if (cpu := process_cpu_seconds(pid)) is not None}
        pg = {pid: cpu for pid in self._pg_pids(connection) if (cpu := process_cpu_seconds(pid)) is not None}
        return app, pg

    @contextmanager
    def phase(self) -> Iterator[list[CpuDelta]]:
        """Measure the block; the yielded list holds one :class:`CpuDelta` after the block."""
        import psycopg

        out: list[CpuDelta] = []
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            app0, pg0 = self._read(connection)
            last_app, last_pg = dict(app0), dict(pg0)
            stop = threading.Event()
            lock = threading.Lock()

            def poll() -> None:
                import psycopg as pg_module

                with pg_module.connect(self.admin_url, autocommit=True) as poll_connection:
                    while not stop.wait(self.poll_seconds):
                        app, pg = self._read(poll_connection)
                        with lock:
                            last_app.update(app)
                            last_pg.update(pg)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            try:
                yield out
            finally:
                stop.set()
                poller.join()
                app1, pg1 = self._read(connection)
                last_app.update(app1)
                last_pg.update(pg1)

        def delta(before: dict[int, float], last: dict[int, float]) -> float:
            return sum(cpu - before.get(pid, 0.0) for pid, cpu in last.items())

        out.append(
            CpuDelta(
                app_seconds=delta(app0, last_app),
                pg_seconds=delta(pg0, last_pg),
                app_processes=len(last_app),
                pg_backends=len(last_pg),
                pg_appeared=len(set(last_pg) - set(pg0)),
                pg_vanished=len(set(last_pg) - set(pg1)),
                app_appeared=len(set(last_app) - set(app0)),
                app_vanished=len(set(last_app) - set(app1)),
            )
        )


# ------------------------------------------------------------------------------------- round trips

_WAITING = frozenset(b"QSF")
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102


class _FrontendParser:
    """Counts the frontend messages of one connection that wait for an answer."""

    def __init__(self, counter: WireCounter) -> None:
        self.counter = counter
        self.buffer = bytearray()
        self.startup = True

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.startup:
                if len(self.buffer) < 8:
                    return
                length, code = struct.unpack("!II", self.buffer[:8])
                if len(self.buffer) < length:
                    return
                del self.buffer[:length]
                if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                    continue  # the server answers one byte; our URL disables SSL so it answers 'N'
                self.startup = False
                continue
            if len(self.buffer) < 5:
                return
            kind = self.buffer[0]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            del self.buffer[: 1 + length]
            if kind in _WAITING:
                self.counter.add_waiting()


class _BackendParser:
    """Counts the transactions the server finished on one connection: a ReadyForQuery ('Z') reporting
    idle ('I') ends a transaction (an explicit one after BEGIN, or the implicit one of a statement run
    outside a block); the first ReadyForQuery, which ends the connection's startup, is not one."""

    def __init__(self, counter: WireCounter) -> None:
        self.counter = counter
        self.buffer = bytearray()
        self.ready_seen = False

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 5:
            kind = self.buffer[0]
            (length,) = struct.unpack("!I", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return
            if kind == ord("Z"):
                status = self.buffer[5]
                if self.ready_seen and status == ord("I"):
                    self.counter.add_transaction()
                self.ready_seen = True
            del self.buffer[: 1 + length]


class WireCounter:
    """A TCP proxy from 127.0.0.1:<free port> to the PostgreSQL server of ``database_url`` that counts
    round trips. Use :meth:`proxied_url` as the app's DATABASE_URL; :meth:`reset` / :attr:`round_trips`."""

    def __init__(self, database_url: str) -> None:
        parts = urlsplit(database_url)
        self.database_url = database_url
        self.target = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._lock = threading.Lock()
        self.round_trips = 0
        self.exchanges = 0
        self.connections = 0
        self.transactions = 0
        self.total_transactions = 0  # never reset: compared with pg_stat_database over a whole run
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def proxied_url(self) -> str:
        parts = urlsplit(self.database_url)
        netloc = parts.netloc.rsplit("@", 1)
        userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
        query = "&".join(q for q in [parts.query, "sslmode=disable", "gssencmode=disable"] if q)
        return urlunsplit((parts.scheme, f"{userinfo}127.0.0.1:{self.port}", parts.path, query, ""))

    def add_waiting(self) -> None:
        with self._lock:
            self.round_trips += 1

    def add_transaction(self) -> None:
        with self._lock:
            self.transactions += 1
            self.total_transactions += 1

    def reset(self) -> None:
        with self._lock:
            self.round_trips = self.exchanges = self.connections = self.transactions = 0

    def snapshot(self) -> tuple[int, int, int, int]:
        with self._lock:
            return self.round_trips, self.exchanges, self.connections, self.transactions

    def close(self) -> None:
        self._closed = True
        self.listener.close()

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        parser = _FrontendParser(self)
        backend = _BackendParser(self)
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, server)
        selector.register(server, selectors.EVENT_READ, client)
        last_from_client = False
        try:
            while True:
                for key, _ in selector.select():
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client:
                        parser.feed(data)
                        if not last_from_client:
                            with self._lock:
                                self.exchanges += 1
                        last_from_client = True
                    else:
                        backend.feed(data)
                        last_from_client = False
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            client.close()
            server.close()


def transactions(database_url: str) -> int:
    """xact_commit + xact_rollback of the database so far (as flushed by backends)."""
    import psycopg

    with psycopg.connect(admin_url(database_url), autocommit=True) as connection:
        row = connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database_name(database_url),),
        ).fetchone()
    return int(row[0]) if row else 0


def wait_backends_gone(database_url: str, timeout: float = 30) -> int:
    """Wait until no client backend serves the database (after stopping the server); return how many remain."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_url(database_url), autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                (database_name(database_url),),
            ).fetchone()
            remaining = int(row[0]) if row else 0
            if remaining == 0 or time.monotonic() > deadline:
                return remaining
            time.sleep(0.1)


@dataclass
class WireResult:
    operations: int
    round_trips: int
    exchanges: int
    connections: int
    transactions: int

    @property
    def round_trips_per_op(self) -> float:
        return self.round_trips / self.operations if self.operations else float("nan")

    @property
    def transactions_per_op(self) -> float:
        return self.transactions / self.operations if self.operations else float("nan")


# ----------------------------------------------------------------------------------------- results


@dataclass
class PhaseResult:
    """One measured phase: the load result of bench/loadgen.py plus the server's CPU and the wire counts."""

    name: str
    operations: int  # what "per op" divides by (requests, or events for bulk)
    load: dict[str, Any]
    cpu: CpuDelta | None = None
    wire: WireResult | None = None
    unit: str = "req"
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Operations per second (req/s, or events/s when an operation is an event)."""
        seconds = float(self.load.get("seconds") or 0.0)
        return self.operations / seconds if seconds else 0.0

    @property
    def app_ms_per_op(self) -> float:
        return self.cpu.app_seconds * 1000 / self.operations if self.cpu and self.operations else float("nan")

    @property
    def pg_ms_per_op(self) -> float:
        return self.cpu.pg_seconds * 1000 / self.operations if self.cpu and self.operations else float("nan")

    @property
    def total_ms_per_op(self) -> float:
        return self.app_ms_per_op + self.pg_ms_per_op


def measure_phase(
    name: str,
    run: Callable[[], dict[str, Any]],
    *,
    probe: CpuProbe,
    operations: Callable[[dict[str, Any]], int] | None = None,
    unit: str = "req",
) -> PhaseResult:
    """Run ``run`` (which returns a loadgen result) under ``probe``; operations default to answered requests."""
    with probe.phase() as cpu:
        result = run()
    count = operations(result) if operations else int(result["requests"])
    return PhaseResult(name=name, operations=count, load=result, cpu=cpu[0], unit=unit)


def measure_wire(
    run: Callable[[], dict[str, Any]],
    *,
    counter: WireCounter,
    operations: Callable[[dict[str, Any]], int] | None = None,
) -> WireResult:
    """Round trips and transactions of ``run`` against a server whose database traffic goes through ``counter``
    (run a few requests first so connection set-up is not counted)."""
    counter.reset()
    result = run()
    round_trips, exchanges, connections, xacts = counter.snapshot()
    count = operations(result) if operations else int(result["requests"])
    return WireResult(
        operations=count, round_trips=round_trips, exchanges=exchanges, connections=connections, transactions=xacts
    )


# --------------------------------------------------------------------------------------- reference


def reference_environment(env: dict[str, str]) -> dict[str, str]:
    """The bench's environment with the reference endpoint added to the product's URLs (bench-only)."""
    return {**env, "DJANGO_SETTINGS_MODULE": "bench.reference_settings"}


def reference_path(organization_pk: int) -> str:
    return f"/bench/reference/{organization_pk}"


# ---------------------------------------------------------------------------------------- printing


def _ratio(value: float, reference: float) -> str:
    if reference != reference or value != value or reference == 0:
        return "-"
    return f"{value / reference:.2f}x"


def print_table(results: list[PhaseResult], *, reference: PhaseResult | None = None, title: str = "") -> None:
    """One line per phase: rate, p50/p95/p99, app and PG CPU ms/op, round trips/op, transactions/op and,
    when a reference is given, rate and CPU as a ratio to it."""
    if title:
        print(title)
    header = (
        f"{'phase':<34}{'rate':>14}{'p50':>8}{'p95':>8}{'p99':>8}{'app ms':>8}{'PG ms':>8}{'CPU ms':>8}"
        f"{'rt/op':>7}{'tx/op':>7}{'rate/ref':>9}{'CPU/ref':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        load = result.load
        rt = f"{result.wire.round_trips_per_op:.2f}" if result.wire else "-"
        tx = f"{result.wire.transactions_per_op:.2f}" if result.wire else "-"
        comparable = reference is not None and reference.unit == result.unit
        rate_ratio = _ratio(result.rate, reference.rate) if reference and comparable else "-"
        cpu_ratio = _ratio(result.total_ms_per_op, reference.total_ms_per_op) if reference and comparable else "-"
        rate = f"{result.rate:,.0f} {result.unit}/s"
        print(
            f"{result.name:<34}{rate:>14}"
            f"{load['p50_ms']:>8.1f}{load['p95_ms']:>8.1f}{load['p99_ms']:>8.1f}"
            f"{result.app_ms_per_op:>8.2f}{result.pg_ms_per_op:>8.2f}{result.total_ms_per_op:>8.2f}"
            f"{rt:>7}{tx:>7}{rate_ratio:>9}{cpu_ratio:>9}"
        )
    print("(latencies in ms per HTTP request; CPU ms per operation = per request, or per event where the rate is ev/s)")
    for result in results:
        details = []
        if result.cpu:
            details.append(result.cpu.note())
        if result.wire:
            details.append(
                f"wire: {result.wire.round_trips} round trips, {result.wire.exchanges} exchanges, "
                f"{result.wire.transactions} transactions over {result.wire.operations} ops, "
                f"{result.wire.connections} connections"
            )
        details.append(f"statuses {result.load.get('statuses')}")
        details.extend(result.notes)
        print(f"  {result.name}: " + "; ".join(details))
