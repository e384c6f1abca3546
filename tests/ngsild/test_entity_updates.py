"""Updates of an entity's parts over HTTP: types, scope, partial attribute updates, and the
projections of a retrieve (pick/omit, datasetId)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ngsi import BASE, point, problem, prop, rel, streetlight

URL = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"


def create(client: TestClient, entity: dict[str, Any]) -> None:
    response = client.post(f"{BASE}/entities", json=entity)
    assert response.status_code == 201, response.text


def entity(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get(URL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_append_replaces_the_scope_or_adds_to_it_with_no_overwrite(client: TestClient) -> None:
    create(client, {**streetlight(1), "scope": "/Astana/Esil"})
    assert client.post(f"{URL}/attrs", json={"scope": "/Astana/Almaty"}).status_code == 204
    assert entity(client)["scope"] == "/Astana/Almaty"
    added = client.post(
        f"{URL}/attrs", json={"scope": ["/Astana/Esil"]}, params={"options": "noOverwrite"}
    )
    assert added.status_code == 204, added.text
    assert entity(client)["scope"] == ["/Astana/Almaty", "/Astana/Esil"]


def test_update_replaces_a_scope_only_where_there_is_one(client: TestClient) -> None:
    create(client, streetlight(1))
    response = client.patch(f"{URL}/attrs", json={"scope": "/Astana"})
    assert response.status_code == 207
    assert response.json()["notUpdated"][0]["attributeName"] == "scope"
    assert "scope" not in entity(client)
    client.post(f"{URL}/attrs", json={"scope": "/Astana"})
    assert client.patch(f"{URL}/attrs", json={"scope": "/Almaty"}).status_code == 204
    assert entity(client)["scope"] == "/Almaty"


def test_scope_can_be_deleted_like_an_attribute(client: TestClient) -> None:
    create(client, {**streetlight(1), "scope": ["/Astana/Esil", "/Lights"]})
    assert client.delete(f"{URL}/attrs/scope").status_code == 204
    assert "scope" not in entity(client)
    problem(client.delete(f"{URL}/attrs/scope"), 404, "ResourceNotFound")


def test_types_are_added_by_append_and_update(client: TestClient) -> None:
    create(client, streetlight(1))
    assert client.post(f"{URL}/attrs", json={"type": "Device"}).status_code == 204
    assert entity(client)["type"] == ["Streetlight", "Device"]
    response = client.patch(f"{URL}/attrs", json={"type": ["Device", "Lamp"]})
    assert response.status_code == 204, response.text
    assert entity(client)["type"] == ["Streetlight", "Device", "Lamp"]


def test_partial_attribute_update_merges_metadata_and_sub_attributes(client: TestClient) -> None:
    create(
        client,
        streetlight(
            1,
            parkedOn=rel("urn:ngsi-ld:Road:1", providedBy=rel("urn:ngsi-ld:Person:Bob")),
            lux=prop(5, unitCode="LUX"),
        ),
    )
    # Only a sub-attribute: the relationship keeps its object.
    sub = {"providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:Aigerim"}}
    assert client.patch(f"{URL}/attrs/parkedOn", json=sub).status_code == 204
    assert entity(client)["parkedOn"] == rel(
        "urn:ngsi-ld:Road:1", providedBy=rel("urn:ngsi-ld:Person:Aigerim")
    )
    # Only metadata: the value stays.
    observed = {"observedAt": "2026-01-15T09:00:00Z"}
    assert client.patch(f"{URL}/attrs/lux", json=observed).status_code == 204
    assert entity(client)["lux"] == prop(5, unitCode="LUX", observedAt="2026-01-15T09:00:00Z")
    # A value with the same kind is fine; another kind is not.
    assert client.patch(f"{URL}/attrs/lux", json={"type": "Property", "value": 7}).status_code
    assert entity(client)["lux"]["value"] == 7
    problem(
        client.patch(f"{URL}/attrs/lux", json={"type": "Relationship", "object": "urn:a:b"}),
        400,
        "BadRequestData",
    )
    problem(client.patch(f"{URL}/attrs/lux", json={}), 400, "BadRequestData")
    problem(client.patch(f"{URL}/attrs/lux", json={"observedAt": "soon"}), 400, "BadRequestData")


def test_retrieve_projections(client: TestClient) -> None:
    create(
        client,
        streetlight(
            1,
            speed=[
                prop(50, datasetId="urn:ngsi-ld:Dataset:radar"),
                prop(48),
                prop(51, datasetId="urn:ngsi-ld:Dataset:gps"),
            ],
        ),
    )
    assert entity(client, pick="id,speed|status").keys() == {"id", "speed", "status"}
    assert entity(client, omit="location,speed") == {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "status": prop("ok"),
    }
    # datasetId keeps only those instances (@none: the default instance).
    radar = entity(client, datasetId="urn:ngsi-ld:Dataset:radar", pick="speed")
    assert radar == {"speed": prop(50, datasetId="urn:ngsi-ld:Dataset:radar")}
    two = entity(client, datasetId="@none,urn:ngsi-ld:Dataset:gps", pick="speed")
    assert [i["value"] for i in two["speed"]] == [48, 51]
    # Nothing left to show is a 404; a malformed projection a 400.
    problem(client.get(URL, params={"pick": "unknown"}), 404, "ResourceNotFound")
    problem(
        client.get(URL, params={"omit": "id,type,status,location,speed"}), 404, "ResourceNotFound"
    )
    problem(client.get(URL, params={"pick": "status", "omit": "status"}), 400, "BadRequestData")
    problem(client.get(URL, params={"attrs": "status", "pick": "id"}), 400, "BadRequestData")
    problem(client.get(URL, params={"pick": "a{b"}), 400, "BadRequestData")
    problem(client.get(URL, params={"datasetId": "not a uri"}), 400, "BadRequestData")
    problem(client.get(URL, params={"type": "Bus"}), 404, "ResourceNotFound")
    assert entity(client, type="Bus,Streetlight")["id"] == "urn:ngsi-ld:Streetlight:1"


def test_the_type_parameter_gates_operations_on_one_entity(client: TestClient) -> None:
    create(client, streetlight(1))
    for response in (
        client.delete(URL, params={"type": "Bus"}),
        client.post(f"{URL}/attrs", json={"lux": prop(1)}, params={"type": "Bus"}),
        client.patch(f"{URL}/attrs", json={"status": prop("x")}, params={"type": "Bus"}),
        client.patch(f"{URL}/attrs/status", json={"value": "x"}, params={"type": "Bus"}),
        client.delete(f"{URL}/attrs/status", params={"type": "Bus"}),
        client.patch(URL, json={"status": prop("x")}, params={"type": "Bus"}),
    ):
        problem(response, 404, "ResourceNotFound")
    assert entity(client)["status"] == prop("ok")  # nothing changed
    gated = client.patch(
        f"{URL}/attrs/status", json={"value": "dim"}, params={"type": "Streetlight"}
    )
    assert gated.status_code == 204
    assert client.delete(URL, params={"type": "Bus,Streetlight"}).status_code == 204


def test_input_rules_for_new_entities(client: TestClient) -> None:
    url = f"{BASE}/entities"
    # The NGSI-LD Null only deletes: a new entity cannot hold it, at any depth.
    nulls: list[Any] = [
        prop("urn:ngsi-ld:null"),
        rel("urn:ngsi-ld:null"),
        prop(1, note=prop("urn:ngsi-ld:null")),
        {"type": "LanguageProperty", "languageMap": {"@none": "urn:ngsi-ld:null"}},
    ]
    for value in nulls:
        problem(client.post(url, json=streetlight(1, x=value)), 400, "BadRequestData")
    batch = client.post(f"{BASE}/entityOperations/create", json=[streetlight(1, x=nulls[0])])
    assert batch.status_code == 207
    # Core member names cannot name attributes.
    for name in ("observedAt", "datasetId", "value", "instanceId"):
        problem(client.post(url, json=streetlight(1, **{name: prop(1)})), 400, "BadRequestData")
    # datasetId @none is the default instance; objectList entries become {"object": …}.
    create(
        client,
        streetlight(
            1,
            speed=[prop(5, datasetId="@none"), prop(6, datasetId="urn:ngsi-ld:Dataset:gps")],
            roads={"type": "ListRelationship", "objectList": ["urn:a:1", {"object": "urn:a:2"}]},
        ),
    )
    body = entity(client)
    assert body["speed"] == [prop(5), prop(6, datasetId="urn:ngsi-ld:Dataset:gps")]
    assert body["roads"]["objectList"] == [{"object": "urn:a:1"}, {"object": "urn:a:2"}]
    # An upsert in update mode may delete with the NGSI-LD Null.
    patch = {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "roads": rel("urn:ngsi-ld:null"),
    }
    upsert = client.post(
        f"{BASE}/entityOperations/upsert", json=[patch], params={"options": "update"}
    )
    assert upsert.status_code == 204, upsert.text
    assert "roads" not in entity(client)


def test_ids_win_over_id_patterns_and_geojson_uses_the_default_instance(
    client: TestClient,
) -> None:
    create(
        client,
        streetlight(
            1,
            location=[
                {**point(1, 2), "datasetId": "urn:ngsi-ld:Dataset:old"},
                point(71.4491, 51.1694),
            ],
        ),
    )
    found = client.get(
        f"{BASE}/entities",
        params={"type": "Streetlight", "id": "urn:ngsi-ld:Streetlight:1", "idPattern": "^nothing"},
    )
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Streetlight:1"]
    feature = client.get(URL, headers={"Accept": "application/geo+json"}).json()
    assert feature["geometry"] == {"type": "Point", "coordinates": [71.4491, 51.1694]}
