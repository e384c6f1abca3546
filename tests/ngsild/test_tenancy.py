"""Tenancy over HTTP: NGSILD-Tenant selects a city; tenants are created by their first write,
reads of unknown tenants are NonexistentTenant, and tenants never see each other's data."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ngsi import BASE, headers, problem, prop, streetlight

ASTANA = headers("astana")
ALMATY = headers("almaty")


def test_a_tenant_is_created_by_its_first_write(client: TestClient) -> None:
    problem(
        client.get(f"{BASE}/entities", params={"type": "Streetlight"}, headers=ASTANA),
        404,
        "NonexistentTenant",
    )
    created = client.post(f"{BASE}/entities", json=streetlight(1), headers=ASTANA)
    assert created.status_code == 201, created.text
    assert created.headers["NGSILD-Tenant"] == "astana"
    listed = client.get(f"{BASE}/entities", params={"type": "Streetlight"}, headers=ASTANA)
    assert listed.status_code == 200 and listed.headers["NGSILD-Tenant"] == "astana"
    assert [e["id"] for e in listed.json()] == ["urn:ngsi-ld:Streetlight:1"]
    # A batch creates its tenant too.
    batch = client.post(f"{BASE}/entityOperations/upsert", json=[streetlight(2)], headers=ALMATY)
    assert batch.status_code == 201, batch.text
    assert client.get(f"{BASE}/types", headers=ALMATY).json()["typeList"] == ["Streetlight"]


def test_unknown_tenants_are_nonexistent_for_everything_but_creation(client: TestClient) -> None:
    shymkent = headers("shymkent")
    entity = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    for response in (
        client.get(entity, headers=shymkent),
        client.get(f"{BASE}/types", headers=shymkent),
        client.get(f"{BASE}/attributes", headers=shymkent),
        client.patch(entity, json={"status": prop("x")}, headers=shymkent),
        client.put(entity, json={"type": "Streetlight"}, headers=shymkent),
        client.delete(entity, headers=shymkent),
        client.post(f"{entity}/attrs", json={"lux": prop(1)}, headers=shymkent),
        client.post(
            f"{BASE}/entityOperations/query",
            json={"type": "Query", "entities": [{"type": "Streetlight"}]},
            headers=shymkent,
        ),
    ):
        body = problem(response, 404, "NonexistentTenant")
        assert "shymkent" in body["detail"]
        assert response.headers["NGSILD-Tenant"] == "shymkent"
    # Batch operations that cannot create report the tenant for each entity.
    batch = client.post(
        f"{BASE}/entityOperations/delete", json=["urn:ngsi-ld:Streetlight:1"], headers=shymkent
    )
    assert batch.status_code == 207
    assert batch.json()["errors"][0]["error"]["type"].endswith("NonexistentTenant")
    # Nothing of that created the tenant.
    problem(client.get(f"{BASE}/types", headers=shymkent), 404, "NonexistentTenant")
    # The default tenant always exists.
    assert client.get(f"{BASE}/entities", params={"type": "Streetlight"}).json() == []


def test_tenants_are_isolated(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=streetlight(1, status="astana"), headers=ASTANA)
    client.post(f"{BASE}/entities", json=streetlight(1, status="almaty"), headers=ALMATY)
    client.post(f"{BASE}/entities", json=streetlight(2, status="default"))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    assert client.get(url, headers=ASTANA).json()["status"] == prop("astana")
    assert client.get(url, headers=ALMATY).json()["status"] == prop("almaty")
    problem(client.get(url), 404, "ResourceNotFound")
    # Queries, id patterns and the Query object see only their tenant.
    pattern = {"type": "Streetlight", "idPattern": ".*"}
    assert [
        e["status"]["value"]
        for e in client.get(f"{BASE}/entities", params=pattern, headers=ASTANA).json()
    ] == ["astana"]
    query = {"type": "Query", "entities": [{"type": "Streetlight", "idPattern": ".*"}]}
    found = client.post(f"{BASE}/entityOperations/query", json=query, headers=ALMATY).json()
    assert [e["status"]["value"] for e in found] == ["almaty"]
    # Batch writes touch only their tenant.
    client.post(
        f"{BASE}/entityOperations/update",
        json=[{"id": "urn:ngsi-ld:Streetlight:1", "status": prop("changed")}],
        headers=ASTANA,
    )
    assert client.get(url, headers=ALMATY).json()["status"] == prop("almaty")
    deleted = client.post(
        f"{BASE}/entityOperations/delete", json=["urn:ngsi-ld:Streetlight:1"], headers=ALMATY
    )
    assert deleted.status_code == 204
    assert client.get(url, headers=ASTANA).json()["status"] == prop("changed")
    # Discovery too.
    client.post(f"{BASE}/entities", json={"id": "urn:ngsi-ld:Bus:1", "type": "Bus"}, headers=ALMATY)
    assert client.get(f"{BASE}/types", headers=ASTANA).json()["typeList"] == ["Streetlight"]


def test_invalid_tenant_names_are_refused(client: TestClient) -> None:
    for name in ("-astana", "a" * 64, "ast ana", "astana/esil"):
        response = client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(name))
        problem(response, 400, "BadRequestData")
