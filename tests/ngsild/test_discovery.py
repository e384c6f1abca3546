"""NGSI-LD discovery over HTTP: /types, /types/{type}, /attributes, /attributes/{attr}."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient

from ngsi import BASE, CORE, headers, problem, prop, rel, streetlight

SDM = "https://smartdatamodels.org/context.jsonld"
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"


def seed(client: TestClient) -> None:
    entities = [
        streetlight(1, lux=prop(5)),
        streetlight(2, refDevice=rel("urn:ngsi-ld:Device:1")),
        {"id": "urn:ngsi-ld:Device:1", "type": "Device", "lux": prop(7)},
    ]
    response = client.post(f"{BASE}/entityOperations/create", json=entities)
    assert response.status_code == 201, response.text


def test_types_lists_the_entity_types_in_use(client: TestClient) -> None:
    seed(client)
    response = client.get(f"{BASE}/types")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "EntityTypeList" and body["id"].startswith("urn:ngsi-ld:EntityTypeList:")
    assert sorted(body["typeList"]) == ["Device", "Streetlight"]
    slash = client.get(f"{BASE}/types/", params={"details": "false"})  # redirected to /types
    assert slash.status_code == 200 and slash.json()["typeList"] == body["typeList"]
    detailed = client.get(f"{BASE}/types", params={"details": "true"}).json()
    by_name = {t["typeName"]: t for t in detailed}
    assert by_name["Streetlight"] == {
        "id": VOCAB + "Streetlight",
        "type": "EntityType",
        "typeName": "Streetlight",
        "attributeNames": ["location", "lux", "refDevice", "status"],
    }
    assert by_name["Device"]["attributeNames"] == ["lux"]


def test_one_type_gives_its_entity_count_and_attribute_kinds(client: TestClient) -> None:
    seed(client)
    body = client.get(f"{BASE}/types/Streetlight").json()
    assert body["type"] == "EntityTypeInfo" and body["entityCount"] == 2
    kinds = {a["attributeName"]: a["attributeTypes"] for a in body["attributeDetails"]}
    assert kinds == {
        "location": ["GeoProperty"],
        "lux": ["Property"],
        "refDevice": ["Relationship"],
        "status": ["Property"],
    }
    # The expanded type name works too (URL-encoded: it holds '/' and '#' characters).
    expanded = client.get(f"{BASE}/types/{quote(VOCAB + 'Streetlight', safe='')}")
    assert expanded.status_code == 200 and expanded.json()["entityCount"] == 2
    problem(client.get(f"{BASE}/types/Bridge"), 404, "ResourceNotFound")


def test_attributes_list_and_details(client: TestClient) -> None:
    seed(client)
    body = client.get(f"{BASE}/attributes").json()
    assert body["type"] == "AttributeList"
    assert sorted(body["attributeList"]) == ["location", "lux", "refDevice", "status"]
    detailed = client.get(f"{BASE}/attributes", params={"details": "true"}).json()
    lux = next(a for a in detailed if a["attributeName"] == "lux")
    assert lux == {
        "id": VOCAB + "lux",
        "type": "Attribute",
        "attributeName": "lux",
        "typeNames": ["Device", "Streetlight"],
    }
    one = client.get(f"{BASE}/attributes/lux").json()
    assert one == {
        "id": VOCAB + "lux",
        "type": "Attribute",
        "attributeName": "lux",
        "attributeCount": 2,
        "attributeTypes": ["Property"],
        "typeNames": ["Device", "Streetlight"],
    }
    expanded = client.get(f"{BASE}/attributes/{quote(VOCAB + 'lux', safe='')}")
    assert expanded.json()["attributeCount"] == 2
    problem(client.get(f"{BASE}/attributes/height"), 404, "ResourceNotFound")


def test_discovery_compacts_with_the_request_context(client: TestClient) -> None:
    light = streetlight(1, powerState=prop("on"))
    assert client.post(f"{BASE}/entities", json=light, headers=headers(context=SDM)).status_code
    with_sdm = client.get(f"{BASE}/attributes", headers=headers(context=SDM)).json()
    assert "powerState" in with_sdm["attributeList"]
    bare = client.get(f"{BASE}/attributes").json()
    power_state = "https://smartdatamodels.org/dataModel.Streetlighting/powerState"
    assert power_state in bare["attributeList"]
    as_ld = client.get(
        f"{BASE}/types/Streetlight",
        headers={**headers(context=SDM), "Accept": "application/ld+json"},
    )
    assert as_ld.headers["content-type"] == "application/ld+json"
    assert as_ld.json()["@context"] == [SDM, CORE]


def test_discovery_of_an_empty_tenant_and_bad_parameters(client: TestClient) -> None:
    assert client.get(f"{BASE}/types").json()["typeList"] == []
    assert client.get(f"{BASE}/attributes", params={"details": "true"}).json() == []
    problem(client.get(f"{BASE}/types", params={"details": "perhaps"}), 400, "BadRequestData")
    problem(client.get(f"{BASE}/attributes", params={"limit": "5"}), 400, "InvalidRequest")
    response = client.get(f"{BASE}/types", headers={"Accept": "application/geo+json"})
    assert response.status_code == 406
