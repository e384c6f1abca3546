"""Purge Entities (GS CIM 009 v1.9.1, 5.6.21): ``DELETE /entities`` with an entity selection.

Without keep/drop the selected entities are deleted; ``drop`` deletes only the attributes it
names, ``keep`` every attribute but those; the entities then stay. A purge needs a selector,
keep and drop exclude each other, unknown parameters are an InvalidRequest. Every purge goes
through the hub: it is in the audit log and in the entities' history.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from ngsi import BASE, problem, prop, streetlight

LIGHT = "urn:ngsi-ld:Streetlight:"


def create(client: TestClient, *entities: dict[str, object]) -> None:
    for entity in entities:
        assert client.post(f"{BASE}/entities", json=entity).status_code == 201


def exists(client: TestClient, number: int) -> bool:
    return client.get(f"{BASE}/entities/{LIGHT}{number}").status_code == 200


def bin_(number: int) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:WasteBin:{number}", "type": "WasteBin", "fill": prop(0.5)}


def test_purge_by_type_deletes_every_entity_of_the_type_and_nothing_else(
    client: TestClient,
) -> None:
    create(client, streetlight(1), streetlight(2), bin_(1))
    response = client.delete(f"{BASE}/entities", params={"type": "Streetlight"})
    assert response.status_code == 204 and response.content == b""
    assert not exists(client, 1) and not exists(client, 2)
    assert client.get(f"{BASE}/entities/urn:ngsi-ld:WasteBin:1").status_code == 200


def test_purge_by_q_deletes_only_the_matches(client: TestClient) -> None:
    create(client, streetlight(1, "ok"), streetlight(2, "broken"))
    response = client.delete(f"{BASE}/entities", params={"q": 'status=="broken"'})
    assert response.status_code == 204
    assert exists(client, 1) and not exists(client, 2)


def test_purge_by_id_and_type_deletes_that_entity(client: TestClient) -> None:
    create(client, streetlight(1), streetlight(2))
    response = client.delete(f"{BASE}/entities", params={"id": f"{LIGHT}1", "type": "Streetlight"})
    assert response.status_code == 204
    assert not exists(client, 1) and exists(client, 2)


def test_purge_with_local_true_deletes_every_entity_of_the_tenant(client: TestClient) -> None:
    create(client, streetlight(1), bin_(1))
    assert client.delete(f"{BASE}/entities", params={"local": "true"}).status_code == 204
    assert client.get(f"{BASE}/entities", params={"local": "true"}).json() == []


def test_purge_with_drop_deletes_only_those_attributes(client: TestClient) -> None:
    create(client, streetlight(1, power=prop(60)), streetlight(2, power=prop(40)))
    response = client.delete(f"{BASE}/entities", params={"type": "Streetlight", "drop": "power"})
    assert response.status_code == 204
    for number in (1, 2):
        body = client.get(f"{BASE}/entities/{LIGHT}{number}").json()
        assert "power" not in body and body["status"] == prop("ok")


def test_purge_with_keep_deletes_every_other_attribute(client: TestClient) -> None:
    create(client, streetlight(1, power=prop(60)), streetlight(2, power=prop(40)))
    params = {"id": f"{LIGHT}1", "type": "Streetlight", "keep": "status"}
    response = client.delete(f"{BASE}/entities", params=params)
    assert response.status_code == 204
    kept = client.get(f"{BASE}/entities/{LIGHT}1").json()
    assert set(kept) == {"id", "type", "status"}
    untouched = client.get(f"{BASE}/entities/{LIGHT}2").json()
    assert {"power", "location"} <= set(untouched)


def test_purge_that_selects_nothing_answers_204(client: TestClient) -> None:
    create(client, streetlight(1))
    assert client.delete(f"{BASE}/entities", params={"type": "Bench"}).status_code == 204
    assert exists(client, 1)


def test_purge_with_a_trailing_slash_is_the_same_purge(client: TestClient) -> None:
    create(client, streetlight(1))
    assert client.delete(f"{BASE}/entities/", params={"type": "Streetlight"}).status_code == 204
    assert not exists(client, 1)


def test_purge_without_a_selector_is_refused(client: TestClient) -> None:
    create(client, streetlight(1))
    for params in (
        {},
        {"keep": "status"},
        {"id": f"{LIGHT}1"},  # ids only narrow a selection (5.6.21.3)
        {"idPattern": ".*"},
        {"attrs": "createdAt"},  # only a system attribute
        {"scopeQ": "/Astana"},
    ):
        problem(client.delete(f"{BASE}/entities", params=params), 400, "BadRequestData")
    assert exists(client, 1)


def test_purge_cannot_ask_for_linked_entities(client: TestClient) -> None:
    create(client, streetlight(1))
    params = {"type": "Streetlight", "attrs": "owner{name}"}
    problem(client.delete(f"{BASE}/entities", params=params), 400, "BadRequestData")
    assert exists(client, 1)


def test_purge_with_keep_and_drop_together_is_refused(client: TestClient) -> None:
    create(client, streetlight(1))
    params = {"type": "Streetlight", "keep": "status", "drop": "location"}
    problem(client.delete(f"{BASE}/entities", params=params), 400, "BadRequestData")
    assert exists(client, 1)


def test_purge_with_an_unknown_parameter_is_an_invalid_request(client: TestClient) -> None:
    create(client, streetlight(1))
    params = {"type": "Streetlight", "invalidParams": "invalidValue"}
    problem(client.delete(f"{BASE}/entities", params=params), 400, "InvalidRequest")
    assert exists(client, 1)


def test_purge_with_a_bad_q_is_refused_and_deletes_nothing(client: TestClient) -> None:
    create(client, streetlight(1))
    problem(client.delete(f"{BASE}/entities", params={"q": "status=="}), 400, "BadRequestData")
    assert exists(client, 1)


def test_a_purge_is_in_the_audit_log_and_the_history(client: TestClient) -> None:
    create(client, streetlight(1, power=prop(60)), streetlight(2))
    light = {"type": "Streetlight"}
    client.delete(f"{BASE}/entities", params={"id": f"{LIGHT}1", "drop": "power", **light})
    client.delete(f"{BASE}/entities", params={"id": f"{LIGHT}2", **light})
    rows = client.get("/qala/v1/audit").json()
    purges = sorted((r["entity_id"], r["change"]) for r in rows if r["operation"] == "entity.purge")
    assert purges == [(f"{LIGHT}1", "update"), (f"{LIGHT}2", "delete")]
    params = {"attrs": "power", "options": "sysAttrs"}
    power = client.get(f"{BASE}/temporal/entities/{LIGHT}1", params=params).json()["power"]
    assert [i["value"] for i in power] == [60, "urn:ngsi-ld:null"] and "deletedAt" in power[1]
    gone = client.get(f"{BASE}/temporal/entities/{LIGHT}2", params={"options": "sysAttrs"})
    assert "deletedAt" in gone.json()
