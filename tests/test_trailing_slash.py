"""Collection URLs answer the same with or without a trailing slash, without a redirect.

The NGSI-LD specification writes collection resources with the slash
(``{apiRoot}/ngsi-ld/v1/entities/``); clients that do not follow a redirect on POST must work.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

BASE = "/ngsi-ld/v1"
CAR = {"id": "urn:ngsi-ld:Car:slash", "type": "Car", "speed": {"type": "Property", "value": 3}}


def test_entities_with_a_trailing_slash_are_created_and_queried_without_redirect(
    client: TestClient,
) -> None:
    created = client.post(f"{BASE}/entities/", json=CAR, follow_redirects=False)
    assert created.status_code == 201
    assert created.headers["Location"] == f"{BASE}/entities/urn:ngsi-ld:Car:slash"
    listed = client.get(f"{BASE}/entities/?type=Car", follow_redirects=False)
    assert listed.status_code == 200
    assert [e["id"] for e in listed.json()] == ["urn:ngsi-ld:Car:slash"]
    assert listed.json() == client.get(f"{BASE}/entities?type=Car").json()


def test_every_api_accepts_its_collections_with_a_trailing_slash(client: TestClient) -> None:
    subscription = {
        "id": "urn:ngsi-ld:Subscription:slash",
        "type": "Subscription",
        "entities": [{"type": "Car"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    created = client.post(f"{BASE}/subscriptions/", json=subscription, follow_redirects=False)
    assert created.status_code == 201
    for path in (
        f"{BASE}/subscriptions/",
        f"{BASE}/types/",
        f"{BASE}/attributes/",
        f"{BASE}/jsonldContexts/",
        f"{BASE}/temporal/entities/?type=Car&timerel=after&timeAt=2020-01-01T00:00:00Z",
        "/iot/services/",
        "/iot/devices/",
        "/qala/v1/tenants/",
        "/qala/v1/keys/",
    ):
        without_slash = path.replace("/?", "?").rstrip("/")
        with_slash = client.get(path, follow_redirects=False)
        without = client.get(without_slash, follow_redirects=False)
        assert with_slash.status_code == without.status_code == 200, path
        if isinstance(without.json(), list):  # (discovery bodies carry a fresh id each time)
            assert with_slash.json() == without.json(), path
    batch = client.post(f"{BASE}/entityOperations/upsert/", json=[CAR], follow_redirects=False)
    assert batch.status_code in (201, 204)


def test_a_resource_some_route_serves_with_its_slash_is_left_alone(client: TestClient) -> None:
    # An entity id may itself end in '/': it is an id, not a collection with a slash.
    entity = {**CAR, "id": "http://example.org/cars/7/"}
    assert client.post(f"{BASE}/entities", json=entity).status_code == 201
    found = client.get(f"{BASE}/entities/http%3A%2F%2Fexample.org%2Fcars%2F7%2F")
    assert found.status_code == 200 and found.json()["id"] == "http://example.org/cars/7/"
    # a URL naming no entity is still an error, not the collection
    assert client.put(f"{BASE}/entities/", json={"type": "T"}).status_code == 400
