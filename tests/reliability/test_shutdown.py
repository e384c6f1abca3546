"""Stopping `qala serve` while a dashboard's live stream is open.

A live stream (``/api/v1/dashboard/events``) lasts up to a minute before the page reconnects;
a server asked to stop cuts such requests after ``SHUTDOWN_GRACE`` seconds instead of waiting
for each of them, and completes its shutdown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from reliability_support import create_admin_key, free_port

from qala.cli import SHUTDOWN_GRACE


def test_a_stop_cuts_open_live_streams_after_the_grace_period(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qala.db'}"
    key = create_admin_key(url)
    port = free_port()
    env = {**os.environ, "QALA_MQTT_URL": "", "QALA_REQUEST_TIMEOUT": "120"}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", "from qala.cli import main; main()",
             "serve", "--db", url, "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        created = httpx.post(  # the city's tenant exists from its first entity
            f"{base}/ngsi-ld/v1/entities",
            json={"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight"},
            headers={"Authorization": f"Bearer {key}", "NGSILD-Tenant": "astana"},
        )
        assert created.status_code == 201, created.text
        ready = threading.Event()
        ended = threading.Event()

        def listen() -> None:
            headers = {"Authorization": f"Bearer {key}", "NGSILD-Tenant": "astana"}
            try:
                with httpx.stream("GET", f"{base}/api/v1/dashboard/events", headers=headers,
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
        stopping = time.monotonic()
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=60)
        took = time.monotonic() - stopping
        # uvicorn re-raises the signal once it has shut down cleanly
        assert status in (0, -signal.SIGTERM), log.read_text(errors="replace")[-2000:]
        assert "Application shutdown complete" in log.read_text(errors="replace")
        # without the grace period the stop waits for the stream: 115 s here
        assert took < SHUTDOWN_GRACE + 20, took
        assert ended.wait(10), "the stream was left open"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
