"""Temporal writes: create and add instances, correct or delete them, delete histories."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from temporal_support import SENSOR, at, create, h, history, observe, sensor, temporal, values

from ngsi import BASE, problem, prop
from qala.hub import Change, RowBatch, Tenant, WriteContext

URL = f"{BASE}/temporal/entities"


def temporal_entity(*instances: tuple[str, Any], entity_id: str = SENSOR) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "AirQualityObserved",
        "pm25": [prop(value, observedAt=when) for when, value in instances],
    }


def test_post_creates_a_temporal_entity_then_adds_to_it(client: TestClient) -> None:
    response = client.post(URL, json=temporal_entity((at(0), 1), (at(1), 2)), headers=h())
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{URL}/{SENSOR}"
    again = client.post(URL, json=temporal_entity((at(2), 3)), headers=h())
    assert again.status_code == 204, again.text
    assert [v for v, _ in values(client)] == [1, 2, 3]


def test_an_update_replaces_the_instances_observed_at_the_same_instant(
    client: TestClient,
) -> None:
    # ETSI 008_01_01: POST of an existing temporal entity is an update of its instances
    client.post(URL, json=temporal_entity((at(0), 1), (at(1), 2)), headers=h())
    body = temporal_entity((at(0), 10), (at(2), 3), (at(2), 30))
    body["pm25"].append(prop(5, observedAt=at(0), datasetId="urn:ngsi-ld:Dataset:b"))
    assert client.post(URL, json=body, headers=h()).status_code == 204

    def by_dataset() -> dict[str | None, list[Any]]:
        parts = history(client, options="temporalValues")["pm25"]
        parts = parts if isinstance(parts, list) else [parts]
        return {p.get("datasetId"): sorted(p["values"], key=lambda v: v[1]) for p in parts}

    # 00:00 replaced, 01:00 kept, 02:00 once (the last in the body wins); another datasetId
    # at 00:00 is an instance of its own
    assert by_dataset() == {
        None: [[10, at(0)], [2, at(1)], [30, at(2)]],
        "urn:ngsi-ld:Dataset:b": [[5, at(0)]],
    }
    # adding to the attributes (POST …/attrs) adds, as before
    more = {"pm25": [prop(11, observedAt=at(0))]}
    assert client.post(f"{URL}/{SENSOR}/attrs", json=more, headers=h()).status_code == 204
    assert sorted(v for v, _ in by_dataset()[None]) == [2, 10, 11, 30]


def test_temporal_writes_do_not_change_the_current_state(client: TestClient) -> None:
    client.post(URL, json=temporal_entity((at(0), 1)), headers=h())
    problem(client.get(f"{BASE}/entities/{SENSOR}", headers=h()), 404, "ResourceNotFound")
    create(client, sensor(pm25=prop(50, observedAt=at(5))))
    client.post(URL, json=temporal_entity((at(9), 99)), headers=h())
    current = client.get(f"{BASE}/entities/{SENSOR}", headers=h()).json()
    assert current["pm25"]["value"] == 50
    assert [v for v, _ in values(client)] == [1, 50, 99]


def test_post_attrs_adds_instances_of_several_attributes(client: TestClient) -> None:
    client.post(URL, json=temporal_entity((at(0), 1)), headers=h())
    body = {"pm25": prop(2, observedAt=at(1)), "no2": [prop(7, observedAt=at(1))]}
    response = client.post(f"{URL}/{SENSOR}/attrs", json=body, headers=h())
    assert response.status_code == 204, response.text
    assert [v for v, _ in values(client)] == [1, 2]
    assert [v for v, _ in values(client, "no2")] == [7]
    missing = client.post(f"{URL}/urn:ngsi-ld:X:404/attrs", json=body, headers=h())
    problem(missing, 404, "ResourceNotFound")


def test_bad_temporal_bodies_are_400(client: TestClient) -> None:
    assert client.post(URL, json=[], headers=h()).status_code == 400
    for body in (
        {"type": "AirQualityObserved"},
        {"id": SENSOR},
        {"id": "no uri", "type": "T"},
        {"id": SENSOR, "type": "T", "pm25": []},
        {"id": SENSOR, "type": "T", "pm25": [{"type": "Property"}]},
        {"id": SENSOR, "type": "T", "pm25": [{"value": 1, "observedAt": "noon"}]},
    ):
        problem(client.post(URL, json=body, headers=h()), 400, "BadRequestData")
    response = client.post(URL, content=b"{", headers=h(**{"Content-Type": "application/json"}))
    assert response.status_code == 400


def test_patch_an_instance_corrects_its_value_and_time(client: TestClient) -> None:
    observe(client, [1.0, 2.0, 3.0])
    second = history(client)["pm25"][1]
    url = f"{URL}/{SENSOR}/attrs/pm25/{second['instanceId']}"
    response = client.patch(url, json={"value": 20.5}, headers=h())
    assert response.status_code == 204, response.text
    assert [v for v, _ in values(client)] == [1.0, 20.5, 3.0]
    response = client.patch(url, json={"value": 21, "observedAt": at(5)}, headers=h())
    assert response.status_code == 204, response.text
    corrected = history(client, options="sysAttrs")["pm25"]
    assert [i["value"] for i in corrected] == [1.0, 3.0, 21]
    assert corrected[-1]["instanceId"] == second["instanceId"]
    assert corrected[-1]["observedAt"] == "2026-03-01T05:00:00Z"
    assert corrected[-1]["modifiedAt"] > corrected[-1]["createdAt"]


def test_delete_an_instance(client: TestClient) -> None:
    observe(client, [1.0, 2.0])
    first = history(client)["pm25"][0]["instanceId"]
    url = f"{URL}/{SENSOR}/attrs/pm25/{first}"
    assert client.delete(url, headers=h()).status_code == 204
    assert [v for v, _ in values(client)] == [2.0]
    problem(client.delete(url, headers=h()), 404, "ResourceNotFound")


def test_instance_operations_check_their_target(client: TestClient) -> None:
    observe(client, [1.0])
    unknown = "urn:ngsi-ld:attribute:instance:00000000000000ff"
    problem(
        client.delete(f"{URL}/{SENSOR}/attrs/pm25/{unknown}", headers=h()), 404, "ResourceNotFound"
    )
    problem(
        client.patch(f"{URL}/{SENSOR}/attrs/pm25/{unknown}", json={"value": 1}, headers=h()),
        404,
        "ResourceNotFound",
    )
    # A URI the broker never issued names no instance; what is not a URI is a bad request.
    problem(
        client.delete(f"{URL}/{SENSOR}/attrs/pm25/urn:x:1", headers=h()), 404, "ResourceNotFound"
    )
    problem(
        client.patch(f"{URL}/{SENSOR}/attrs/pm25/urn:x:1", json={"value": 1}, headers=h()),
        404,
        "ResourceNotFound",
    )
    problem(
        client.delete(f"{URL}/{SENSOR}/attrs/pm25/not-a-uri", headers=h()), 400, "BadRequestData"
    )
    problem(
        client.delete(f"{URL}/{SENSOR}/attrs/no2/{unknown}", headers=h()), 404, "ResourceNotFound"
    )
    instance = history(client)["pm25"][0]["instanceId"]
    problem(
        client.patch(f"{URL}/{SENSOR}/attrs/pm25/{instance}", json={}, headers=h()),
        400,
        "BadRequestData",
    )
    problem(
        client.patch(
            f"{URL}/{SENSOR}/attrs/pm25/{instance}", json={"observedAt": "x"}, headers=h()
        ),
        400,
        "BadRequestData",
    )


def test_urls_with_an_empty_entity_id_or_attribute_name_are_400(client: TestClient) -> None:
    observe(client, [1.0])
    instance = history(client)["pm25"][0]["instanceId"]
    body = {"pm25": [prop(2, observedAt=at(1))]}
    problem(client.post(f"{URL}//attrs", json=body, headers=h()), 400, "BadRequestData")
    problem(client.delete(f"{URL}//attrs/pm25", headers=h()), 400, "BadRequestData")
    for method in ("PATCH", "DELETE"):
        response = client.request(
            method, f"{URL}//attrs/pm25/{instance}", json={"value": 3}, headers=h()
        )
        problem(response, 400, "BadRequestData")
    no_attribute = f"{URL}/{SENSOR}/attrs//{instance}"
    problem(client.delete(no_attribute, headers=h()), 400, "BadRequestData")
    # Without its attribute the URL reads as …/attrs/{attrId}, which has no PATCH (ETSI 016_02_06)
    response = client.patch(no_attribute, json={"value": 3}, headers=h())
    problem(response, 405, "OperationNotSupported")
    assert response.headers["Allow"] == "DELETE"
    assert [v for v, _ in values(client)] == [1.0]


def test_delete_an_attributes_history(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0)), no2=prop(2, observedAt=at(0))))
    assert client.delete(f"{URL}/{SENSOR}/attrs/no2", headers=h()).status_code == 204
    body = history(client)
    assert "no2" not in body and "pm25" in body
    # The attribute still exists: its next change is recorded again.
    client.patch(
        f"{BASE}/entities/{SENSOR}/attrs", json={"no2": prop(3, observedAt=at(1))}, headers=h()
    )
    assert [v for v, _ in values(client, "no2")] == [3]
    problem(client.delete(f"{URL}/{SENSOR}/attrs/o3", headers=h()), 404, "ResourceNotFound")


def test_delete_one_dataset_of_an_attributes_history(client: TestClient) -> None:
    body = {
        "id": SENSOR,
        "type": "AirQualityObserved",
        "pm25": [
            prop(1, observedAt=at(0), datasetId="urn:ngsi-ld:Dataset:a"),
            prop(2, observedAt=at(0), datasetId="urn:ngsi-ld:Dataset:b"),
        ],
    }
    client.post(URL, json=body, headers=h())
    response = client.delete(
        f"{URL}/{SENSOR}/attrs/pm25", params={"datasetId": "urn:ngsi-ld:Dataset:a"}, headers=h()
    )
    assert response.status_code == 204
    assert [i["datasetId"] for i in history(client)["pm25"]] == ["urn:ngsi-ld:Dataset:b"]
    missing = client.delete(f"{URL}/{SENSOR}/attrs/pm25", headers=h())  # no default instance
    problem(missing, 404, "ResourceNotFound")
    everything = client.delete(
        f"{URL}/{SENSOR}/attrs/pm25", params={"deleteAll": "true"}, headers=h()
    )
    assert everything.status_code == 204
    assert "pm25" not in history(client)


def test_delete_a_temporal_entity(client: TestClient) -> None:
    client.post(URL, json=temporal_entity((at(0), 1)), headers=h())
    assert client.delete(f"{URL}/{SENSOR}", headers=h()).status_code == 204
    problem(temporal(client), 404, "ResourceNotFound")
    problem(client.delete(f"{URL}/{SENSOR}", headers=h()), 404, "ResourceNotFound")


def test_deleting_the_history_of_a_live_entity_keeps_recording_it(client: TestClient) -> None:
    observe(client, [1.0, 2.0])
    assert client.delete(f"{URL}/{SENSOR}", headers=h()).status_code == 204
    assert history(client) == {"id": SENSOR, "type": "AirQualityObserved"}
    client.patch(
        f"{BASE}/entities/{SENSOR}/attrs", json={"pm25": prop(3, observedAt=at(3))}, headers=h()
    )
    assert [v for v, _ in values(client)] == [3]
    assert client.get(f"{BASE}/entities/{SENSOR}", headers=h()).status_code == 200


class Spy:
    """A participant that notes the operations it is shown."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.targets: list[str] = []

    def rows_for(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> list[RowBatch]:
        self.operations.append(ctx.operation)
        self.targets.append(ctx.extra["temporal"]["entityId"])
        return []

    async def after_commit(self, tenant: Tenant, changes: list[Change], ctx: WriteContext) -> None:
        return None


def test_temporal_writes_go_through_the_hubs_write_path(client: TestClient) -> None:
    spy = Spy()
    client.app.state.services.hub.add_participant(spy)  # type: ignore[attr-defined]
    client.post(URL, json=temporal_entity((at(0), 1)), headers=h())
    instance = history(client)["pm25"][0]["instanceId"]
    client.patch(f"{URL}/{SENSOR}/attrs/pm25/{instance}", json={"value": 2}, headers=h())
    client.delete(f"{URL}/{SENSOR}/attrs/pm25/{instance}", headers=h())
    client.delete(f"{URL}/{SENSOR}", headers=h())
    assert spy.operations == [
        "temporal.create",
        "temporal.instance.patch",
        "temporal.instance.delete",
        "temporal.delete",
    ]
    assert spy.targets == [SENSOR] * 4
