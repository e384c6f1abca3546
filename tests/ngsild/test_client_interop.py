"""A third-party NGSI-LD client works against Qala unchanged.

ngsildclient (Orange, Apache-2.0, PyPI) drives a real Qala server process (uvicorn on a free
port, on each backend): create, retrieve, query with q, count, batch upsert, update, delete,
and its mapping of Qala's ProblemDetails to its own exceptions.

ngsildclient pins httpx<0.24 and rich<13, which Qala's own dependencies exclude, so it lives
in a separate virtualenv made from the ``interop`` dependency group of pyproject.toml
(``make test`` creates it; see docs/conformance.md). The interpreter is
``$QALA_INTEROP_PYTHON`` or ``.venv-interop/bin/python``; without it the test is skipped on
a developer's machine and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from testkit import ADMIN_KEY, require_service

REPO = Path(__file__).resolve().parents[2]

# Runs inside the interop virtualenv: argv = port, API key. Prints one JSON object per step.
CLIENT_SCRIPT = r"""
import json, sys
from requests.auth import AuthBase
from ngsildclient import Client, Entity
from ngsildclient.api.exceptions import NgsiAlreadyExistsError, NgsiResourceNotFoundError

port, key = int(sys.argv[1]), sys.argv[2]

class Bearer(AuthBase):
    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {key}"
        return request

def step(name, value):
    print(json.dumps({"step": name, "value": value}, default=str), flush=True)

def light(n, status="ok"):
    e = Entity("Streetlight", f"urn:ngsi-ld:Streetlight:{n}")
    e.prop("status", status)
    e.prop("power", 120, unitcode="WTT")
    e.gprop("location", (51.1694 + n / 1000, 71.4491))  # (lat, lon), as ngsildclient takes it
    e.rel("refGroup", "urn:ngsi-ld:StreetlightGroup:esil")
    return e

with Client(hostname="127.0.0.1", port=port, tenant="astana", custom_auth=Bearer(),
            verbose=False) as client:
    step("connected", client.is_connected())
    step("create", client.create(light(1)))
    got = client.get("urn:ngsi-ld:Streetlight:1")
    step("get", got.to_dict())
    step("exists", client.exists("urn:ngsi-ld:Streetlight:1"))
    try:
        client.create(light(1))
        step("duplicate", "no error")
    except NgsiAlreadyExistsError as exc:
        step("duplicate", exc.problemdetails.type)
    try:
        client.entities.get("urn:ngsi-ld:Streetlight:404")
        step("missing", "no error")
    except NgsiResourceNotFoundError as exc:
        step("missing", exc.problemdetails.type)
    result = client.upsert([light(1, "dimmed"), light(2), light(3, "broken")])
    step("upsert", {"success": len(result.success), "errors": len(result.errors)})
    found = client.query(type="Streetlight", q='status=="ok"')
    step("query", sorted(e.id for e in found))
    step("count", client.count(type="Streetlight"))
    step("count_q", client.count(type="Streetlight", q="power>100"))
    updated = client.get("urn:ngsi-ld:Streetlight:3")
    updated["status"].value = "repaired"
    step("update", client.update(updated))
    step("after_update", client.get("urn:ngsi-ld:Streetlight:3")["status"].value)
    step("delete", client.delete(client.get("urn:ngsi-ld:Streetlight:1")))
    step("exists_after_delete", client.exists("urn:ngsi-ld:Streetlight:1"))
    batch = client.delete([client.get(f"urn:ngsi-ld:Streetlight:{n}") for n in (2, 3)])
    step("batch_delete", {"success": len(batch.success), "errors": len(batch.errors)})
    step("count_end", client.count(type="Streetlight"))
"""


def interop_python() -> str:
    candidate = os.environ.get("QALA_INTEROP_PYTHON") or str(REPO / ".venv-interop/bin/python")
    probe = None
    if Path(candidate).exists():
        probe = subprocess.run(
            [candidate, "-c", "import ngsildclient"], capture_output=True, timeout=60
        )
    if probe is None or probe.returncode != 0:
        require_service(
            f"ngsildclient is not installed for {candidate}: create it with "
            "python3 -m venv .venv-interop && .venv-interop/bin/pip install --group interop"
        )
    return candidate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def qala_server(database_url: str, tmp_path: Path) -> Iterator[int]:
    """A Qala server process on a free port over the test database; its port."""
    port = free_port()
    env = {**os.environ, "QALA_DATABASE_URL": database_url, "QALA_LOG_LEVEL": "warning"}
    env.pop("QALA_AUTH_DISABLED", None)
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "qala.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "the Qala server did not start: " + (tmp_path / "server.log").read_text()
                )
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def run_client(python: str, port: int) -> dict[str, Any]:
    done = subprocess.run(
        [python, "-c", CLIENT_SCRIPT, str(port), ADMIN_KEY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    steps: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith('{"step"'):
            record = json.loads(line)
            steps[record["step"]] = record["value"]
    return steps


def test_ngsildclient_works_against_a_qala_server(qala_server: int) -> None:
    python = interop_python()
    steps = run_client(python, qala_server)
    assert steps["connected"] is True
    assert steps["create"] is True
    got = steps["get"]
    assert got["id"] == "urn:ngsi-ld:Streetlight:1" and got["type"] == "Streetlight"
    assert got["status"] == {"type": "Property", "value": "ok"}
    assert got["power"] == {"type": "Property", "value": 120, "unitCode": "WTT"}
    assert got["location"]["value"] == {"type": "Point", "coordinates": [71.4491, 51.1704]}
    assert got["refGroup"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:StreetlightGroup:esil",
    }
    assert steps["exists"] is True
    assert steps["duplicate"] == "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"
    assert steps["missing"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    # 201 lists the entities the upsert created (2 and 3); 1 existed and was replaced.
    assert steps["upsert"] == {"success": 2, "errors": 0}
    assert steps["query"] == ["urn:ngsi-ld:Streetlight:2"]
    assert steps["count"] == 3 and steps["count_q"] == 3
    assert steps["update"] is True and steps["after_update"] == "repaired"
    assert steps["delete"] is True and steps["exists_after_delete"] is False
    assert steps["batch_delete"] == {"success": 2, "errors": 0}
    assert steps["count_end"] == 0
