"""Remote @context documents through the guard: refused or cut fetches give
LdContextNotAvailable and leave nothing in the context store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from outbound_support import (
    PUBLIC,
    FakeDNS,
    LocalServer,
    Switchboard,
    document,
    dribble,
    large,
    redirect,
)

from ngsi import BASE, headers, problem, prop, streetlight
from qala.app import create_app
from qala.config import Settings
from qala.hub.errors import ContextNotAvailable
from qala.jsonld.resolver import ContextResolver, StoredContext
from qala.outbound import Outbound
from testkit import ADMIN_KEY

NAME = "contexts.city.example"
URL = f"http://{NAME}/city.jsonld"
DOC = {"@context": {"lux": "https://example.org/city#lux"}}


class MemoryStore:
    """A context store in memory: what the resolver saved."""

    def __init__(self) -> None:
        self.saved: dict[str, StoredContext] = {}

    async def context_by_url(self, url: str) -> StoredContext | None:
        return next((c for c in self.saved.values() if c.url == url), None)

    async def context_by_id(self, local_id: str) -> StoredContext | None:
        return self.saved.get(local_id)

    async def save_context(self, ctx: StoredContext) -> None:
        self.saved[ctx.local_id] = ctx


@pytest.fixture
def server() -> Iterator[LocalServer]:
    server = LocalServer()
    yield server
    server.close()


def resolver_for(
    server: LocalServer, answers: list[list[str]] | None = None
) -> tuple[ContextResolver, MemoryStore, FakeDNS, Switchboard]:
    dns = FakeDNS({NAME: answers or [[PUBLIC]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    store = MemoryStore()
    resolver = ContextResolver(
        repository=store,
        fetch_timeout=1.0,
        outbound=Outbound(allow_local=False, resolve=dns, route=board),
    )
    return resolver, store, dns, board


def unavailable(resolver: ContextResolver, url: str = URL) -> str:
    with pytest.raises(ContextNotAvailable) as caught:
        asyncio.run(resolver.compile(url))
    return str(caught.value)


def test_a_context_is_fetched_from_the_checked_address_and_kept(server: LocalServer) -> None:
    server.answers["/city.jsonld"] = document(DOC)
    resolver, store, dns, board = resolver_for(server, [[PUBLIC], ["127.0.0.1"]])
    ctx = asyncio.run(resolver.compile(URL))
    assert ctx.expand("lux") == "https://example.org/city#lux"
    assert [c.url for c in store.saved.values()] == [URL]
    assert dns.calls == [NAME] and board.dialled == [(PUBLIC, 80)]


def test_a_context_whose_name_rebinds_to_loopback_is_refused_on_reload_and_the_copy_kept(
    server: LocalServer,
) -> None:
    server.answers["/city.jsonld"] = document(DOC)
    resolver, store, _dns, board = resolver_for(server, [[PUBLIC], ["127.0.0.1"]])
    asyncio.run(resolver.compile(URL))
    with pytest.raises(ContextNotAvailable, match=r"refused: .*resolves to 127\.0\.0\.1"):
        asyncio.run(resolver.reload(URL))
    assert board.dialled == [(PUBLIC, 80)]
    assert next(iter(store.saved.values())).body == DOC


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:{port}/city.jsonld",
        "http://[::1]:{port}/city.jsonld",
    ],
)
def test_a_context_that_redirects_to_an_internal_address_is_not_available_nor_cached(
    server: LocalServer, location: str
) -> None:
    server.answers["/city.jsonld"] = redirect(location.format(port=server.port))
    resolver, store, _dns, _board = resolver_for(server)
    message = unavailable(resolver)
    assert "refused: redirect to" in message and "loopback, private or reserved" in message
    assert store.saved == {}
    assert server.paths() == ["/city.jsonld"]
    # Nothing was kept: the next request tries again (and now succeeds).
    server.answers["/city.jsonld"] = document(DOC)
    asyncio.run(resolver.compile(URL))
    assert server.paths() == ["/city.jsonld", "/city.jsonld"]


def test_a_context_larger_than_2_mib_is_not_available_nor_cached(server: LocalServer) -> None:
    server.answers["/city.jsonld"] = large(3 * 1024 * 1024, announced=False)
    resolver, store, _dns, _board = resolver_for(server)
    assert "larger than 2 MiB" in unavailable(resolver)
    assert store.saved == {}


def test_a_context_that_trickles_in_is_cut_at_the_fetch_timeout_and_not_cached(
    server: LocalServer,
) -> None:
    server.answers["/city.jsonld"] = dribble(200, every=0.1)
    resolver, store, _dns, _board = resolver_for(server)
    assert "no complete answer within 1 s" in unavailable(resolver)
    assert store.saved == {}


def test_a_context_url_with_another_scheme_is_a_bad_request() -> None:
    from qala.hub.errors import BadRequestData

    with pytest.raises(BadRequestData, match="not an http"):
        asyncio.run(ContextResolver().compile("file:///etc/passwd"))


# -- through the API ----------------------------------------------------------------------------


@pytest.fixture
def guarded(database_url: str, server: LocalServer) -> Iterator[tuple[TestClient, FakeDNS]]:
    """A server with the default guard; its context fetches resolve through a FakeDNS and
    dial public addresses through a Switchboard to ``server``."""
    settings = Settings(database_url=database_url, allow_local_endpoints=False, mqtt_url="")
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        outbound = client.app.state.services.contexts.outbound  # type: ignore[attr-defined]
        assert outbound.allow_local is False
        dns = FakeDNS({NAME: [[PUBLIC], ["127.0.0.1"]]})
        board = Switchboard()
        board.connect(PUBLIC, server)
        outbound.resolve, outbound.route = dns, board
        yield client, dns


def _cached_urls(client: TestClient) -> list[str]:
    listed: list[dict[str, Any]] = client.get(
        f"{BASE}/jsonldContexts", params={"kind": "Cached", "details": "true"}
    ).json()
    return [c["URL"] for c in listed]


def test_over_the_api_a_context_that_redirects_to_the_metadata_address_gives_504(
    guarded: tuple[TestClient, FakeDNS], server: LocalServer
) -> None:
    client, _dns = guarded
    server.answers["/city.jsonld"] = redirect("http://169.254.169.254/latest/meta-data/")
    body = problem(
        client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(context=URL)),
        504,
        "LdContextNotAvailable",
    )
    assert "169.254.169.254" in body["detail"] and "refused" in body["detail"], body
    assert URL not in _cached_urls(client)
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").status_code == 404


def test_over_the_api_a_context_name_rebinding_to_loopback_cannot_be_reloaded(
    guarded: tuple[TestClient, FakeDNS], server: LocalServer
) -> None:
    client, dns = guarded
    server.answers["/city.jsonld"] = document(DOC)
    light = streetlight(1, lux=prop(3))
    created = client.post(f"{BASE}/entities", json=light, headers=headers(context=URL))
    assert created.status_code == 201, created.text
    info = next(
        c
        for c in client.get(f"{BASE}/jsonldContexts", params={"details": "true"}).json()
        if c["URL"] == URL
    )
    # The name now answers 127.0.0.1: the reload is refused and the cached copy kept.
    problem(
        client.delete(f"{BASE}/jsonldContexts/{info['localId']}", params={"reload": "true"}),
        504,
        "LdContextNotAvailable",
    )
    assert dns.calls == [NAME, NAME]
    assert server.paths() == ["/city.jsonld"]
    kept = client.get(f"{BASE}/jsonldContexts/{info['localId']}")
    assert kept.status_code == 200 and kept.json() == DOC
