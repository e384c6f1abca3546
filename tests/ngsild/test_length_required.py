"""GS CIM 009 6.3.4: a POST, PATCH or PUT of the NGSI-LD API without ``Content-Length`` (a
chunked body) is answered with a bare 411, before the tenant or the body is looked at; other
methods, and bodies with their length, are not concerned."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from fastapi.testclient import TestClient

from ngsi import BASE, headers

BODY = b'{"id": "urn:ngsi-ld:Building:411", "type": "Building"}'


def chunked() -> Iterator[bytes]:
    yield BODY  # an iterator: httpx sends it chunked, without Content-Length


def send(
    client: TestClient, method: str, path: str, extra: dict[str, str] | None = None
) -> httpx.Response:
    sent = {"Content-Type": "application/json", **(extra or {})}
    return client.request(method, f"{BASE}{path}", content=chunked(), headers=sent)


def test_writes_without_content_length_get_a_bare_411(client: TestClient) -> None:
    for method, path in (
        ("POST", "/entities"),
        ("PATCH", "/entities/urn:ngsi-ld:Building:411/attrs/"),
        ("PUT", "/entities/urn:ngsi-ld:Building:411"),
        ("POST", "/entityOperations/create"),
        ("POST", "/subscriptions"),
        ("POST", "/temporal/entities"),
        ("POST", "/jsonldContexts"),
    ):
        response = send(client, method, path)
        assert response.status_code == 411, (method, path, response.text)
        assert response.content == b"", (method, path)
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Building:411").status_code == 404


def test_the_411_comes_before_the_tenant_is_looked_up(client: TestClient) -> None:
    response = send(client, "POST", "/entities", extra=headers("nosuchtenant"))
    assert response.status_code == 411


def test_the_same_write_with_its_length_succeeds(client: TestClient) -> None:
    response = client.post(
        f"{BASE}/entities", content=BODY, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


def test_reads_need_no_content_length(client: TestClient) -> None:
    assert client.get(f"{BASE}/entities", params={"type": "Building"}).status_code == 200
