"""``orderBy`` on entity queries (GS CIM 009 v1.9, 4.23): the matches ordered by entity
members, attributes, sub-attributes or instance members, ascending or descending, several keys
in turn; entities without the key come last; limit/offset page the ordered list."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ngsi import BASE, problem, prop

BUILDING = "urn:ngsi-ld:Building:"


def building(number: int, name: str, rank: int, **attrs: Any) -> dict[str, Any]:
    return {
        "id": f"{BUILDING}{number}",
        "type": "Building",
        "name": prop(name, subProperty=prop(rank)),
        **attrs,
    }


def ids(client: TestClient, **params: Any) -> list[int]:
    response = client.get(f"{BASE}/entities", params={"type": "Building", **params})
    assert response.status_code == 200, response.text
    return [int(e["id"].rsplit(":", 1)[1]) for e in response.json()]


def setup(client: TestClient) -> None:
    # created in the order 2, 1, 3; names B, A, C; subProperty 2, 1, 3
    for entity in (building(2, "B", 2), building(1, "A", 1), building(3, "C", 3)):
        assert client.post(f"{BASE}/entities", json=entity).status_code == 201


def test_order_by_an_attribute_id_or_creation(client: TestClient) -> None:
    setup(client)
    assert ids(client, orderBy="name") == [1, 2, 3]
    assert ids(client, orderBy="id") == [1, 2, 3]
    assert ids(client, orderBy="createdAt") == [2, 1, 3]
    assert ids(client, orderBy="name.createdAt") == [2, 1, 3]


def test_order_by_a_sub_attribute_and_direction(client: TestClient) -> None:
    setup(client)
    assert ids(client, orderBy="name.subProperty") == [1, 2, 3]
    assert ids(client, orderBy="name;asc") == [1, 2, 3]
    assert ids(client, orderBy="name;desc") == [3, 2, 1]


def test_order_by_several_keys_in_turn(client: TestClient) -> None:
    setup(client)
    client.post(f"{BASE}/entities", json=building(4, "A", 9))
    assert ids(client, orderBy="type,name") == [1, 4, 2, 3]
    assert ids(client, orderBy="name;asc,name.subProperty;desc") == [4, 1, 2, 3]
    assert ids(client, orderBy="type;asc,name.subProperty;desc,name;asc") == [4, 3, 2, 1]


def test_entities_without_the_key_come_last_in_either_direction(client: TestClient) -> None:
    setup(client)
    client.post(f"{BASE}/entities", json={"id": f"{BUILDING}9", "type": "Building"})
    assert ids(client, orderBy="name")[-1] == 9
    assert ids(client, orderBy="name;desc")[-1] == 9


def test_limit_and_offset_page_the_ordered_matches(client: TestClient) -> None:
    setup(client)
    response = client.get(
        f"{BASE}/entities",
        params={"type": "Building", "orderBy": "name;desc", "limit": 2, "count": "true"},
    )
    assert [e["id"] for e in response.json()] == [f"{BUILDING}3", f"{BUILDING}2"]
    assert response.headers["NGSILD-Results-Count"] == "3"
    assert ids(client, orderBy="name;desc", limit=2, offset=2) == [1]


def test_a_malformed_order_by_is_refused(client: TestClient) -> None:
    setup(client)
    for bad in ("name;sideways", "name..x", ",", "na me"):
        params = {"type": "Building", "orderBy": bad}
        problem(client.get(f"{BASE}/entities", params=params), 400, "BadRequestData")
