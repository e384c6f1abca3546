"""Stopping `qala serve` while a dashboard's live stream is open.

A live stream (``/api/v1/dashboard/events``) lasts up to a minute before the page reconnects;
a server asked to stop cuts such requests after ``SHUTDOWN_GRACE`` seconds instead of waiting
for each of them, and completes its shutdown.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
from reliability_support import ServerProcess, create_admin_key

from qala.cli import SHUTDOWN_GRACE


def test_a_stop_cuts_open_live_streams_after_the_grace_period(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qala.db'}"
    server = ServerProcess(
        url, tmp_path / "server.log", create_admin_key(url), cli=True, request_timeout="120"
    )
    server.start()
    try:
        headers = {**server.headers, "NGSILD-Tenant": "astana"}
        created = httpx.post(  # the city's tenant exists from its first entity
            f"{server.url}/ngsi-ld/v1/entities",
            json={"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        ready = threading.Event()
        ended = threading.Event()

        def listen() -> None:
            try:
                with httpx.stream("GET", f"{server.url}/api/v1/dashboard/events", headers=headers,
                                  timeout=httpx.Timeout(5, read=None)) as stream:  # fmt: skip
                    assert stream.status_code == 200, stream.read()
                    for line in stream.iter_lines():
                        if "ready" in line:
                            ready.set()
            except httpx.HTTPError:
                pass  # the server cut the stream
            finally:
                ended.set()

        threading.Thread(target=listen, daemon=True).start()
        assert ready.wait(30), "the live stream did not open"
        assert server.process is not None
        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        status = server.process.wait(timeout=60)
        took = time.monotonic() - stopping
        # uvicorn re-raises the signal once it has shut down cleanly
        assert status in (0, -signal.SIGTERM), server.log_tail()
        assert "Application shutdown complete" in server.log_tail()
        # without the grace period the stop waits for the stream: 115 s here
        assert took < SHUTDOWN_GRACE + 20, took
        assert ended.wait(10), "the stream was left open"
    finally:
        server.stop()
