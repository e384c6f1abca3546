"""Device ingestion over MQTT: sustained rates and bursts, published -> stored and queryable.

A Qala server (subprocess, real Mosquitto broker) ingests IoT Agent JSON measures from many
devices. A lean publisher (pre-encoded MQTT 5 packets, QoS 1, the broker's window of
unacknowledged messages) sends them at a fixed rate, or as fast as it can. Every message carries
a sequence number; afterwards the benchmark checks through the APIs that nothing was lost:

* the sum of the devices' ``stats.messages`` equals the messages the broker acknowledged,
* every device's entity holds its last published sequence number (``GET /ngsi-ld/v1/entities``).

Figures: the publish rate reached, the ingest rate (measures stored per second, first publish
to last commit), the lag after the last publish, and the loss. Prints, never asserts.

    python bench/bench_ingestion.py [--backend sqlite|postgresql|both] [--duration 15]
"""

from __future__ import annotations

import argparse
import select
import socket
import struct
import time
import uuid
from typing import Any

import httpx
import orjson

from common import database, machine, postgres_available, server, table

MQTT = ("127.0.0.1", 1883)
DEVICES = 1000
WINDOW = 20  # mosquitto's default receive maximum for a publisher


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _connect() -> socket.socket:
    sock = socket.create_connection(MQTT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = _str("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60) + b"\x00"
    body += _str(f"bench-pub-{uuid.uuid4().hex[:8]}")
    sock.sendall(b"\x10" + _varint(len(body)) + body)
    head = sock.recv(2)
    rest = sock.recv(head[1])
    if head[0] != 0x20 or rest[1] != 0:
        raise RuntimeError(f"broker refused the publisher: {head!r} {rest!r}")
    return sock


def _publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    body = _str(topic) + struct.pack("!H", packet_id) + b"\x00" + payload
    return b"\x32" + _varint(len(body)) + body


def messages(apikey: str, count: int, measures: int) -> tuple[list[bytes], dict[int, int]]:
    """Pre-encoded PUBLISH packets, round-robin over the devices, and each device's last
    sequence number."""
    packets = []
    last: dict[int, int] = {}
    for seq in range(count):
        dev = seq % DEVICES
        body: dict[str, Any] = {"q": seq}
        for m in range(measures - 1):
            body[f"m{m}"] = round(20 + (seq % 97) / 10 + m, 2)
        payload = orjson.dumps(body)
        packets.append(_publish_packet(f"/{apikey}/d{dev}/attrs", payload, seq % 65535 + 1))
        last[dev] = seq
    return packets, last


def publish(packets: list[bytes], rate: float | None) -> tuple[int, float]:
    """Send at ``rate`` messages/s (None: as fast as the broker acknowledges). Returns the
    acknowledged count and the seconds it took."""
    sock = _connect()
    started = time.perf_counter()
    total = len(packets)
    sent = acked = 0
    pending = b""
    try:
        while acked < total:
            now = time.perf_counter()
            due = total if rate is None else min(total, int((now - started) * rate) + 1)
            batch = []
            while sent < due and sent - acked < WINDOW:
                batch.append(packets[sent])
                sent += 1
            if batch:
                sock.sendall(b"".join(batch))
            wait = 0.001 if sent < due else 0.005
            ready, _, _ = select.select([sock], [], [], wait if sent > acked else 0.001)
            if ready:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError("the broker closed the publisher's connection")
                pending += data
                while len(pending) >= 2 and len(pending) >= 2 + pending[1]:
                    kind, length = pending[0] >> 4, pending[1]
                    if kind == 4:  # PUBACK
                        acked += 1
                    pending = pending[2 + length :]
    finally:
        sock.close()
    return acked, time.perf_counter() - started


def provision(http: httpx.Client, apikey: str, measures: int) -> None:
    """A service group and the devices, in a tenant of their own (named like the apikey)."""
    attributes = [{"object_id": "q", "name": "seq", "type": "Integer"}] + [
        {"object_id": f"m{m}", "name": f"measure{m}", "type": "Number"} for m in range(measures - 1)
    ]
    group = {"apikey": apikey, "entity_type": "BenchSensor", "attributes": attributes}
    tenant = {"NGSILD-Tenant": apikey}
    http.post("/iot/services", json={"services": [group]}, headers=tenant).raise_for_status()
    devices = [{"device_id": f"d{n}"} for n in range(DEVICES)]
    response = http.post("/iot/devices", json={"devices": devices}, headers=tenant, timeout=120)
    response.raise_for_status()


def ingestion(http: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = http.get("/iot/about").json()
    return body


def stored_messages(http: httpx.Client, tenant: str) -> int:
    """The messages the devices' counters say were stored."""
    total = 0
    for offset in range(0, DEVICES, 1000):
        page = http.get(
            f"/iot/devices?limit=1000&offset={offset}", headers={"NGSILD-Tenant": tenant}
        ).json()
        total += sum(d["stats"]["messages"] for d in page["devices"])
    return total


def missing_last_values(http: httpx.Client, apikey: str, last: dict[int, int]) -> int:
    """Devices whose entity does not hold the last sequence number published for it."""
    seen: dict[str, int] = {}
    for offset in range(0, DEVICES, 1000):
        page = http.get(
            "/ngsi-ld/v1/entities",
            headers={"NGSILD-Tenant": apikey},
            params={
                "type": "BenchSensor",
                "attrs": "seq",
                "limit": 1000,
                "offset": offset,
                "options": "keyValues",
            },
            timeout=60,
        ).json()
        seen.update({e["id"]: e.get("seq") for e in page})
    return sum(1 for dev, seq in last.items() if seen.get(f"urn:ngsi-ld:BenchSensor:d{dev}") != seq)


def scenario(
    http: httpx.Client, name: str, count: int, measures: int, rate: float | None
) -> list[str]:
    apikey = f"bench{uuid.uuid4().hex[:8]}"
    provision(http, apikey, measures)
    packets, last = messages(apikey, count, measures)
    before = ingestion(http)["ingestion"]
    base_messages = before["accepted"] + before["rejected"]
    started = time.perf_counter()
    acked, publish_seconds = publish(packets, rate)
    progress, progressed = -1, time.perf_counter()
    finished = progressed
    while True:  # until every acknowledged message is handled, or nothing moves for 10 s
        now = ingestion(http)["ingestion"]
        done = now["accepted"] + now["rejected"] - base_messages
        if done != progress:
            progress, progressed = done, time.perf_counter()
            finished = progressed
        if done >= acked or time.perf_counter() - progressed > 10:
            break
        time.sleep(0.02)
    accepted = now["accepted"] - before["accepted"]
    lost = acked - stored_messages(http, apikey)
    wrong_last = missing_last_values(http, apikey, last)
    elapsed = finished - started
    return [
        name,
        f"{count:,}",
        str(measures),
        "max" if rate is None else f"{rate * measures:,.0f}",
        f"{acked / publish_seconds * measures:,.0f}",
        f"{accepted * measures / elapsed:,.0f}",
        f"{(finished - started - publish_seconds) * 1000:,.0f}",
        f"{lost} / {wrong_last}",
    ]


def run(backend: str, duration: float) -> list[list[str]]:
    rows = []
    with database(backend) as url:
        env = {
            "QALA_DATABASE_URL": url,
            "QALA_AUTH_DISABLED": "true",
            "QALA_MQTT_URL": f"mqtt://{MQTT[0]}:{MQTT[1]}",
        }
        with server(env=env) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
            deadline = time.monotonic() + 20
            while not ingestion(http)["mqtt"].get("subscribed"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not subscribe to the broker")
                time.sleep(0.1)
            plans = [
                ("sustained, 4 measures/msg", int(3000 * duration), 4, 3000.0),
                ("sustained, 1 measure/msg", int(10_000 * duration), 1, 10_000.0),
                ("burst, 4 measures/msg", 60_000, 4, None),
            ]
            for name, count, measures, rate in plans:
                row = scenario(http, name, count, measures, rate)
                rows.append([backend, *row])
                print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per sustained run")
    args = parser.parse_args()
    try:
        socket.create_connection(MQTT, timeout=2).close()
    except OSError as exc:
        print(f"no MQTT broker at {MQTT[0]}:{MQTT[1]} ({exc}); nothing to measure")
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable: skipping it")
        backends.remove("postgresql")
    print(f"device ingestion over MQTT · {machine()} · {DEVICES} devices, QoS 1")
    header = [
        "backend",
        "scenario",
        "messages",
        "measures/msg",
        "target measures/s",
        "published measures/s",
        "stored measures/s",
        "lag after last publish (ms)",
        "lost msgs / wrong last values",
    ]
    rows = [header]
    for backend in backends:
        rows.extend(run(backend, args.duration))
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
