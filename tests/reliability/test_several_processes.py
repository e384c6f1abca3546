"""Several server processes on one database (``qala serve --workers N``, or several hosts on
one PostgreSQL): what one process writes or configures, every other one serves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reliability_support import ServerProcess, create_admin_key

from ngsi import BASE, streetlight

TENANT = "almaty"


@pytest.fixture
def pair(database_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    key = create_admin_key(database_url)
    first = ServerProcess(database_url, tmp_path / "first.log", key, anonymous_role="public")
    second = ServerProcess(database_url, tmp_path / "second.log", key, anonymous_role="public")
    yield first, second
    first.stop()
    second.stop()


def _public_ids(server: ServerProcess) -> list[str]:
    response = httpx.get(
        server.url + f"{BASE}/entities",
        params={"type": "Streetlight"},
        headers={"NGSILD-Tenant": TENANT},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


def test_processes_share_writes_and_tenant_settings(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = pair
    first.start()
    second.start()
    auth = {**first.headers, "NGSILD-Tenant": TENANT}
    with httpx.Client(headers=auth, timeout=10) as http:
        for n in range(20):
            server = (first, second)[n % 2]
            response = http.post(server.url + f"{BASE}/entities", json=streetlight(n))
            assert response.status_code == 201, response.text
        for server in (first, second):
            response = http.get(
                server.url + f"{BASE}/entities",
                params={"type": "Streetlight", "count": "true", "limit": 0},
            )
            assert response.headers["NGSILD-Results-Count"] == "20"

        # Nothing is open data yet: the public sees nothing through either process.
        assert _public_ids(first) == [] and _public_ids(second) == []
        response = http.patch(
            first.url + f"/qala/v1/tenants/{TENANT}",
            json={"settings": {"openDataTypes": ["Streetlight"]}},
        )
        assert response.status_code == 200, response.text
        assert len(_public_ids(first)) == 20
        # The other process applies the new setting within a second or so.
        deadline = time.monotonic() + 5
        while len(_public_ids(second)) != 20:
            assert time.monotonic() < deadline, "the second process kept the old settings"
            time.sleep(0.1)

        # Taken back out of open data: no process keeps serving it.
        response = http.patch(
            second.url + f"/qala/v1/tenants/{TENANT}",
            json={"settings": {"openDataTypes": []}},
        )
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + 5
        while _public_ids(first):
            assert time.monotonic() < deadline, "the first process kept serving closed data"
            time.sleep(0.1)
