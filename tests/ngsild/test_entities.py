"""NGSI-LD entity operations over HTTP: create, retrieve, replace, merge, delete, attributes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ngsi import BASE, CORE, SDM, headers, link, point, problem, prop, rel, streetlight


def create(client: TestClient, entity: dict, **kw: str) -> None:
    response = client.post(f"{BASE}/entities", json=entity, headers=headers(**kw))
    assert response.status_code == 201, response.text


# -- create ----------------------------------------------------------------------------------


def test_create_answers_201_with_the_location_of_the_new_entity(client: TestClient) -> None:
    response = client.post(f"{BASE}/entities", json=streetlight(1))
    assert response.status_code == 201
    assert response.headers["location"] == f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    assert response.content == b""


def test_creating_an_existing_entity_is_409_already_exists(client: TestClient) -> None:
    create(client, streetlight(1))
    problem(client.post(f"{BASE}/entities", json=streetlight(1)), 409, "AlreadyExists")


def test_ld_json_bodies_carry_their_context(client: TestClient) -> None:
    body = {**streetlight(1, powerState=prop("on")), "@context": [SDM, CORE]}
    response = client.post(
        f"{BASE}/entities", json=body, headers={"Content-Type": "application/ld+json"}
    )
    assert response.status_code == 201, response.text
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers=headers(context=SDM))
    assert got.json()["powerState"] == {"type": "Property", "value": "on"}
    # Without the context, the attribute shows under its expanded name.
    bare = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
    assert bare["https://smartdatamodels.org/dataModel.Streetlighting/powerState"]["value"] == "on"


def test_concise_input_is_accepted(client: TestClient) -> None:
    body = {
        "id": "urn:ngsi-ld:WasteContainer:1",
        "type": "WasteContainer",
        "fillingLevel": 0.4,
        "status": {"value": "ok", "observedAt": "2026-01-15T09:00:00Z"},
        "refDevice": {"object": "urn:ngsi-ld:Device:7"},
        "location": {"type": "Point", "coordinates": [76.9, 43.2]},
        "name": {"languageMap": {"ru": "Контейнер", "kk": "Контейнер", "en": "Bin"}},
    }
    create(client, body)
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:WasteContainer:1").json()
    assert got["fillingLevel"] == {"type": "Property", "value": 0.4}
    assert got["status"]["observedAt"] == "2026-01-15T09:00:00Z"
    assert got["refDevice"] == {"type": "Relationship", "object": "urn:ngsi-ld:Device:7"}
    assert got["location"]["type"] == "GeoProperty"
    assert got["name"]["type"] == "LanguageProperty"


# -- retrieve --------------------------------------------------------------------------------


def test_retrieve_returns_the_normalized_entity_with_the_context_link(client: TestClient) -> None:
    create(client, streetlight(1, powerState=prop("on", unitCode="C62")))
    response = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["link"] == link(CORE)
    assert response.json() == {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "status": {"type": "Property", "value": "ok"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [71.4491, 51.1694]},
        },
        "powerState": {"type": "Property", "value": "on", "unitCode": "C62"},
    }


def test_retrieve_as_ld_json_puts_the_context_in_the_body(client: TestClient) -> None:
    create(client, streetlight(1), context=SDM)
    response = client.get(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1",
        headers={**headers(context=SDM), "Accept": "application/ld+json"},
    )
    assert response.headers["content-type"] == "application/ld+json"
    assert "link" not in response.headers
    assert response.json()["@context"] == [SDM, CORE]


def test_key_values_and_concise_formats(client: TestClient) -> None:
    create(
        client,
        streetlight(
            1,
            refGroup=rel("urn:ngsi-ld:StreetlightGroup:9"),
            lux=prop(12.5, observedAt="2026-01-15T09:00:00Z"),
        ),
    )
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    simple = client.get(url, params={"options": "keyValues"}).json()
    assert simple == {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "status": "ok",
        "location": {"type": "Point", "coordinates": [71.4491, 51.1694]},
        "refGroup": "urn:ngsi-ld:StreetlightGroup:9",
        "lux": 12.5,
    }
    assert client.get(url, params={"format": "simplified"}).json() == simple
    concise = client.get(url, params={"options": "concise"}).json()
    assert concise["status"] == "ok"
    assert concise["refGroup"] == {"object": "urn:ngsi-ld:StreetlightGroup:9"}
    assert concise["lux"] == {"value": 12.5, "observedAt": "2026-01-15T09:00:00Z"}
    assert concise["location"] == {"type": "Point", "coordinates": [71.4491, 51.1694]}


def test_sys_attrs_adds_creation_and_modification_times(client: TestClient) -> None:
    create(client, streetlight(1))
    body = client.get(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", params={"options": "sysAttrs"}
    ).json()
    assert body["createdAt"].endswith("Z") and body["modifiedAt"] >= body["createdAt"]
    assert body["status"]["createdAt"] == body["createdAt"]


def test_sys_attrs_gives_the_entity_times_in_the_simplified_form_too(client: TestClient) -> None:
    create(client, streetlight(1))
    body = client.get(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", params={"options": "keyValues,sysAttrs"}
    ).json()
    assert body["createdAt"].endswith("Z") and body["modifiedAt"] >= body["createdAt"]
    assert body["status"] == "ok"


def test_attrs_pick_and_omit_project_the_entity(client: TestClient) -> None:
    create(client, streetlight(1, powerState=prop("on")))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    assert set(client.get(url, params={"attrs": "status"}).json()) == {"id", "type", "status"}
    assert set(client.get(url, params={"pick": "id,powerState"}).json()) == {"id", "powerState"}
    assert set(client.get(url, params={"omit": "location,type"}).json()) == {
        "id",
        "status",
        "powerState",
    }


def test_language_properties_and_lang(client: TestClient) -> None:
    name = {
        "type": "LanguageProperty",
        "languageMap": {"ru": "Фонарь", "kk": "Шам", "en": "Streetlight"},
    }
    create(client, streetlight(1, name=name))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    kk = client.get(url, params={"lang": "kk"}).json()["name"]
    assert kk == {"type": "Property", "value": "Шам", "lang": "kk"}
    assert client.get(url, params={"lang": "kk", "options": "keyValues"}).json()["name"] == "Шам"
    # lang=* accepts any language: one of them is given, as a Property with its tag (4.15).
    anything = client.get(url, params={"lang": "*"}).json()["name"]
    assert anything["type"] == "Property" and anything["lang"] in name["languageMap"]
    assert anything["value"] == name["languageMap"][anything["lang"]]
    # Weights rank the languages, as in Accept-Language.
    ranked = client.get(url, params={"lang": "ru;q=0.5,en;q=0.9"}).json()["name"]
    assert ranked["lang"] == "en"
    # Without lang the LanguageProperty is whole.
    assert client.get(url).json()["name"] == name


def test_geojson_representation(client: TestClient) -> None:
    create(client, streetlight(1))
    response = client.get(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers={"Accept": "application/geo+json"}
    )
    assert response.headers["content-type"] == "application/geo+json"
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["id"] == "urn:ngsi-ld:Streetlight:1"
    assert feature["geometry"] == {"type": "Point", "coordinates": [71.4491, 51.1694]}
    assert feature["properties"]["status"]["value"] == "ok"


def test_unknown_entity_is_404_resource_not_found(client: TestClient) -> None:
    problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:404"), 404, "ResourceNotFound")


def test_unsupported_accept_is_406(client: TestClient) -> None:
    create(client, streetlight(1))
    response = client.get(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers={"Accept": "text/html"}
    )
    assert response.status_code == 406


# -- replace, merge, delete --------------------------------------------------------------------


def test_put_replaces_the_whole_entity(client: TestClient) -> None:
    create(client, streetlight(1, powerState=prop("on")))
    response = client.put(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1",
        json={"type": "Streetlight", "status": prop("broken")},
    )
    assert response.status_code == 204, response.text
    body = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
    assert body == {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "status": {"type": "Property", "value": "broken"},
    }


def test_patch_merges_and_the_null_marker_deletes(client: TestClient) -> None:
    create(
        client, streetlight(1, powerState=prop("on", unitCode="C62", note=prop("installed 2021")))
    )
    response = client.patch(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1",
        json={
            "powerState": {"value": "off", "note": {"value": "urn:ngsi-ld:null"}},
            "status": "urn:ngsi-ld:null",
            "lux": prop(3),
        },
    )
    assert response.status_code == 204, response.text
    body = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
    assert body["powerState"] == {"type": "Property", "value": "off", "unitCode": "C62"}
    assert "status" not in body
    assert body["lux"] == {"type": "Property", "value": 3}


def test_merge_patch_content_type_is_accepted(client: TestClient) -> None:
    create(client, streetlight(1))
    response = client.patch(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1",
        content=b'{"status": {"value": "dimmed"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 204, response.text


def test_delete_removes_the_entity(client: TestClient) -> None:
    create(client, streetlight(1))
    assert client.delete(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").status_code == 204
    problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"), 404, "ResourceNotFound")
    problem(client.delete(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"), 404, "ResourceNotFound")


# -- attributes --------------------------------------------------------------------------------


def test_append_adds_and_overwrites_unless_no_overwrite(client: TestClient) -> None:
    create(client, streetlight(1))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs"
    assert client.post(url, json={"lux": prop(5), "status": prop("dimmed")}).status_code == 204
    response = client.post(
        url, params={"options": "noOverwrite"}, json={"status": prop("off"), "mode": prop("auto")}
    )
    assert response.status_code == 207
    assert response.json() == {
        "updated": ["mode"],
        "notUpdated": [
            {"attributeName": "status", "reason": "attribute exists and noOverwrite is set"}
        ],
    }
    body = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
    assert body["status"]["value"] == "dimmed" and body["lux"]["value"] == 5


def test_update_attrs_updates_existing_and_appends_missing_attributes(client: TestClient) -> None:
    # GS CIM 009 5.6.2 as ETSI's TPs read it (011_01_03, 046_23…046_30, 046_41_01)
    create(client, streetlight(1))
    response = client.patch(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs",
        json={"status": prop("broken"), "missing": prop(1)},
    )
    assert response.status_code == 204, response.text
    body = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
    assert body["status"]["value"] == "broken" and body["missing"]["value"] == 1
    # deleting (null) what is not there is still reported
    response = client.patch(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs",
        json={"status": prop("ok"), "absent": prop("urn:ngsi-ld:null")},
    )
    assert response.status_code == 207
    assert response.json()["notUpdated"][0]["attributeName"] == "absent"
    # one attribute by name (…/attrs/{attrId}) must exist
    problem(
        client.patch(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs/nothere", json=prop(2)),
        404,
        "ResourceNotFound",
    )


def test_partial_attribute_update_keeps_other_members(client: TestClient) -> None:
    create(client, streetlight(1, lux=prop(5, unitCode="LUX")))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs/lux"
    assert client.patch(url, json={"value": 9}).status_code == 204
    body = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1").json()
    assert body["lux"] == {"type": "Property", "value": 9, "unitCode": "LUX"}
    problem(
        client.patch(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs/nope", json={"value": 1}),
        404,
        "ResourceNotFound",
    )


def test_multi_attributes_by_dataset_id(client: TestClient) -> None:
    speeds = [
        prop(50, datasetId="urn:ngsi-ld:Dataset:radar"),
        prop(48),
    ]
    create(
        client,
        {"id": "urn:ngsi-ld:TrafficFlowObserved:1", "type": "TrafficFlowObserved", "speed": speeds},
    )
    url = f"{BASE}/entities/urn:ngsi-ld:TrafficFlowObserved:1"
    assert len(client.get(url).json()["speed"]) == 2
    response = client.delete(
        f"{url}/attrs/speed", params={"datasetId": "urn:ngsi-ld:Dataset:radar"}
    )
    assert response.status_code == 204
    assert client.get(url).json()["speed"] == {"type": "Property", "value": 48}
    assert client.delete(f"{url}/attrs/speed", params={"deleteAll": "true"}).status_code == 204
    assert "speed" not in client.get(url).json()


def test_delete_attribute(client: TestClient) -> None:
    create(client, streetlight(1))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1/attrs/status"
    assert client.delete(url).status_code == 204
    problem(client.delete(url), 404, "ResourceNotFound")


def test_relationship_and_geo_property_kinds_are_kept(client: TestClient) -> None:
    create(
        client,
        {
            "id": "urn:ngsi-ld:ParkingSpot:1",
            "type": "ParkingSpot",
            "refParkingSite": rel("urn:ngsi-ld:OffStreetParking:1"),
            "location": point(76.9, 43.2),
            "extra": {"type": "JsonProperty", "json": {"any": ["json", 1]}},
            "kind": {"type": "VocabProperty", "vocab": "disabled"},
            "sizes": {"type": "ListProperty", "valueList": [1, 2, 3]},
        },
    )
    body = client.get(f"{BASE}/entities/urn:ngsi-ld:ParkingSpot:1").json()
    assert body["extra"] == {"type": "JsonProperty", "json": {"any": ["json", 1]}}
    assert body["kind"] == {"type": "VocabProperty", "vocab": "disabled"}
    assert body["sizes"] == {"type": "ListProperty", "valueList": [1, 2, 3]}
    simple = client.get(
        f"{BASE}/entities/urn:ngsi-ld:ParkingSpot:1", params={"options": "keyValues"}
    ).json()
    assert simple["refParkingSite"] == "urn:ngsi-ld:OffStreetParking:1"
