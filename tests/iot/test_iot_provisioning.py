"""Provisioning in the FIWARE IoT Agent shape: service groups and devices, per tenant."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from iot_support import BASE, TENANT, H, device, entity, provision, thermometer_group, unique_key

SDM = "https://smartdatamodels.org/context.jsonld"
SDM_PM10 = "https://smartdatamodels.org/dataModel.Environment/pm10"


def iot_error(response: Any, status: int, name: str) -> str:
    """Assert an IoT Agent error ``{"name", "message"}``; return the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["name"] == name, body
    assert isinstance(body["message"], str) and body["message"], body
    return str(body["message"])


# -- service groups ----------------------------------------------------------------------------


def test_a_service_group_is_listed_in_its_tenant_only(client: TestClient) -> None:
    key = unique_key()
    response = client.post("/iot/services", json={"services": [thermometer_group(key)]}, headers=H)
    assert response.status_code == 201, response.text
    listed = client.get("/iot/services", headers=H).json()
    assert listed["count"] == 1
    group = listed["services"][0]
    assert group["apikey"] == key
    assert group["entity_type"] == "Thermometer"
    assert group["resource"] == "/iot/json"
    assert group["service"] == TENANT
    assert [a["object_id"] for a in group["attributes"]] == ["t", "h", "s"]
    assert group["unknown_devices"] == 0
    other = client.get("/iot/services", headers={"NGSILD-Tenant": "almaty"}).json()
    assert other == {"count": 0, "services": []}


def test_fiware_service_names_the_tenant_like_ngsild_tenant(client: TestClient) -> None:
    key = unique_key()
    response = client.post(
        "/iot/services",
        json={"services": [thermometer_group(key)]},
        headers={"fiware-service": TENANT, "fiware-servicepath": "/"},
    )
    assert response.status_code == 201, response.text
    assert client.get("/iot/services", headers=H).json()["count"] == 1
    clash = client.get("/iot/services", headers={**H, "fiware-service": "almaty"})
    assert "different tenants" in iot_error(clash, 400, "BAD_REQUEST")


def test_an_apikey_is_unique_across_tenants(client: TestClient) -> None:
    key = unique_key()
    body = {"services": [thermometer_group(key)]}
    assert client.post("/iot/services", json=body, headers=H).status_code == 201
    iot_error(client.post("/iot/services", json=body, headers=H), 409, "DUPLICATE_GROUP")
    other = client.post("/iot/services", json=body, headers={"NGSILD-Tenant": "almaty"})
    iot_error(other, 409, "DUPLICATE_GROUP")


INVALID_GROUPS: list[tuple[dict[str, Any], str]] = [
    ({"service": []}, '"services"'),
    ({"services": []}, '"services"'),
    ({"services": [{"entity_type": "Thing"}]}, "apikey"),
    ({"services": [{"apikey": "a/b"}]}, "MQTT topics"),
    ({"services": [{"apikey": "k", "entitytype": "Thing"}]}, "unknown field"),
    ({"services": [{"apikey": "k", "attributes": [{"object_id": "t"}]}]}, "name"),
    (
        {"services": [{"apikey": "k", "attributes": [{"name": "t", "type": "Numbr"}]}]},
        "unsupported type 'Numbr'",
    ),
    (
        {
            "services": [
                {"apikey": "k", "attributes": [{"name": "a"}, {"object_id": "a", "name": "b"}]}
            ]
        },
        "mapped twice",
    ),
    (
        {"services": [{"apikey": "k", "static_attributes": [{"name": "n", "type": "Number"}]}]},
        "needs a value",
    ),
    (
        {
            "services": [
                {
                    "apikey": "k",
                    "static_attributes": [{"name": "n", "type": "Number", "value": "x"}],
                }
            ]
        },
        "mapped as Number",
    ),
    ({"services": [{"apikey": "k", "timezone": "Mars/Olympus"}]}, "time zone"),
    ({"services": [{"apikey": "k", "strict": "yes"}]}, "strict"),
]


def test_invalid_service_groups_are_400_and_nothing_is_created(client: TestClient) -> None:
    for body, fragment in INVALID_GROUPS:
        response = client.post("/iot/services", json=body, headers=H)
        message = iot_error(response, 400, "BAD_REQUEST")
        assert fragment in message, (body, message)
    assert client.get("/iot/services", headers=H).json()["count"] == 0


def test_a_body_that_is_not_json_is_an_iot_agent_error(client: TestClient) -> None:
    response = client.post(
        "/iot/services", content=b"{", headers={**H, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"name", "message"}


def test_updating_a_service_group(client: TestClient) -> None:
    key = unique_key()
    client.post("/iot/services", json={"services": [thermometer_group(key)]}, headers=H)
    response = client.put(
        f"/iot/services?apikey={key}", json={"entity_type": "Hygrometer", "strict": True}, headers=H
    )
    assert response.status_code == 204, response.text
    group = client.get("/iot/services", headers=H).json()["services"][0]
    assert (group["entity_type"], group["strict"]) == ("Hygrometer", True)
    assert [a["name"] for a in group["attributes"]] == ["temperature", "relativeHumidity", "status"]
    rekey = client.put(f"/iot/services?apikey={key}", json={"apikey": "other"}, headers=H)
    iot_error(rekey, 400, "BAD_REQUEST")
    iot_error(client.put("/iot/services", json={}, headers=H), 400, "MISSING_PARAMETERS")
    missing = client.put("/iot/services?apikey=nope", json={}, headers=H)
    iot_error(missing, 404, "GROUP_NOT_FOUND")
    elsewhere = client.put(
        f"/iot/services?apikey={key}", json={}, headers={"NGSILD-Tenant": "almaty"}
    )
    iot_error(elsewhere, 404, "GROUP_NOT_FOUND")


def test_deleting_a_service_group_keeps_or_deletes_its_devices(client: TestClient) -> None:
    first, second = unique_key(), unique_key()
    provision(client, first, [{"device_id": "keep1", "apikey": first}])
    provision(client, second, [{"device_id": "gone1", "apikey": second}])
    assert client.delete(f"/iot/services?apikey={first}", headers=H).status_code == 204
    assert client.delete(f"/iot/services?apikey={second}&device=true", headers=H).status_code == 204
    assert client.get("/iot/services", headers=H).json()["count"] == 0
    assert client.get("/iot/devices/keep1", headers=H).status_code == 200
    iot_error(client.get("/iot/devices/gone1", headers=H), 404, "DEVICE_NOT_FOUND")
    iot_error(client.delete(f"/iot/services?apikey={first}", headers=H), 404, "GROUP_NOT_FOUND")


# -- devices -----------------------------------------------------------------------------------


def test_provisioning_a_device_creates_its_entity(client: TestClient) -> None:
    key = unique_key()
    provision(
        client,
        key,
        [
            {
                "device_id": "th001",
                "static_attributes": [
                    {"name": "location", "type": "geo:point", "value": "51.128, 71.430"},
                    {"name": "refRoom", "type": "Relationship", "value": "urn:ngsi-ld:Room:1"},
                ],
            }
        ],
        static_attributes=[{"name": "category", "type": "Text", "value": "indoor"}],
    )
    assert entity(client, "urn:ngsi-ld:Thermometer:th001") == {
        "id": "urn:ngsi-ld:Thermometer:th001",
        "type": "Thermometer",
        "category": {"type": "Property", "value": "indoor"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [71.43, 51.128]},
        },
        "refRoom": {"type": "Relationship", "object": "urn:ngsi-ld:Room:1"},
    }
    found = device(client, "th001")
    assert found["entity_name"] == "urn:ngsi-ld:Thermometer:th001"
    assert found["entity_type"] == "Thermometer"
    assert found["apikey"] == key
    assert found["stats"] == {"messages": 0, "measures": 0, "last_measure_at": None}
    assert found["errors"] == {"total": 0, "counts": {}, "last": None}


def test_names_are_expanded_with_the_groups_context(client: TestClient) -> None:
    key = unique_key()
    group = {
        "apikey": key,
        "entity_type": "AirQualityObserved",
        "@context": SDM,
        "attributes": [{"object_id": "p", "name": "pm25", "type": "Number"}],
    }
    assert client.post("/iot/services", json={"services": [group]}, headers=H).status_code == 201
    body = {
        "devices": [
            {
                "device_id": "aq1",
                "entity_name": "urn:ngsi-ld:AirQualityObserved:x1",
                "static_attributes": [{"name": "pm10", "type": "Number", "value": 3.5}],
            }
        ]
    }
    assert client.post("/iot/devices", json=body, headers=H).status_code == 201
    assert entity(client, "urn:ngsi-ld:AirQualityObserved:x1")[SDM_PM10]["value"] == 3.5
    sdm_link = f'<{SDM}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    compact = client.get(
        f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:x1", headers={**H, "Link": sdm_link}
    )
    assert compact.json()["pm10"]["value"] == 3.5
    unknown = {**group, "apikey": unique_key(), "@context": "http://127.0.0.1:9/nowhere.jsonld"}
    response = client.post("/iot/services", json={"services": [unknown]}, headers=H)
    assert response.status_code == 400, response.text


def test_devices_are_listed_with_paging(client: TestClient) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": f"d{n}"} for n in range(5)])
    page = client.get("/iot/devices?limit=2&offset=1", headers=H).json()
    assert page["count"] == 5
    assert [d["device_id"] for d in page["devices"]] == ["d1", "d2"]
    bad = client.get("/iot/devices?limit=0", headers=H)
    iot_error(bad, 400, "BAD_REQUEST")
    for listing in ("/iot/devices", "/iot/services"):  # an offset past any store's integers
        for offset in ("1000000001", str(2**64)):
            iot_error(client.get(f"{listing}?offset={offset}", headers=H), 400, "BAD_REQUEST")


def test_a_device_id_is_unique_in_its_tenant(client: TestClient) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "dup"}])
    again = client.post("/iot/devices", json={"devices": [{"device_id": "dup"}]}, headers=H)
    assert "dup" in iot_error(again, 409, "DUPLICATE_DEVICE_ID")
    twice = client.post(
        "/iot/devices", json={"devices": [{"device_id": "x"}, {"device_id": "x"}]}, headers=H
    )
    iot_error(twice, 400, "BAD_REQUEST")


def test_provisioning_several_devices_is_all_or_nothing(client: TestClient) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "first"}])
    client.post(
        f"{BASE}/entities",
        json={"id": "urn:ngsi-ld:Lamp:9", "type": "Lamp"},
        headers=H,
    )
    body = {
        "devices": [
            {"device_id": "ok1"},
            {"device_id": "clash", "entity_name": "urn:ngsi-ld:Lamp:9"},
        ]
    }
    response = client.post("/iot/devices", json=body, headers=H)
    assert "another type" in iot_error(response, 409, "CONFLICT")
    assert [d["device_id"] for d in client.get("/iot/devices", headers=H).json()["devices"]] == [
        "first"
    ]
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:Thermometer:ok1", headers=H).status_code == 404


INVALID_DEVICES: list[tuple[dict[str, Any], str]] = [
    ({"device_id": "a b"}, "device_id"),
    ({"device_id": "d", "entity_name": "Room1"}, "must be a URI"),
    ({"device_id": "d", "attributes": [{"object_id": "t", "name": "bad name"}]}, "name"),
    ({"device_id": "d", "attributes": [{"name": "location", "type": "Number"}]}, "geo"),
    ({"device_id": "d", "attributes": [{"name": "t", "expression": "${@t*2}"}]}, "expression"),
    ({"device_id": "d", "attributes": [{"name": "t", "metadata": {"accuracy": 1}}]}, "unitCode"),
]


def test_invalid_devices_are_400(client: TestClient) -> None:
    provision(client, unique_key(), [{"device_id": "seed"}])
    for doc, fragment in INVALID_DEVICES:
        response = client.post("/iot/devices", json={"devices": [doc]}, headers=H)
        message = iot_error(response, 400, "BAD_REQUEST")
        assert fragment in message, (doc, message)
    assert client.get("/iot/devices", headers=H).json()["count"] == 1


def test_a_device_needs_an_apikey_when_its_tenant_has_several_groups(client: TestClient) -> None:
    first, second = unique_key(), unique_key()
    provision(client, first, [{"device_id": "a"}])
    provision(client, second, [{"device_id": "b", "apikey": second}])
    response = client.post("/iot/devices", json={"devices": [{"device_id": "c"}]}, headers=H)
    assert "apikey" in iot_error(response, 400, "BAD_REQUEST")
    assert device(client, "a")["apikey"] == first
    assert device(client, "b")["apikey"] == second


def test_a_device_cannot_use_another_tenants_apikey(client: TestClient) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "a"}])
    body = {"devices": [{"device_id": "z", "apikey": key, "entity_type": "Thermometer"}]}
    response = client.post("/iot/devices", json=body, headers={"NGSILD-Tenant": "almaty"})
    iot_error(response, 409, "DUPLICATE_GROUP")


def test_a_device_without_entity_type_anywhere_is_400(client: TestClient) -> None:
    body = {"devices": [{"device_id": "lonely", "apikey": unique_key()}]}
    response = client.post("/iot/devices", json=body, headers=H)
    assert "entity_type" in iot_error(response, 400, "BAD_REQUEST")


def test_updating_a_device(client: TestClient) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "u1"}])
    response = client.put(
        "/iot/devices/u1",
        json={
            "entity_name": "urn:ngsi-ld:Thermometer:renamed",
            "attributes": [{"object_id": "x", "name": "pressure", "type": "Number"}],
            "static_attributes": [{"name": "floor", "type": "Integer", "value": 3}],
        },
        headers=H,
    )
    assert response.status_code == 204, response.text
    updated = device(client, "u1")
    assert updated["entity_name"] == "urn:ngsi-ld:Thermometer:renamed"
    assert updated["attributes"] == [{"object_id": "x", "name": "pressure", "type": "Number"}]
    assert entity(client, "urn:ngsi-ld:Thermometer:renamed")["floor"]["value"] == 3
    rename = client.put("/iot/devices/u1", json={"device_id": "u2"}, headers=H)
    iot_error(rename, 400, "BAD_REQUEST")
    iot_error(client.put("/iot/devices/nope", json={}, headers=H), 404, "DEVICE_NOT_FOUND")


def test_deleting_a_device_keeps_its_entity(client: TestClient) -> None:
    provision(client, unique_key(), [{"device_id": "del1"}])
    assert client.delete("/iot/devices/del1", headers=H).status_code == 204
    iot_error(client.get("/iot/devices/del1", headers=H), 404, "DEVICE_NOT_FOUND")
    iot_error(client.delete("/iot/devices/del1", headers=H), 404, "DEVICE_NOT_FOUND")
    assert entity(client, "urn:ngsi-ld:Thermometer:del1")["type"] == "Thermometer"


def test_provisioning_attaches_to_an_existing_entity_of_the_same_type(client: TestClient) -> None:
    client.post(
        f"{BASE}/entities",
        json={"id": "urn:ngsi-ld:Thermometer:old", "type": "Thermometer", "label": "kept"},
        headers=H,
    )
    provision(
        client,
        unique_key(),
        [
            {
                "device_id": "old",
                "entity_name": "urn:ngsi-ld:Thermometer:old",
                "static_attributes": [{"name": "floor", "type": "Integer", "value": 2}],
            }
        ],
    )
    got = entity(client, "urn:ngsi-ld:Thermometer:old")
    assert got["label"]["value"] == "kept"
    assert got["floor"]["value"] == 2


def _key(client: TestClient, role: str, tenant: str | None = TENANT) -> dict[str, str]:
    body = {"role": role, "tenant": tenant, "name": f"{role} for iot tests"}
    response = client.post("/qala/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def test_who_may_read_and_change_provisioning(client: TestClient) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "acl1"}])
    auditor = {**H, **_key(client, "auditor", None)}
    operator = {**H, **_key(client, "city-operator")}
    partner = {**H, **_key(client, "partner")}
    stranger = {"NGSILD-Tenant": "almaty", **_key(client, "city-operator", "almaty")}
    assert client.get("/iot/devices/acl1", headers=auditor).status_code == 200
    denied = client.post("/iot/devices", json={"devices": [{"device_id": "x"}]}, headers=auditor)
    iot_error(denied, 403, "FORBIDDEN")
    iot_error(client.get("/iot/services", headers=partner), 403, "FORBIDDEN")
    created = client.post(
        "/iot/devices", json={"devices": [{"device_id": "op1"}]}, headers=operator
    )
    assert created.status_code == 201, created.text
    other = client.get("/iot/devices/acl1", headers={**stranger, "NGSILD-Tenant": TENANT})
    iot_error(other, 403, "FORBIDDEN")
    # devices need no credentials to send measures: their apikey and id authenticate them
    anonymous = client.post(
        f"/iot/json?k={key}&i=acl1", json={"t": 1.0}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 200, anonymous.text


def test_provisioning_changes_are_audited(client: TestClient) -> None:
    key = unique_key()
    provision(client, key, [{"device_id": "au1"}])
    client.delete("/iot/devices/au1", headers=H)
    rows = client.get("/qala/v1/audit?tenant=astana&limit=50").json()
    operations = [(r["operation"], r["entity_id"]) for r in rows]
    assert ("iot.service.create", key) in operations
    assert ("iot.device.create", "au1") in operations
    assert ("iot.device.delete", "au1") in operations
