"""Load: many concurrent clients mixing reads, writes, queries and subscriptions.

For each backend (SQLite, PostgreSQL): a Qala server (uvicorn, one process) on a fresh database
with ``--entities`` streetlights, an admin key made by ``qala keys create``, a local HTTP
receiver counting notifications, and ``--clients`` concurrent clients (200) that each send one
request after another for ``--duration`` seconds (60), after a short warm-up:

* ``get``: GET /entities/{id} (40 %)
* ``update``: PATCH /entities/{id}/attrs, one attribute (20 %)
* ``batch``: POST /entityOperations/upsert of 10 entities (8 %)
* ``query_q``: GET /entities?type=Streetlight&q=… (15 %)
* ``query_geo``: GET /entities?type=Streetlight&georel=near;maxDistance==500&… (12 %)
* ``subscribe`` / ``unsubscribe``: POST /subscriptions, then DELETE it (5 %)

It prints, per operation, the requests, throughput, p50/p99/max latency and errors; the total
throughput and errors; the notifications received; the server's resident memory sampled every
``--sample`` seconds (first/last/max: it must stay flat) and the CPU the server and the load
generator used. Benchmarks print figures; nothing is asserted.

The clients are asyncio tasks on hand-written keep-alive HTTP/1.1 connections, one connection
per client, rather than locust or an HTTP library: the load generator shares the machine with
the server, and a general-purpose client (or locust's gevent workers) would spend more CPU per
request than the server does, measuring the client instead. All clients share one admin key;
the rate limit stays at its default and that key is configured to allow the load
(``QALA_RATE_LIMIT_KEYS``).

    python bench/bench_load.py [--clients 200] [--duration 60] [--entities 5000]
                               [--backends sqlite,postgresql] [--subscribe-weight 5]
                               [--only get|update|batch|query_q|query_geo|subscribe]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from common import (
    admin_key,
    bench_key_env,
    database,
    free_port,
    machine,
    postgres_available,
    server,
    table,
)

BASE = "/ngsi-ld/v1"
TENANT = "astana"
BBOX = (71.35, 51.08, 71.55, 51.20)  # Astana
OPS = (
    ("get", 40),
    ("update", 20),
    ("batch", 8),
    ("query_q", 15),
    ("query_geo", 12),
    ("subscribe", 5),
)


# -- a lean HTTP/1.1 client ---------------------------------------------------------------------


class HTTPError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection to the server; reconnects after a failure."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, str | None, bytes]:
        """(status, Location header, body) of one request."""
        try:
            return await self._request(method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            await self.close()
            raise HTTPError(f"{type(exc).__name__}: {exc}") from None

    async def _request(self, method: str, path: str, body: Any) -> tuple[int, str | None, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                "127.0.0.1", self.port, limit=1 << 22
            )
        assert self.reader is not None
        data = orjson.dumps(body) if body is not None else b""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + self.head
            + (b"Content-Type: application/json\r\n" if body is not None else b"")
            + f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        chunked = close = False
        location = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
            elif name == b"location":
                location = value.strip().decode()
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            payload = b"".join(parts)
        else:
            payload = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, location, payload


# -- the notification receiver (a thread with its own event loop) -----------------------------


class Receiver(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.port = free_port()
        self.notifications = 0
        self.entities = 0
        self.ready = threading.Event()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.notifications += 1
                self.entities += len(orjson.loads(body).get("data", []))
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            writer.close()

    def run(self) -> None:
        async def main() -> None:
            await asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=512)
            self.ready.set()
            await asyncio.Event().wait()

        asyncio.run(main())  # a daemon thread: it ends with the benchmark


# -- the server process ------------------------------------------------------------------------


def _process_tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids.extend(_process_tree(int(child)))
    return pids


def rss_mb(pid: int) -> float:
    total = 0
    for p in _process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in _process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError, ValueError):
            pass
    return total


# -- the load ----------------------------------------------------------------------------------


def streetlight(n: int, rng: random.Random) -> dict[str, Any]:
    lon = rng.uniform(BBOX[0], BBOX[2])
    lat = rng.uniform(BBOX[1], BBOX[3])
    return {
        "id": f"urn:ngsi-ld:Streetlight:{n}",
        "type": "Streetlight",
        "status": {"type": "Property", "value": "fault" if rng.random() < 0.05 else "ok"},
        "illuminance": {"type": "Property", "value": rng.randint(0, 1000), "unitCode": "LUX"},
        "powerState": {"type": "Property", "value": "on"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    recording: bool = False

    def record(self, op: str, started: float, ok: bool, detail: str = "") -> None:
        if not self.recording:
            return
        if ok:
            self.latencies[op].append((time.perf_counter() - started) * 1000)
        else:
            self.errors[op] += 1
            if len(self.samples) < 5:
                self.samples.append(f"{op}: {detail[:200]}")


class LoadClient:
    def __init__(
        self,
        port: int,
        headers: dict[str, str],
        entities: int,
        receiver: str,
        seed: int,
        mix: tuple[tuple[str, int], ...] = OPS,
    ) -> None:
        self.conn = Connection(port, headers)
        self.entities = entities
        self.receiver = receiver
        self.rng = random.Random(seed)
        self.kinds = [op for op, weight in mix for _ in range(weight)]

    def _id(self) -> str:
        return f"urn:ngsi-ld:Streetlight:{self.rng.randrange(self.entities)}"

    async def call(
        self, stats: Stats, op: str, method: str, path: str, body: Any, ok: tuple[int, ...]
    ) -> bytes | None:
        started = time.perf_counter()
        try:
            status, _, payload = await self.conn.request(method, path, body)
        except HTTPError as exc:
            stats.record(op, started, False, str(exc))
            return None
        good = status in ok
        stats.record(op, started, good, f"{status} {payload[:200]!r}")
        return payload if good else None

    async def step(self, stats: Stats) -> None:
        kind = self.rng.choice(self.kinds)
        rng = self.rng
        if kind == "get":
            await self.call(stats, kind, "GET", f"{BASE}/entities/{self._id()}", None, (200,))
        elif kind == "update":
            body = {"illuminance": {"type": "Property", "value": rng.randint(0, 1000)}}
            path = f"{BASE}/entities/{self._id()}/attrs"
            await self.call(stats, kind, "PATCH", path, body, (204,))
        elif kind == "batch":
            start = rng.randrange(self.entities - 10)
            batch = [streetlight(n, rng) for n in range(start, start + 10)]
            path = f"{BASE}/entityOperations/upsert"
            await self.call(stats, kind, "POST", path, batch, (201, 204))
        elif kind == "query_q":
            low = rng.randint(0, 990)
            q = f"illuminance>{low};illuminance<{low + 10};status==%22ok%22"
            path = f"{BASE}/entities?type=Streetlight&q={q}&limit=20"
            await self.call(stats, kind, "GET", path, None, (200,))
        elif kind == "query_geo":
            lon = rng.uniform(BBOX[0], BBOX[2])
            lat = rng.uniform(BBOX[1], BBOX[3])
            path = (
                f"{BASE}/entities?type=Streetlight&georel=near;maxDistance==500"
                f"&geometry=Point&coordinates=[{lon:.5f},{lat:.5f}]&limit=20"
            )
            await self.call(stats, kind, "GET", path, None, (200,))
        else:
            body = {
                "type": "Subscription",
                "entities": [{"id": self._id(), "type": "Streetlight"}],
                "watchedAttributes": ["illuminance"],
                "notification": {"endpoint": {"uri": self.receiver}, "format": "keyValues"},
            }
            started = time.perf_counter()
            try:
                status, location, payload = await self.conn.request(
                    "POST", f"{BASE}/subscriptions", body
                )
            except HTTPError as exc:
                stats.record("subscribe", started, False, str(exc))
                return
            stats.record("subscribe", started, status == 201, f"{status} {payload[:200]!r}")
            if status != 201 or location is None:
                return
            await asyncio.sleep(rng.uniform(0.0, 1.0))  # alive for a moment: it may notify
            await self.call(stats, "unsubscribe", "DELETE", location, None, (204,))

    async def run(self, stats: Stats, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step(stats)
        await self.conn.close()


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run_load(
    port: int,
    key: str,
    receiver: Receiver,
    *,
    clients: int,
    entities: int,
    warmup: float,
    duration: float,
    sample: float,
    pid: int,
    mix: tuple[tuple[str, int], ...],
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}", "NGSILD-Tenant": TENANT}
    stats = Stats()
    stop = asyncio.Event()
    endpoint = f"http://127.0.0.1:{receiver.port}/notify"
    workers = [LoadClient(port, headers, entities, endpoint, seed, mix) for seed in range(clients)]
    tasks = [asyncio.create_task(w.run(stats, stop)) for w in workers]
    await asyncio.sleep(warmup)
    rss: list[tuple[float, float]] = []
    notified = receiver.notifications, receiver.entities
    server_cpu = cpu_seconds(pid)
    own_cpu = time.process_time()
    stats.recording = True
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < duration:
        rss.append((elapsed, rss_mb(pid)))
        await asyncio.sleep(min(sample, max(0.0, duration - elapsed)))
    stats.recording = False
    elapsed = time.monotonic() - started
    rss.append((elapsed, rss_mb(pid)))
    server_cpu = cpu_seconds(pid) - server_cpu
    loadavg = os.getloadavg()[0]  # other work on the machine skews every figure
    own_cpu = time.process_time() - own_cpu
    notified = receiver.notifications - notified[0], receiver.entities - notified[1]
    stop.set()
    await asyncio.gather(*tasks)
    return {
        "stats": stats,
        "seconds": elapsed,
        "rss": rss,
        "server_cpu": server_cpu / elapsed,
        "client_cpu": own_cpu / elapsed,
        "notifications": notified,
        "loadavg": loadavg,
        "mix": mix,
    }


async def seed(port: int, key: str, entities: int, receiver: Receiver) -> None:
    headers = {"Authorization": f"Bearer {key}", "NGSILD-Tenant": TENANT}
    conn = Connection(port, headers)
    rng = random.Random(2026)
    for start in range(0, entities, 500):
        batch = [streetlight(n, rng) for n in range(start, min(entities, start + 500))]
        status, _, payload = await conn.request("POST", f"{BASE}/entityOperations/upsert", batch)
        if status not in (201, 204):
            raise RuntimeError(f"seeding failed: {status} {payload[:300]!r}")
    # Standing subscriptions: faults anywhere, and very bright lamps.
    for q in ('status=="fault"', "illuminance>990"):
        body = {
            "type": "Subscription",
            "entities": [{"type": "Streetlight"}],
            "q": q,
            "notification": {"endpoint": {"uri": f"http://127.0.0.1:{receiver.port}/standing"}},
        }
        status, _, payload = await conn.request("POST", f"{BASE}/subscriptions", body)
        if status != 201:
            raise RuntimeError(f"subscription failed: {status} {payload[:300]!r}")
    await conn.close()


def bench(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    with database(backend) as url:
        key = admin_key(url)
        receiver = Receiver()
        receiver.start()
        receiver.ready.wait()
        env = {
            "QALA_DATABASE_URL": url,
            **bench_key_env(url, key),
            "QALA_MQTT_URL": "",
            "QALA_ALLOW_LOCAL_ENDPOINTS": "true",
        }
        with server(env=env, workers=args.workers) as srv:
            pid = srv.process.pid
            asyncio.run(seed(srv.port, key, args.entities, receiver))
            idle_rss = rss_mb(pid)
            worker_rss = [rss_mb(child) for child in _process_tree(pid) if child != pid]
            result = asyncio.run(
                run_load(
                    srv.port,
                    key,
                    receiver,
                    clients=args.clients,
                    entities=args.entities,
                    warmup=args.warmup,
                    duration=args.duration,
                    sample=args.sample,
                    pid=pid,
                    mix=((args.only, 1),) if args.only else _mix(args.subscribe_weight),
                )
            )
        result["idle_rss"] = idle_rss
        result["worker_rss"] = worker_rss
        result["workers"] = args.workers
        return result


def _mix(subscribe_weight: int) -> tuple[tuple[str, int], ...]:
    return tuple((op, subscribe_weight if op == "subscribe" else w) for op, w in OPS)


def report(backend: str, result: dict[str, Any], clients: int) -> None:
    stats: Stats = result["stats"]
    seconds: float = result["seconds"]
    rows = [["operation", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors"]]
    total = errors = 0
    for op in [o for o, _ in OPS] + ["unsubscribe"]:
        lat = stats.latencies.get(op, [])
        err = stats.errors.get(op, 0)
        if not lat and not err:
            continue  # not in the mix
        total += len(lat) + err
        errors += err
        rows.append(
            [
                op,
                str(len(lat)),
                f"{len(lat) / seconds:.0f}",
                f"{_percentile(lat, 50):.1f}",
                f"{_percentile(lat, 99):.1f}",
                f"{max(lat) if lat else float('nan'):.1f}",
                str(err),
            ]
        )
    rows.append(["all", str(total), f"{total / seconds:.0f}", "", "", "", str(errors)])
    weights = sum(w for _, w in result["mix"])
    mix = ", ".join(f"{op} {100 * w / weights:.0f} %" for op, w in result["mix"] if w)
    workers = result.get("workers", 1)
    print(f"\n{backend}, {workers} worker(s): {clients} clients, {seconds:.0f} s ({mix})")
    print(table(rows))
    for sample in stats.samples:
        print(f"  error: {sample}")
    rss = [mb for _, mb in result["rss"]]
    print(
        f"server RSS (MB): idle {result['idle_rss']:.0f}; under load first {rss[0]:.0f}, "
        f"last {rss[-1]:.0f}, max {max(rss):.0f} "
        f"(samples: {', '.join(f'{mb:.0f}' for mb in rss)})"
    )
    if workers > 1:
        per = ", ".join(f"{mb:.0f}" for mb in result["worker_rss"])
        print(f"RSS per process when idle (MB; the supervisor and its workers): {per}")
    notifications, entities = result["notifications"]
    print(
        f"notifications received: {notifications} ({entities} entities); "
        f"CPU: server {result['server_cpu'] * 100:.0f} %, load generator "
        f"{result['client_cpu'] * 100:.0f} % (of one core each); machine load average "
        f"{result['loadavg']:.1f} on {os.cpu_count()} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--entities", type=int, default=5000)
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--subscribe-weight",
        type=int,
        default=5,
        help="weight of subscribe/unsubscribe pairs in the mix (of 100); 0 leaves them out",
    )
    parser.add_argument(
        "--only", choices=[op for op, _ in OPS], help="run one operation alone (its capacity)"
    )
    args, _ = parser.parse_known_args()  # make bench passes every script the same arguments
    print(f"# Load: mixed NGSI-LD traffic\n{machine()}")
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("\npostgresql: skipped (the server is not reachable)")
            continue
        report(backend, bench(backend, args), args.clients)


if __name__ == "__main__":
    main()
