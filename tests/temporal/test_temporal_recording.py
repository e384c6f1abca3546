"""Every change of an attribute instance is recorded, whatever operation made it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from temporal_support import (
    SENSOR,
    at,
    create,
    h,
    history,
    observe,
    sensor,
    values,
)

from ngsi import BASE, headers, point, prop, rel


def test_create_then_updates_give_one_instance_per_observation(client: TestClient) -> None:
    observe(client, [10.0, 12.5, 11.0])
    assert values(client) == [
        [10.0, "2026-03-01T00:00:00Z"],
        [12.5, "2026-03-01T01:00:00Z"],
        [11.0, "2026-03-01T02:00:00Z"],
    ]


def test_normalized_instances_carry_their_members_and_an_instance_id(client: TestClient) -> None:
    create(
        client,
        sensor(
            pm25=prop(7, observedAt=at(3), unitCode="GQ"),
            refDevice=rel("urn:ngsi-ld:Device:9", observedAt=at(3)),
        ),
    )
    body = history(client)
    assert body["id"] == SENSOR and body["type"] == "AirQualityObserved"
    [pm25] = body["pm25"]
    assert pm25["type"] == "Property" and pm25["value"] == 7 and pm25["unitCode"] == "GQ"
    assert pm25["observedAt"] == "2026-03-01T03:00:00Z"
    assert pm25["instanceId"].startswith("urn:ngsi-ld:attribute:instance:")
    [device] = body["refDevice"]
    assert device["type"] == "Relationship" and device["object"] == "urn:ngsi-ld:Device:9"


def test_an_instance_without_observed_at_is_recorded_at_its_modification_time(
    client: TestClient,
) -> None:
    create(client, sensor(name=prop("station one")))
    current = client.get(
        f"{BASE}/entities/{SENSOR}", params={"options": "sysAttrs"}, headers=h()
    ).json()
    [[value, when]] = values(client, "name")
    assert value == "station one"
    assert when == current["name"]["modifiedAt"]
    assert "observedAt" not in history(client)["name"][0]


def test_replace_merge_append_and_partial_update_are_all_recorded(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0))))
    replaced = sensor(pm25=prop(2, observedAt=at(1)), no2=prop(20, observedAt=at(1)))
    assert client.put(f"{BASE}/entities/{SENSOR}", json=replaced, headers=h()).status_code == 204
    merged = {"pm25": prop(3, observedAt=at(2))}
    assert client.patch(f"{BASE}/entities/{SENSOR}", json=merged, headers=h()).status_code == 204
    appended = {"no2": prop(21, observedAt=at(3))}
    response = client.post(f"{BASE}/entities/{SENSOR}/attrs", json=appended, headers=h())
    assert response.status_code == 204
    partial = {"value": 4, "observedAt": at(4)}
    response = client.patch(f"{BASE}/entities/{SENSOR}/attrs/pm25", json=partial, headers=h())
    assert response.status_code == 204
    assert [v for v, _ in values(client)] == [1, 2, 3, 4]
    assert [v for v, _ in values(client, "no2")] == [20, 21]


def test_only_the_instances_a_write_touches_are_recorded(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0)), no2=prop(5, observedAt=at(0))))
    client.patch(
        f"{BASE}/entities/{SENSOR}/attrs", json={"pm25": prop(2, observedAt=at(1))}, headers=h()
    )
    assert len(values(client, "no2")) == 1
    assert len(values(client, "pm25")) == 2


def test_batch_operations_are_recorded(client: TestClient) -> None:
    ids = [f"urn:ngsi-ld:AirQualityObserved:astana:{n}" for n in (1, 2)]
    batch = [sensor(i, pm25=prop(10 + n, observedAt=at(0))) for n, i in enumerate(ids)]
    response = client.post(f"{BASE}/entityOperations/create", json=batch, headers=h())
    assert response.status_code == 201, response.text
    upsert = [sensor(i, pm25=prop(20 + n, observedAt=at(1))) for n, i in enumerate(ids)]
    response = client.post(f"{BASE}/entityOperations/upsert", json=upsert, headers=h())
    assert response.status_code == 204, response.text
    update = [{"id": i, "pm25": prop(30 + n, observedAt=at(2))} for n, i in enumerate(ids)]
    response = client.post(f"{BASE}/entityOperations/update", json=update, headers=h())
    assert response.status_code == 204, response.text
    merge = [{"id": i, "pm25": prop(40 + n, observedAt=at(3))} for n, i in enumerate(ids)]
    response = client.post(f"{BASE}/entityOperations/merge", json=merge, headers=h())
    assert response.status_code == 204, response.text
    assert [v for v, _ in values(client, entity_id=ids[0])] == [10, 20, 30, 40]
    assert [v for v, _ in values(client, entity_id=ids[1])] == [11, 21, 31, 41]
    response = client.post(f"{BASE}/entityOperations/delete", json=ids, headers=h())
    assert response.status_code == 204, response.text
    for entity_id in ids:
        body = history(client, entity_id)
        assert "deletedAt" in body
        assert body["pm25"][-1]["value"] == "urn:ngsi-ld:null"


def test_attribute_deletion_is_an_instance_with_deleted_at(client: TestClient) -> None:
    observe(client, [1.0, 2.0])
    assert client.delete(f"{BASE}/entities/{SENSOR}/attrs/pm25", headers=h()).status_code == 204
    instances = history(client)["pm25"]
    assert [i["value"] for i in instances] == [1.0, 2.0, "urn:ngsi-ld:null"]
    deleted = instances[-1]
    assert "deletedAt" in deleted and "observedAt" not in deleted
    assert deleted["deletedAt"] >= "2026-03-01"


def test_a_null_merge_records_a_deletion(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0)), no2=prop(5, observedAt=at(0))))
    fragment = {"no2": "urn:ngsi-ld:null"}
    assert client.patch(f"{BASE}/entities/{SENSOR}", json=fragment, headers=h()).status_code == 204
    assert [i["value"] for i in history(client)["no2"]] == [5, "urn:ngsi-ld:null"]


def test_entity_deletion_keeps_the_history_with_deleted_at(client: TestClient) -> None:
    observe(client, [1.0, 2.0])
    assert client.delete(f"{BASE}/entities/{SENSOR}", headers=h()).status_code == 204
    body = history(client)
    assert body["deletedAt"] >= "2026-03-01"
    assert [i["value"] for i in body["pm25"]] == [1.0, 2.0, "urn:ngsi-ld:null"]


def test_recreated_entity_continues_its_history(client: TestClient) -> None:
    observe(client, [1.0])
    client.delete(f"{BASE}/entities/{SENSOR}", headers=h())
    create(client, sensor(pm25=prop(9, observedAt=at(5))))
    body = history(client)
    assert "deletedAt" not in body
    # In time order: the new value was observed in March, the deletion happened today.
    assert [i["value"] for i in body["pm25"]] == [1.0, 9, "urn:ngsi-ld:null"]


def test_multi_attributes_keep_one_history_per_dataset_id(client: TestClient) -> None:
    create(
        client,
        sensor(
            pm25=[
                prop(1, observedAt=at(0), datasetId="urn:ngsi-ld:Dataset:a"),
                prop(2, observedAt=at(0), datasetId="urn:ngsi-ld:Dataset:b"),
            ]
        ),
    )
    fragment = {"pm25": prop(3, observedAt=at(1), datasetId="urn:ngsi-ld:Dataset:a")}
    client.patch(f"{BASE}/entities/{SENSOR}/attrs", json=fragment, headers=h())
    instances = history(client)["pm25"]
    by_dataset = {}
    for instance in instances:
        by_dataset.setdefault(instance["datasetId"], []).append(instance["value"])
    assert by_dataset == {"urn:ngsi-ld:Dataset:a": [1, 3], "urn:ngsi-ld:Dataset:b": [2]}
    simplified = history(client, options="temporalValues")["pm25"]
    assert {part["datasetId"]: len(part["values"]) for part in simplified} == {
        "urn:ngsi-ld:Dataset:a": 2,
        "urn:ngsi-ld:Dataset:b": 1,
    }


def test_geo_and_language_properties_are_recorded_with_their_kind(client: TestClient) -> None:
    create(
        client,
        sensor(
            location=point(71.4, 51.1),
            name={"type": "LanguageProperty", "languageMap": {"kk": "Бекет", "en": "Station"}},
        ),
    )
    simplified = history(client, options="temporalValues")
    assert simplified["location"]["type"] == "GeoProperty"
    assert simplified["location"]["values"][0][0] == {"type": "Point", "coordinates": [71.4, 51.1]}
    assert simplified["name"]["type"] == "LanguageProperty"
    # wrapped in its member, as ETSI's TP 020_12_02 has it (so are json and vocab values)
    assert simplified["name"]["languageMaps"][0][0] == {
        "languageMap": {"kk": "Бекет", "en": "Station"}
    }


def test_sub_attributes_are_part_of_the_recorded_instance(client: TestClient) -> None:
    create(
        client,
        sensor(pm25=prop(5, observedAt=at(0), accuracy=prop(0.5), providedBy=rel("urn:x:1"))),
    )
    [instance] = history(client)["pm25"]
    assert instance["accuracy"] == {"type": "Property", "value": 0.5}
    assert instance["providedBy"] == {"type": "Relationship", "object": "urn:x:1"}


def test_history_is_per_tenant(client: TestClient) -> None:
    observe(client, [1.0, 2.0])
    create(client, sensor(pm25=prop(99, observedAt=at(0))), tenant="almaty")
    assert [v for v, _ in values(client)] == [1.0, 2.0]
    other = client.get(
        f"{BASE}/temporal/entities/{SENSOR}",
        params={"options": "temporalValues"},
        headers=headers("almaty"),
    ).json()
    assert [v for v, _ in other["pm25"]["values"]] == [99]
    missing = client.get(f"{BASE}/temporal/entities/{SENSOR}", headers=headers("karaganda"))
    assert missing.status_code == 404


def test_the_tenant_header_addresses_the_default_tenant_when_absent(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=sensor(pm25=prop(3, observedAt=at(0))))
    response = client.get(f"{BASE}/temporal/entities/{SENSOR}")
    assert response.status_code == 200
    assert response.json()["pm25"][0]["value"] == 3
    assert client.get(f"{BASE}/temporal/entities/{SENSOR}", headers=h()).status_code == 404
