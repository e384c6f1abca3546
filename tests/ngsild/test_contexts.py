"""The /jsonldContexts resources over HTTP: list, serve, host (add), delete and reload.

A small HTTP server in the test plays the remote context server for Cached contexts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ngsi import BASE, CORE, headers, problem, prop, streetlight
from qala.app import create_app
from qala.config import Settings
from testkit import ADMIN_KEY


class ContextServer:
    """Serves ``documents`` (path -> JSON document) on 127.0.0.1; counts the requests."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                document = server.documents.get(self.path)
                if document is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def context_server() -> Iterator[ContextServer]:
    server = ContextServer()
    yield server
    server.close()


def host(client: TestClient, context: Any) -> str:
    """Host ``context`` in the broker; the path of the new context."""
    response = client.post(f"{BASE}/jsonldContexts", json={"@context": context})
    assert response.status_code == 201, response.text
    assert response.content == b""
    location: str = response.headers["location"]
    assert location.startswith(f"{BASE}/jsonldContexts/")
    return location


def test_a_hosted_context_is_served_listed_and_usable(client: TestClient) -> None:
    path = host(client, {"lux": "https://example.org/city#lux"})
    local_id = path.rsplit("/", 1)[1]
    info = client.get(path, params={"details": "true"}).json()
    assert info["kind"] == "Hosted" and info["localId"] == local_id
    assert info["URL"].endswith(path) and info["URL"].startswith("http")
    assert info["numberOfHits"] == 0 and info["createdAt"].endswith("Z")
    assert info["URL"] in client.get(f"{BASE}/jsonldContexts").json()
    kinds = client.get(f"{BASE}/jsonldContexts", params={"kind": "Hosted", "details": "true"})
    assert [c["localId"] for c in kinds.json()] == [local_id]
    # Used as the @context of a request (by its URL), it expands names; hits are counted.
    light = streetlight(1, lux=prop(3))
    created = client.post(f"{BASE}/entities", json=light, headers=headers(context=info["URL"]))
    assert created.status_code == 201, created.text
    stored = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
    assert stored["https://example.org/city#lux"] == prop(3)
    assert client.get(path, params={"details": "true"}).json()["numberOfHits"] == 1
    # Serving the document is no use of it.
    served = client.get(path)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == {"@context": {"lux": "https://example.org/city#lux"}}


def test_built_in_contexts_are_listed_as_cached_and_cannot_be_deleted(
    client: TestClient,
) -> None:
    listed = client.get(f"{BASE}/jsonldContexts", params={"kind": "Cached"}).json()
    assert CORE in listed
    details = client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
    assert all(info["createdAt"] and info["kind"] for info in details)
    core_id = next(
        c["localId"]
        for c in client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
        if c["URL"] == CORE
    )
    served = client.get(f"{BASE}/jsonldContexts/{core_id}")
    assert "@context" in served.json()
    problem(client.delete(f"{BASE}/jsonldContexts/{core_id}"), 400, "BadRequestData")
    # Reloading a built-in context is allowed: the broker's own copy stays.
    assert client.delete(f"{BASE}/jsonldContexts/{core_id}", params={"reload": "true"}).status_code
    assert client.get(f"{BASE}/jsonldContexts/{core_id}").status_code == 200


def test_deleting_a_hosted_context(client: TestClient) -> None:
    path = host(client, {"lux": "https://example.org/city#lux"})
    problem(client.delete(path, params={"reload": "true"}), 400, "BadRequestData")  # not Cached
    assert client.delete(path).status_code == 204
    problem(client.get(path), 404, "ResourceNotFound")
    problem(client.delete(path), 404, "ResourceNotFound")
    # A request naming the deleted context can no longer be understood.
    url = "http://testserver" + path
    problem(
        client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(context=url)),
        504,
        "LdContextNotAvailable",
    )
    problem(
        client.delete(f"{BASE}/jsonldContexts/nothing-here", params={"reload": "true"}),
        400,
        "BadRequestData",
    )
    problem(
        client.delete(f"{BASE}/jsonldContexts/nothing-here", params={"reload": "maybe"}),
        400,
        "BadRequestData",
    )


def test_remote_contexts_are_cached_and_can_be_reloaded(
    client: TestClient, context_server: ContextServer
) -> None:
    context_server.documents["/city.jsonld"] = {"@context": {"lux": "https://example.org/a#lux"}}
    url = context_server.base + "/city.jsonld"
    light = streetlight(1, lux=prop(3))
    assert client.post(f"{BASE}/entities", json=light, headers=headers(context=url)).status_code
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()[
        "https://example.org/a#lux"
    ] == prop(3)
    cached = client.get(f"{BASE}/jsonldContexts", params={"kind": "Cached", "details": "true"})
    info = next(c for c in cached.json() if c["URL"] == url)
    # Used again: no second download.
    client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers=headers(context=url))
    assert context_server.requests == ["/city.jsonld"]
    # Reload: fetched again, and the new definition applies to the next requests.
    context_server.documents["/city.jsonld"] = {"@context": {"lux": "https://example.org/b#lux"}}
    reload = client.delete(f"{BASE}/jsonldContexts/{info['localId']}", params={"reload": "true"})
    assert reload.status_code == 204, reload.text
    assert context_server.requests == ["/city.jsonld", "/city.jsonld"]
    light2 = streetlight(2, lux=prop(4))
    assert client.post(f"{BASE}/entities", json=light2, headers=headers(context=url)).status_code
    assert (
        "https://example.org/b#lux"
        in client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:2").json()
    )
    # Deleted, it is fetched again when next named, and counted from zero.
    assert client.delete(f"{BASE}/jsonldContexts/{info['localId']}").status_code == 204
    client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:2", headers=headers(context=url))
    assert len(context_server.requests) == 3
    again = client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
    assert next(c for c in again if c["URL"] == url)["numberOfHits"] == 1


def test_a_failed_reload_keeps_the_cached_context(
    client: TestClient, context_server: ContextServer
) -> None:
    context_server.documents["/city.jsonld"] = {"@context": {"lux": "https://example.org/a#lux"}}
    url = context_server.base + "/city.jsonld"
    assert client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(context=url))
    info = next(
        c
        for c in client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
        if c["URL"] == url
    )
    del context_server.documents["/city.jsonld"]  # the context server now answers 404
    problem(
        client.delete(f"{BASE}/jsonldContexts/{info['localId']}", params={"reload": "true"}),
        504,
        "LdContextNotAvailable",
    )
    kept = client.get(f"{BASE}/jsonldContexts/{info['localId']}")
    assert kept.status_code == 200 and kept.json()["@context"]["lux"] == "https://example.org/a#lux"


def test_adding_contexts_checks_the_document(client: TestClient) -> None:
    url = f"{BASE}/jsonldContexts"
    problem(client.post(url, json={"A1": "urn:a:1"}), 400, "InvalidRequest")  # no @context
    problem(
        client.post(url, content=b'{"@context": {"a": "urn:a"', headers=json_type()),
        400,
        "InvalidRequest",
    )
    problem(client.post(url, json={"@context": 7}), 400, "BadRequestData")
    problem(client.post(url, json={"@context": ["https://a.example/c", 7]}), 400, "BadRequestData")
    problem(client.post(url, json={"@context": {"a": {"@id": 5}}}), 400, "BadRequestData")
    response = client.post(url, content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    problem(client.get(url, params={"kind": "Borrowed"}), 400, "BadRequestData")


def json_type() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def test_preloaded_contexts_are_used_offline_and_listed_as_cached(
    database_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "contexts"
    (folder / "city").mkdir(parents=True)
    (folder / "city" / "lights.jsonld").write_text(
        json.dumps({"@context": {"lux": "https://example.org/preloaded#lux"}})
    )
    (folder / "index.json").write_text(json.dumps({"https://contexts.example.kz/": "city"}))
    url = "https://contexts.example.kz/lights.jsonld"  # not reachable: only the copy can answer
    settings = Settings(database_url=database_url, contexts_dir=folder)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        light = streetlight(1, lux=prop(2))
        assert c.post(f"{BASE}/entities", json=light, headers=headers(context=url)).status_code
        stored = c.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
        assert stored["https://example.org/preloaded#lux"] == prop(2)
        listed = c.get(f"{BASE}/jsonldContexts", params={"details": "true", "kind": "Cached"})
        info = next(i for i in listed.json() if i["URL"] == url)
        assert info["kind"] == "Cached" and info["numberOfHits"] == 1
        path = f"{BASE}/jsonldContexts/{info['localId']}"
        assert c.get(path).json()["@context"]["lux"] == "https://example.org/preloaded#lux"
        problem(c.delete(path), 400, "BadRequestData")  # the broker's own copy stays
