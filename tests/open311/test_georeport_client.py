"""A third-party Open311 client works against a Qala server unchanged.

``georeport`` (PyPI, 0.3.1) drives a real server process (uvicorn on a free port, on each
backend): services, a service definition, requests and one request, in JSON and in XML.
Requests are filed and updated with a plain HTTP client (georeport only reads).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from georeport import GeoReport

from testkit import ADMIN_KEY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "QALA_DATABASE_URL": database_url, "QALA_LOG_LEVEL": "warning"}
    env.pop("QALA_AUTH_DISABLED", None)
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "qala.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("no server: " + (tmp_path / "server.log").read_text())
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_georeport_reads_services_and_requests_in_json_and_xml(server: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    key = httpx.post(f"{server}/qala/v1/keys", headers=admin,
                     json={"role": "public", "tenant": "astana", "name": "app"}).json()["key"]
    form = {"jurisdiction_id": "astana", "api_key": key, "service_code": "STREETLIGHT",
            "lat": "51.1694", "long": "71.4491", "attribute[problem]": "dark",
            "attribute[pole_number]": "A-117",
            "description": "Не горит фонарь", "email": "x@example.kz"}  # fmt: skip
    posted = httpx.post(f"{server}/open311/v2/requests.json", data=form)
    assert posted.status_code == 200, posted.text
    rid = posted.json()[0]["service_request_id"]

    for fmt in ("json", "xml"):
        client = GeoReport(f"{server}/open311/v2", jurisdiction="astana", api_key=key,
                           output_format=fmt)  # fmt: skip
        services = client.get_service_list()
        assert "STREETLIGHT" in [s["service_code"] for s in services]
        definition = client.get_service_definition("STREETLIGHT")
        assert definition["service_code"] == "STREETLIGHT"
        found = client.get_service_requests(service_code="STREETLIGHT", status="open")
        if fmt == "xml" and isinstance(found, dict):  # xmltodict: one item is not a list
            found = [found]
        assert [r["service_request_id"] for r in found] == [rid]
        one = client.get_service_request(rid)
        assert one["service_request_id"] == rid and one["status"] == "open"
        assert "x@example.kz" not in str(one)

    refused = httpx.post(f"{server}/open311/v2/requests.xml", data={**form, "api_key": "bad"})
    assert refused.status_code == 403 and b"<errors><error>" in refused.content
