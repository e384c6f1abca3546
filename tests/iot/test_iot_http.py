"""Measures over HTTP (``POST /iot/json?k=&i=``): mapping, observedAt, and every bad payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from iot_support import BASE, H, device, entity, provision, unique_key

THERMO = "urn:ngsi-ld:Thermometer:th1"


def send(client: TestClient, key: str, payload: Any, device_id: str = "th1", **params: str) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"/iot/json?k={key}&i={device_id}" + (f"&{query}" if query else "")
    if isinstance(payload, bytes):
        return client.post(url, content=payload, headers={"Content-Type": "application/json"})
    return client.post(url, json=payload)


def setup(client: TestClient, **group: Any) -> str:
    key = unique_key()
    provision(client, key, [{"device_id": "th1"}], **group)
    return key


def test_measures_update_the_mapped_attributes(client: TestClient) -> None:
    key = setup(client)
    before = datetime.now(UTC) - timedelta(seconds=1)
    response = send(client, key, {"t": 21.5, "h": 0.41, "s": "ok"})
    assert response.status_code == 200, response.text
    assert response.json() == {"measures": 3}
    got = entity(client, THERMO)
    assert got["temperature"]["value"] == 21.5
    assert got["temperature"]["unitCode"] == "CEL"
    assert got["relativeHumidity"] == {
        "type": "Property",
        "value": 0.41,
        "observedAt": got["relativeHumidity"]["observedAt"],
    }
    assert got["status"]["value"] == "ok"
    observed = datetime.fromisoformat(got["temperature"]["observedAt"].replace("Z", "+00:00"))
    assert before <= observed <= datetime.now(UTC) + timedelta(seconds=1)
    stats = device(client, "th1")["stats"]
    assert (stats["messages"], stats["measures"]) == (1, 3)
    assert stats["last_measure_at"] is not None


def test_the_updated_entity_is_queryable(client: TestClient) -> None:
    key = setup(client)
    send(client, key, {"t": 30.0})
    found = client.get(f"{BASE}/entities?type=Thermometer&q=temperature>25", headers=H).json()
    assert [e["id"] for e in found] == [THERMO]


def test_time_instant_is_the_observation_time(client: TestClient) -> None:
    key = setup(client)
    send(client, key, {"t": 1.0, "TimeInstant": "2026-01-15T14:00:00+05:00"})
    got = entity(client, THERMO)
    assert got["temperature"]["observedAt"] == "2026-01-15T09:00:00Z"
    assert "TimeInstant" not in got


def test_the_timestamp_attribute_and_time_zone_are_configurable(client: TestClient) -> None:
    key = setup(client, timestamp_attribute="ts", timezone="Asia/Almaty")
    send(client, key, {"t": 2.0, "ts": "2026-01-15T14:00:00"})
    assert entity(client, THERMO)["temperature"]["observedAt"] == "2026-01-15T09:00:00Z"


def test_the_t_parameter_sets_the_time_of_every_measure(client: TestClient) -> None:
    key = setup(client)
    response = send(client, key, {"t": 3.0, "h": 0.5}, t="2026-02-01T00:00:00Z")
    assert response.status_code == 200, response.text
    got = entity(client, THERMO)
    assert got["temperature"]["observedAt"] == "2026-02-01T00:00:00Z"
    assert got["relativeHumidity"]["observedAt"] == "2026-02-01T00:00:00Z"


def test_unmapped_measures_pass_through_unless_told_otherwise(client: TestClient) -> None:
    key = setup(client)
    send(client, key, {"t": 1.0, "battery": 0.93})
    assert entity(client, THERMO)["battery"]["value"] == 0.93

    quiet = unique_key()
    provision(client, quiet, [{"device_id": "q1", "apikey": quiet}], explicitAttrs=True)
    response = send(client, quiet, {"t": 4.0, "noise": 55}, device_id="q1")
    assert response.json() == {"measures": 1}
    got = entity(client, "urn:ngsi-ld:Thermometer:q1")
    assert "noise" not in got and got["temperature"]["value"] == 4.0


def test_several_readings_in_one_message_are_each_recorded(client: TestClient) -> None:
    key = setup(client)
    readings = [
        {"t": 10.0, "TimeInstant": "2026-03-01T10:00:00Z"},
        {"t": 11.0, "TimeInstant": "2026-03-01T10:01:00Z"},
        {"t": 12.0, "TimeInstant": "2026-03-01T10:02:00Z"},
    ]
    response = send(client, key, readings)
    assert response.json() == {"measures": 3}
    got = entity(client, THERMO)["temperature"]
    assert (got["value"], got["observedAt"]) == (12.0, "2026-03-01T10:02:00Z")
    history = client.get(f"{BASE}/temporal/entities/{THERMO}?attrs=temperature", headers=H)
    assert history.status_code == 200, history.text
    values = [i["value"] for i in history.json()["temperature"]]
    assert sorted(values) == [10.0, 11.0, 12.0]


def test_a_deleted_entity_is_created_again_by_its_next_measure(client: TestClient) -> None:
    key = unique_key()
    provision(
        client,
        key,
        [
            {
                "device_id": "th1",
                "static_attributes": [{"name": "floor", "type": "Integer", "value": 4}],
            }
        ],
    )
    assert client.delete(f"{BASE}/entities/{THERMO}", headers=H).status_code == 204
    assert send(client, key, {"t": 5.0}).status_code == 200
    got = entity(client, THERMO)
    assert (got["type"], got["floor"]["value"], got["temperature"]["value"]) == (
        "Thermometer",
        4,
        5.0,
    )


def test_mapped_types_are_converted(client: TestClient) -> None:
    key = unique_key()
    group = {
        "apikey": key,
        "entity_type": "Tracker",
        "attributes": [
            {"object_id": "p", "name": "location", "type": "geo:point"},
            {"object_id": "n", "name": "count", "type": "Integer"},
            {"object_id": "on", "name": "active", "type": "Boolean"},
            {"object_id": "r", "name": "refVehicle", "type": "Relationship"},
            {"object_id": "x", "name": "extra", "type": "StructuredValue"},
        ],
    }
    assert client.post("/iot/services", json={"services": [group]}, headers=H).status_code == 201
    assert client.post("/iot/devices", json={"devices": [{"device_id": "tr1"}]}, headers=H)
    payload = {
        "p": "43.238, 76.945",
        "n": 7.0,
        "on": True,
        "r": "urn:ngsi-ld:Vehicle:7",
        "x": {"a": [1, 2]},
    }
    assert send(client, key, payload, device_id="tr1").status_code == 200
    got = entity(client, "urn:ngsi-ld:Tracker:tr1")
    assert got["location"]["value"] == {"type": "Point", "coordinates": [76.945, 43.238]}
    assert got["count"]["value"] == 7 and isinstance(got["count"]["value"], int)
    assert got["active"]["value"] is True
    assert got["refVehicle"]["object"] == "urn:ngsi-ld:Vehicle:7"
    assert got["extra"]["value"] == {"a": [1, 2]}


# -- bad payloads: rejected whole, counted per device, visible, the ingestor carries on ---------


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


BAD_PAYLOADS: list[tuple[Any, int, str, str, str]] = [
    # payload, status, IoT Agent name, counter, fragment of the message
    (b'{"t": 21.5,', 400, "WRONG_SYNTAX", "invalid_json", "not valid JSON"),
    ([1, 2], 400, "WRONG_SYNTAX", "invalid_payload", "not a JSON object"),
    ("hello", 400, "WRONG_SYNTAX", "invalid_payload", "JSON object of measures"),
    ({}, 400, "WRONG_SYNTAX", "invalid_payload", "no measures"),
    ({"h": 0.5, "t": "21.5"}, 400, "TYPE_MISMATCH", "type_mismatch", "mapped as Number"),
    ({"h": 0.5, "s": 3}, 400, "TYPE_MISMATCH", "type_mismatch", "mapped as Text"),
    ({"h": 0.5, "t": None}, 400, "WRONG_SYNTAX", "invalid_payload", "null"),
    ({"h": 0.5, "TimeInstant": "yesterday"}, 400, "INVALID_TIMESTAMP", "invalid_timestamp", "ISO"),
    ({"h": 0.5, "bad name": 1}, 400, "WRONG_SYNTAX", "invalid_payload", "not valid"),
    # what no store can hold (PostgreSQL stores no U+0000)
    ({"h": 0.5, "s": "o\x00k"}, 400, "WRONG_SYNTAX", "invalid_payload", "U+0000"),
    ({"h": 0.5, "s": nested(100)}, 400, "WRONG_SYNTAX", "invalid_payload", "nested deeper"),
]


def test_every_bad_payload_is_rejected_whole_counted_and_visible(client: TestClient) -> None:
    key = setup(client)
    assert send(client, key, {"t": 20.0, "h": 0.3}).status_code == 200
    expected: dict[str, int] = {}
    for payload, status, name, counter, fragment in BAD_PAYLOADS:
        response = send(client, key, payload)
        assert response.status_code == status, (payload, response.text)
        assert response.json()["name"] == name, (payload, response.json())
        assert fragment in response.json()["message"], (payload, response.json())
        expected[counter] = expected.get(counter, 0) + 1
        got = entity(client, THERMO)
        # nothing of the message was written: not even its valid measures
        assert (got["temperature"]["value"], got["relativeHumidity"]["value"]) == (20.0, 0.3)
        errors = device(client, "th1")["errors"]
        assert errors["counts"] == expected
        assert errors["last"]["kind"] == counter
        assert fragment in errors["last"]["message"]
    # the ingestor is alive and well
    assert send(client, key, {"t": 22.0}).status_code == 200
    assert entity(client, THERMO)["temperature"]["value"] == 22.0
    final = device(client, "th1")
    assert final["stats"]["messages"] == 2
    assert final["errors"]["total"] == len(BAD_PAYLOADS)
    totals = client.get("/iot/about").json()["ingestion"]
    assert totals["rejected"] == len(BAD_PAYLOADS) and totals["accepted"] == 2


def test_strict_devices_reject_unmapped_measures(client: TestClient) -> None:
    key = setup(client, strict=True)
    response = send(client, key, {"t": 1.0, "battery": 0.9})
    assert response.status_code == 400
    assert response.json()["name"] == "UNKNOWN_ATTRIBUTE"
    assert device(client, "th1")["errors"]["counts"] == {"unknown_attribute": 1}
    assert "temperature" not in entity(client, THERMO)


def test_unknown_devices_and_wrong_apikeys_are_404_and_counted(client: TestClient) -> None:
    key = setup(client)
    other = unique_key()
    provision(client, other, [{"device_id": "x9", "apikey": other}])
    unknown = send(client, key, {"t": 1.0}, device_id="ghost")
    assert unknown.status_code == 404 and unknown.json()["name"] == "DEVICE_NOT_FOUND"
    group = next(
        g for g in client.get("/iot/services", headers=H).json()["services"] if g["apikey"] == key
    )
    assert group["unknown_devices"] == 1
    assert "ghost" in group["last_error"]

    wrong = send(client, other, {"t": 1.0}, device_id="th1")
    assert wrong.status_code == 404 and wrong.json()["name"] == "DEVICE_NOT_FOUND"
    assert device(client, "th1")["errors"]["counts"] == {"wrong_apikey": 1}
    nobody = send(client, unique_key(), {"t": 1.0}, device_id="nobody")
    assert nobody.status_code == 404
    assert client.get("/iot/about").json()["ingestion"]["unattributed"] == 1
    assert "temperature" not in entity(client, THERMO)


def test_measure_parameters_are_checked(client: TestClient) -> None:
    response = client.post("/iot/json?k=abc", json={"t": 1})
    assert response.status_code == 400 and response.json()["name"] == "BAD_REQUEST"
    response = client.post("/iot/json?k=a/b&i=d", json={"t": 1})
    assert response.status_code == 400 and "MQTT topics" in response.json()["message"]
    for url in ("/iot/json?k=a%00&i=d", "/iot/services?apikey=%00", "/iot/devices/d%00"):
        response = client.request("POST" if "json" in url else "GET", url, json={"t": 1})
        assert response.status_code == 400, url
        assert response.json() == {
            "name": "BAD_REQUEST",
            "message": "the URL holds the character U+0000 (%00)",
        }


def test_counters_survive_a_restart(client: TestClient, settings: Any) -> None:
    from qala.app import create_app

    key = setup(client)
    send(client, key, {"t": 1.0})
    send(client, key, b"nope")
    client.__exit__(None, None, None)  # stop the server: counters are saved on the way out
    with TestClient(create_app(settings), headers=dict(client.headers)) as again:
        found = device(again, "th1")
    assert found["stats"]["messages"] == 1
    assert found["errors"]["counts"] == {"invalid_json": 1}
