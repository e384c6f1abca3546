"""Real server processes: a SIGKILL in the middle of a write stream loses no acknowledged write
and no due notification; several processes on one PostgreSQL share the delivery work."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from subscriptions_support import Receiver, ServerProcess, subscription

from ngsi import streetlight

BASE = "/ngsi-ld/v1"


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


def _subscribe(server: ServerProcess, body: dict[str, object]) -> str:
    response = httpx.post(server.url + f"{BASE}/subscriptions", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def _stored_ids(server: ServerProcess) -> set[str]:
    ids: set[str] = set()
    offset = 0
    while True:
        response = httpx.get(
            server.url + f"{BASE}/entities",
            params={"type": "Streetlight", "limit": 1000, "offset": offset, "pick": "id"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        page = [e["id"] for e in response.json()]
        ids.update(page)
        if len(page) < 1000:
            return ids
        offset += 1000


def _notified_ids(receiver: Receiver) -> list[str]:
    return [item["id"] for item in receiver.items()]


def test_a_killed_server_loses_no_acknowledged_write_and_no_notification(
    database_url: str, tmp_path: Path, servers: list[ServerProcess], receiver: Receiver
) -> None:
    server = ServerProcess(database_url, str(tmp_path / "server.log"))
    servers.append(server)
    server.start()
    _subscribe(server, subscription(receiver.url(), notificationTrigger=["entityCreated"]))

    acknowledged: list[str] = []
    stop = threading.Event()

    def write(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
            n = 0
            while not stop.is_set():
                entity = streetlight(worker * 100_000 + n)
                n += 1
                try:
                    response = client.post(f"{BASE}/entities", json=entity)
                except httpx.HTTPError:
                    time.sleep(0.01)  # the server is gone: this write was not acknowledged
                    continue
                if response.status_code == 201:
                    acknowledged.append(entity["id"])

    writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    for thread in writers:
        thread.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # mid-stream: writes and notifications are in flight
    stop.set()
    for thread in writers:
        thread.join()
    assert len(acknowledged) >= 150, "the stream was too slow to test anything"

    server.start()
    assert set(acknowledged) <= _stored_ids(server)
    deadline = time.monotonic() + 30
    while not set(acknowledged) <= set(_notified_ids(receiver)):
        assert time.monotonic() < deadline, (
            f"{len(set(acknowledged) - set(_notified_ids(receiver)))} acknowledged writes "
            "were never notified"
        )
        time.sleep(0.05)
    # At least once: duplicates are allowed around the crash, but not many.
    notified = _notified_ids(receiver)
    assert len(notified) - len(set(notified)) <= 3 * 50


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_processes_sharing_postgresql_deliver_each_notification_once(
    database_url: str, tmp_path: Path, servers: list[ServerProcess], receiver: Receiver
) -> None:
    first = ServerProcess(database_url, str(tmp_path / "first.log"))
    second = ServerProcess(database_url, str(tmp_path / "second.log"))
    servers.extend([first, second])
    first.start()
    second.start()
    sub_id = _subscribe(first, subscription(receiver.url()))
    time.sleep(0.6)  # the second process notices the new subscription by polling
    written = []
    for n in range(30):
        server = (first, second)[n % 2]
        entity = streetlight(n)
        response = httpx.post(server.url + f"{BASE}/entities", json=entity, timeout=10)
        assert response.status_code == 201, response.text
        written.append(entity["id"])
    deadline = time.monotonic() + 15
    while len(set(_notified_ids(receiver))) < len(written):
        assert time.monotonic() < deadline, "some notifications never arrived"
        time.sleep(0.05)
    time.sleep(0.5)
    notified = _notified_ids(receiver)
    assert sorted(notified) == sorted(written)  # every one, and each once
    # A deletion through one process silences the subscription in the other.
    response = httpx.delete(first.url + f"{BASE}/subscriptions/{sub_id}", timeout=10)
    assert response.status_code == 204
    time.sleep(0.6)
    response = httpx.post(second.url + f"{BASE}/entities", json=streetlight(999), timeout=10)
    assert response.status_code == 201
    time.sleep(0.5)
    assert len(_notified_ids(receiver)) == len(written)
