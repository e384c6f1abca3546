"""Linked-entity retrieval over HTTP (GS CIM 009 v1.8.1, 4.5.23): join=inline and join=flat,
joinLevel, projections of linked entities, in retrieve, GET /entities and Query objects."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ngsi import BASE, problem, prop, rel

STREETLIGHT = "urn:ngsi-ld:Streetlight:1"
DISTRICT = "urn:ngsi-ld:District:Esil"
CITY = "urn:ngsi-ld:City:Astana"


def seed(client: TestClient) -> None:
    entities = [
        {
            "id": STREETLIGHT,
            "type": "Streetlight",
            "status": prop("ok"),
            "inDistrict": rel(DISTRICT),
            "refMaintainer": rel("urn:ngsi-ld:Company:404"),  # links to nothing
        },
        {"id": DISTRICT, "type": "District", "name": prop("Esil"), "inCity": rel(CITY)},
        {"id": CITY, "type": "City", "name": prop("Astana"), "population": prop(1_350_000)},
    ]
    response = client.post(f"{BASE}/entityOperations/create", json=entities)
    assert response.status_code == 201, response.text


def retrieve(client: TestClient, **params: Any) -> Any:
    response = client.get(f"{BASE}/entities/{STREETLIGHT}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_inline_puts_each_linked_entity_in_its_relationship(client: TestClient) -> None:
    seed(client)
    body = retrieve(client, join="inline")
    district = body["inDistrict"]
    assert district["object"] == DISTRICT
    assert district["entity"] == {
        "id": DISTRICT,
        "type": "District",
        "name": prop("Esil"),
        "inCity": rel(CITY),  # one level by default: not followed further
    }
    assert body["refMaintainer"] == rel("urn:ngsi-ld:Company:404")  # nothing to inline
    two = retrieve(client, join="inline", joinLevel=2)
    assert two["inDistrict"]["entity"]["inCity"]["entity"]["name"] == prop("Astana")
    simplified = retrieve(client, join="inline", joinLevel=2, options="keyValues")
    assert simplified["inDistrict"] == {
        "id": DISTRICT,
        "type": "District",
        "name": "Esil",
        "inCity": {"id": CITY, "type": "City", "name": "Astana", "population": 1_350_000},
    }


def test_flat_lists_the_entity_then_those_it_links_to(client: TestClient) -> None:
    seed(client)
    body = retrieve(client, join="flat", joinLevel=2, options="keyValues")
    assert [e["id"] for e in body] == [STREETLIGHT, DISTRICT, CITY]
    assert body[0]["inDistrict"] == DISTRICT  # the relationships stay as they are
    # An entity that links to nothing that exists comes alone.
    alone = client.get(f"{BASE}/entities/{CITY}", params={"join": "flat"}).json()
    assert alone["id"] == CITY


def test_projections_reach_into_linked_entities(client: TestClient) -> None:
    seed(client)
    picked = retrieve(client, join="inline", pick="id,inDistrict{name}")
    assert picked == {
        "id": STREETLIGHT,
        "inDistrict": {**rel(DISTRICT), "entity": {"name": prop("Esil")}},
    }
    # Omitting in the linked entity leaves the relationship itself in place.
    omitted = retrieve(client, join="inline", omit="status,inDistrict{inCity}")
    assert "status" not in omitted
    assert omitted["inDistrict"]["entity"] == {
        "id": DISTRICT,
        "type": "District",
        "name": prop("Esil"),
    }
    deep = retrieve(client, join="flat", joinLevel=2, pick="id,inDistrict{id,inCity{name}}")
    assert deep == [
        {"id": STREETLIGHT, "inDistrict": rel(DISTRICT)},
        {"id": DISTRICT, "inCity": rel(CITY)},
        {"name": prop("Astana")},
    ]
    # Relationships left out by the projection are not followed.
    assert retrieve(client, join="flat", pick="id,status") == {
        "id": STREETLIGHT,
        "status": prop("ok"),
    }


def test_join_in_queries_and_query_objects(client: TestClient) -> None:
    seed(client)
    found = client.get(
        f"{BASE}/entities", params={"type": "Streetlight,District", "join": "flat"}
    ).json()
    # Each linked entity once, after the matching ones.
    assert [e["id"] for e in found] == [STREETLIGHT, DISTRICT, CITY]
    body = {
        "type": "Query",
        "entities": [{"type": "Streetlight"}],
        "join": "inline",
        "pick": ["id", "inDistrict"],
    }
    posted = client.post(f"{BASE}/entityOperations/query", json=body).json()
    assert posted[0]["inDistrict"]["entity"]["name"] == prop("Esil")


def test_join_parameters_are_checked(client: TestClient) -> None:
    seed(client)
    url = f"{BASE}/entities/{STREETLIGHT}"
    for params in (
        {"join": "sideways"},
        {"join": "inline", "joinLevel": "0"},
        {"joinLevel": "2"},  # joinLevel without join
        {"join": "inline", "joinLevel": "1", "pick": "inDistrict{inCity{name}}"},  # too deep
        {"pick": "inDistrict{name}"},  # projection of linked entities without join
    ):
        problem(client.get(url, params=params), 400, "BadRequestData")
    # join=@none is no join.
    assert "entity" not in client.get(url, params={"join": "@none"}).json()["inDistrict"]
