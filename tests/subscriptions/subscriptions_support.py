"""Test support for subscriptions: a real HTTP notification receiver and an MQTT listener."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ngsi import BASE, headers

MQTT_HOST = "127.0.0.1"
MQTT_PORT = 1883


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def data(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.body["data"]
        return data


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every notification POSTed to it.

    ``status[path]`` sets the answer for a path (default 204); ``delay[path]`` makes it slow.
    """

    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    attempts: dict[str, list[float]] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)
    #: JSON documents served on GET (e.g. @context documents).
    documents: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str = "/notify") -> str:
        return self.base + path

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait(self, count: int, path: str = "/notify", timeout: float = 10.0) -> list[Received]:
        """The first ``count`` notifications on ``path``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.at(path)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} notification(s) on {path}, got {len(got)}: "
                    f"{[r.body for r in got]}"
                )
            time.sleep(0.01)

    def wait_items(
        self, count: int, path: str = "/notify", timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """At least ``count`` notified entities (``data`` items) on ``path``, in order."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.items(path)
            if len(items) >= count:
                return items
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} notified entities, got {items}")
            time.sleep(0.01)

    def items(self, path: str = "/notify") -> list[dict[str, Any]]:
        """Every notified entity on ``path``, in order (notifications may carry several)."""
        return [item for r in self.at(path) for item in r.data]

    def quiet_items(self, path: str = "/notify", seconds: float = 0.4) -> list[dict[str, Any]]:
        """Wait ``seconds`` and return the entities notified so far on ``path``."""
        time.sleep(seconds)
        return self.items(path)

    def quiet(self, path: str = "/notify", seconds: float = 0.4) -> list[Received]:
        """Wait ``seconds`` and return what arrived (to show that nothing more came)."""
        time.sleep(seconds)
        return self.at(path)


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            path = self.path
            with receiver.lock:
                receiver.attempts.setdefault(path, []).append(time.monotonic())
            delay = receiver.delay.get(path, 0.0)
            if delay:
                time.sleep(delay)
            status = receiver.status.get(path, 204)
            if 200 <= status < 300:
                body = json.loads(raw)
                item = Received(
                    path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                )
                with receiver.lock:
                    receiver.received.append(item)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            document = receiver.documents.get(self.path)
            raw = json.dumps(document).encode() if document is not None else b""
            self.send_response(200 if document is not None else 404)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def subscription(endpoint: str, **members: Any) -> dict[str, Any]:
    """A subscription to Streetlights notifying ``endpoint`` (members override/extend)."""
    notification = members.pop("notification", {})
    body: dict[str, Any] = {
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notification": {"endpoint": {"uri": endpoint}, **notification},
    }
    body.update(members)
    return body


def subscribe(client: TestClient, body: dict[str, Any], **kw: str) -> str:
    response = client.post(f"{BASE}/subscriptions", json=body, headers=headers(**kw))
    assert response.status_code == 201, response.text
    location: str = response.headers["location"]
    return location.rsplit("/", 1)[1]


def get_subscription(client: TestClient, sub_id: str, **kw: str) -> dict[str, Any]:
    response = client.get(f"{BASE}/subscriptions/{sub_id}", headers=headers(**kw))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for(condition: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class ServerProcess:
    """A Qala server in its own process (uvicorn), for crash and multi-process tests."""

    def __init__(self, database_url: str, log_path: str, **settings: str) -> None:
        self.port = free_port()
        self.database_url = database_url
        self.log_path = log_path
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "QALA_DATABASE_URL": self.database_url,
            "QALA_ALLOW_LOCAL_ENDPOINTS": "true",
            "QALA_AUTH_DISABLED": "true",
            "QALA_NOTIFICATION_POLL_INTERVAL": "0.2",
            "QALA_NOTIFICATION_RETRY_BASE": "0.2",
            "QALA_NOTIFICATION_RETRY_MAX": "1",
            **{f"QALA_{k.upper()}": v for k, v in self.settings.items()},
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "qala.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not start within {timeout} s: {self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace")[-size:]

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flushing; what was acknowledged must survive."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
