"""Notification latency: from an attribute update to the notification's arrival.

For each backend (SQLite, PostgreSQL): a Qala server (uvicorn, one worker) on a fresh database,
one subscription on 100 sensors notifying an HTTP receiver (its own process), and a steady
stream of partial updates (PATCH /entities/{id}/attrs) at ``--rate`` updates/s for
``--duration`` seconds. Each update carries its send time; the receiver records, for every
notified entity, the time from that send to the notification's arrival. Figures are printed;
nothing is asserted.

    python bench/bench_notifications.py [--rate 1000] [--duration 10] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from common import database, free_port, machine, postgres_available, server, table

BASE = "/ngsi-ld/v1"
TENANT = "bench"
HEADERS = {"NGSILD-Tenant": TENANT}
SENSORS = 100


# -- the receiver (its own process) ----------------------------------------------------------


def _receiver(port: int, out: str, ready: Any, stop: Any) -> None:
    latencies: list[int] = []
    counts = {"notifications": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                arrived = time.time_ns()
                counts["notifications"] += 1
                for item in orjson.loads(body)["data"]:
                    latencies.append(arrived - int(item["sentNs"]))
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", port, backlog=256)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        srv.close()
        Path(out).write_text(json.dumps({"latencies": latencies, **counts}))

    asyncio.run(main())


# -- the write stream ------------------------------------------------------------------------


async def _connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _patch(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], path: str, body: bytes
) -> int:
    """One keep-alive HTTP/1.1 PATCH on a raw connection; the response status.

    A hand-written client: a Python HTTP library would spend more CPU per request than the
    server, and the machine's two cores are shared by the load, the server and the receiver.
    """
    reader, writer = conn
    writer.write(
        b"PATCH " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nNGSILD-Tenant: " + TENANT.encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def stream(url: str, rate: int, duration: float, connections: int = 16) -> dict[str, Any]:
    """PATCH the sensors at ``rate`` updates/s; the send time rides in the update."""
    port = int(url.rsplit(":", 1)[1])
    total = int(rate * duration)
    write_ms: list[float] = []
    failures = 0
    due: asyncio.Queue[int | None] = asyncio.Queue()
    start = time.monotonic()

    async def pace() -> None:
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            due.put_nowait(n)
        for _ in range(connections):
            due.put_nowait(None)

    async def worker() -> None:
        nonlocal failures
        conn = await _connection(port)
        while (n := await due.get()) is not None:
            sent = time.time_ns()
            began = time.monotonic()
            body = orjson.dumps({"sentNs": {"type": "Property", "value": sent}})
            status = await _patch(
                conn, f"{BASE}/entities/urn:ngsi-ld:Sensor:{n % SENSORS}/attrs", body
            )
            write_ms.append((time.monotonic() - began) * 1000)
            if status != 204:
                failures += 1
        conn[1].close()

    await asyncio.gather(pace(), *(worker() for _ in range(connections)))
    elapsed = time.monotonic() - start
    return {"writes": total, "failures": failures, "elapsed": elapsed, "write_ms": write_ms}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(backend: str, rate: int, duration: float) -> list[str]:
    port = free_port()
    out = tempfile.mkstemp(prefix="qala-bench-notify-", suffix=".json")[1]
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    receiver = ctx.Process(target=_receiver, args=(port, out, ready, stop), daemon=True)
    receiver.start()
    ready.wait(10)
    with database(backend) as url:
        env = {
            "QALA_DATABASE_URL": url,
            "QALA_ALLOW_LOCAL_ENDPOINTS": "true",
            "QALA_AUTH_DISABLED": "true",
        }
        with server(env=env) as srv:
            sensors = [
                {
                    "id": f"urn:ngsi-ld:Sensor:{n}",
                    "type": "Sensor",
                    "sentNs": {"type": "Property", "value": 0},
                }
                for n in range(SENSORS)
            ]
            created = httpx.post(
                srv.url + f"{BASE}/entityOperations/create",
                json=sensors,
                headers=HEADERS,
                timeout=30,
            )
            assert created.status_code in (201, 204), created.text
            subscription = {
                "type": "Subscription",
                "entities": [{"type": "Sensor"}],
                "watchedAttributes": ["sentNs"],
                "notification": {
                    "attributes": ["sentNs"],
                    "format": "keyValues",
                    "endpoint": {"uri": f"http://127.0.0.1:{port}/notify"},
                },
            }
            made = httpx.post(
                srv.url + f"{BASE}/subscriptions", json=subscription, headers=HEADERS, timeout=30
            )
            assert made.status_code == 201, made.text
            result = asyncio.run(stream(srv.url, rate, duration))
            expected = result["writes"] - result["failures"]
            # Let the worker drain, then stop the receiver.
            deadline = time.monotonic() + 60
            sub = made.headers["location"]
            while time.monotonic() < deadline:
                state = httpx.get(srv.url + sub, headers=HEADERS, timeout=30).json()
                pending = state["notification"]["timesSent"]
                time.sleep(0.5)
                again = httpx.get(srv.url + sub, headers=HEADERS, timeout=30).json()
                if again["notification"]["timesSent"] == pending:
                    break
    stop.set()
    receiver.join(10)
    got = json.loads(Path(out).read_text())
    Path(out).unlink(missing_ok=True)
    latencies = [ns / 1e6 for ns in got["latencies"]]
    return [
        backend,
        f"{result['writes'] / result['elapsed']:.0f}",
        f"{percentile(result['write_ms'], 0.5):.1f} / {percentile(result['write_ms'], 0.99):.1f}",
        f"{len(latencies)} / {expected}",
        f"{got['notifications']}",
        f"{percentile(latencies, 0.5):.1f}",
        f"{percentile(latencies, 0.99):.1f}",
        f"{max(latencies) if latencies else float('nan'):.1f}",
        f"{statistics.fmean(latencies) if latencies else float('nan'):.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=int, default=1000, help="updates per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of updates")
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(
        f"{machine()} · {args.rate} updates/s for {args.duration:g} s, 1 subscription, "
        f"{SENSORS} entities"
    )
    rows = [
        [
            "backend",
            "updates/s",
            "write p50/p99 ms",
            "notified / acked",
            "notifications",
            "latency p50 ms",
            "p99 ms",
            "max ms",
            "mean ms",
        ]
    ]
    for backend in args.backends.split(","):
        if backend == "postgresql" and not postgres_available():
            print("PostgreSQL is not reachable: skipped")
            continue
        rows.append(run(backend, args.rate, args.duration))
    print(table(rows))


if __name__ == "__main__":
    main()
