"""Access control over HTTP: credentials, roles, tenants, ownership, the audit log."""

from __future__ import annotations

import asyncio
import sqlite3

import asyncpg
import pytest
from fastapi.testclient import TestClient

from ngsi import BASE, SDM, headers, prop, streetlight
from qala.app import create_app
from qala.config import Settings

ADMIN_API = "/qala/v1"


def key_for(client: TestClient, role: str, tenant: str | None = None) -> dict[str, str]:
    """Authorization headers of a new key with ``role`` (created by the admin client)."""
    body = {"role": role, "name": f"test {role}"}
    if tenant:
        body["tenant"] = tenant
    response = client.post(f"{ADMIN_API}/keys", json=body)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def as_(auth: dict[str, str], tenant: str | None = None, **extra: str) -> dict[str, str]:
    return {**headers(tenant=tenant, context=SDM), **auth, **extra}


def assert_problem(response, status: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["detail"], body


# -- credentials --------------------------------------------------------------------------------


def test_requests_without_credentials_get_401(client: TestClient) -> None:
    response = client.get(f"{BASE}/types", headers={"Authorization": ""})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = client.get(f"{BASE}/types", headers={"Authorization": "Bearer qala_nonsense"})
    assert_problem(response, 401)
    response = client.get(f"{BASE}/types", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_problem(response, 401)


def test_health_and_api_docs_need_no_credentials(client: TestClient) -> None:
    bare = {"Authorization": ""}
    assert client.get("/health", headers=bare).status_code == 200
    assert client.get("/openapi.json", headers=bare).status_code == 200
    assert client.get("/docs", headers=bare).status_code == 200


def test_keys_are_listed_without_secrets_and_revocation_takes_effect(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(tenant="astana"))
    auth = key_for(client, "city-operator", "astana")
    assert client.get(f"{BASE}/types", headers=as_(auth, "astana")).status_code == 200
    listed = client.get(f"{ADMIN_API}/keys").json()
    assert all("key" not in k and "key_hash" not in k for k in listed)
    key_id = next(k["id"] for k in listed if k["role"] == "city-operator")
    assert client.delete(f"{ADMIN_API}/keys/{key_id}").status_code == 204
    assert_problem(client.get(f"{BASE}/types", headers=as_(auth, "astana")), 401)
    assert_problem(client.delete(f"{ADMIN_API}/keys/{key_id}"), 404)


def test_bad_key_requests_are_refused(client: TestClient) -> None:
    assert_problem(client.post(f"{ADMIN_API}/keys", json={"role": "mayor"}), 400)
    assert_problem(client.post(f"{ADMIN_API}/keys", json={"role": "partner"}), 400)
    assert_problem(client.post(f"{ADMIN_API}/keys", json=["admin"]), 400)


def test_only_admins_manage_keys(client: TestClient) -> None:
    operator = key_for(client, "city-operator", "astana")
    assert_problem(client.post(f"{ADMIN_API}/keys", json={"role": "admin"}, headers=operator), 403)
    assert_problem(client.get(f"{ADMIN_API}/keys", headers=operator), 403)


# -- roles and tenants ----------------------------------------------------------------------------


def test_a_city_operator_works_only_in_its_city(client: TestClient) -> None:
    auth = key_for(client, "city-operator", "astana")
    assert (
        client.post(
            f"{BASE}/entities", json=streetlight(1), headers=as_(auth, "astana")
        ).status_code
        == 201
    )
    client.post(f"{BASE}/entities", json=streetlight(2), headers=headers(tenant="almaty"))
    assert_problem(
        client.post(f"{BASE}/entities", json=streetlight(3), headers=as_(auth, "almaty")), 403
    )
    assert_problem(
        client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:2", headers=as_(auth, "almaty")), 403
    )
    assert_problem(
        client.get(f"{BASE}/entities", params={"type": "Streetlight"}, headers=as_(auth, "almaty")),
        403,
    )
    assert_problem(
        client.post(
            f"{BASE}/entityOperations/upsert", json=[streetlight(4)], headers=as_(auth, "almaty")
        ),
        403,
    )
    assert_problem(
        client.post(
            f"{BASE}/entityOperations/query",
            json={"type": "Query", "entities": [{"idPattern": ".*"}]},
            headers=as_(auth, "almaty"),
        ),
        403,
    )
    # In its own city nothing of Almaty shows, whatever the pattern.
    found = client.get(
        f"{BASE}/entities", params={"idPattern": ".*", "local": "true"}, headers=as_(auth, "astana")
    )
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Streetlight:1"]


def test_a_partner_changes_only_what_it_owns_and_sees_what_is_shared(client: TestClient) -> None:
    partner = key_for(client, "partner", "astana")
    operator = key_for(client, "city-operator", "astana")
    client.post(f"{BASE}/entities", json=streetlight(1), headers=as_(operator, "astana"))
    bin_ = {
        "id": "urn:ngsi-ld:WasteContainer:1",
        "type": "WasteContainer",
        "fillingLevel": prop(0.5),
    }
    client.post(f"{BASE}/entities", json=bin_, headers=as_(operator, "astana"))
    spot = {"id": "urn:ngsi-ld:ParkingSpot:p1", "type": "ParkingSpot", "status": prop("free")}
    assert (
        client.post(f"{BASE}/entities", json=spot, headers=as_(partner, "astana")).status_code
        == 201
    )

    # Its own entity: it reads and changes it.
    url = f"{BASE}/entities/urn:ngsi-ld:ParkingSpot:p1"
    assert client.get(url, headers=as_(partner, "astana")).status_code == 200
    assert (
        client.patch(
            f"{url}/attrs", json={"status": prop("occupied")}, headers=as_(partner, "astana")
        ).status_code
        == 204
    )
    # The city's entities: invisible until shared, never changeable.
    city_url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    assert_problem(client.get(city_url, headers=as_(partner, "astana")), 404)
    assert_problem(
        client.patch(
            f"{city_url}/attrs", json={"status": prop("off")}, headers=as_(partner, "astana")
        ),
        403,
    )
    assert_problem(client.delete(city_url, headers=as_(partner, "astana")), 403)
    batch = client.post(
        f"{BASE}/entityOperations/upsert",
        json=[streetlight(1, "off")],
        headers=as_(partner, "astana"),
    )
    assert batch.status_code == 207
    assert batch.json()["errors"][0]["error"]["status"] == 403

    client.patch(
        f"{ADMIN_API}/tenants/astana",
        json={"settings": {"partnerTypes": ["Streetlight"]}},
        headers=as_(operator, "astana"),
    )
    assert client.get(city_url, headers=as_(partner, "astana")).status_code == 200
    seen = client.get(
        f"{BASE}/entities",
        params={"idPattern": ".*", "local": "true"},
        headers=as_(partner, "astana"),
    ).json()
    assert sorted(e["id"] for e in seen) == [
        "urn:ngsi-ld:ParkingSpot:p1",
        "urn:ngsi-ld:Streetlight:1",
    ]
    types = client.get(f"{BASE}/types", headers=as_(partner, "astana")).json()["typeList"]
    assert "WasteContainer" not in types


def test_an_auditor_reads_everything_and_changes_nothing(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(tenant="almaty"))
    auditor = key_for(client, "auditor")
    assert (
        client.get(
            f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers=as_(auditor, "almaty")
        ).status_code
        == 200
    )
    assert_problem(
        client.post(f"{BASE}/entities", json=streetlight(2), headers=as_(auditor, "almaty")), 403
    )
    assert_problem(
        client.delete(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers=as_(auditor, "almaty")),
        403,
    )


def test_the_public_reads_open_data_only(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(tenant="almaty"))
    air = {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved", "pm25": prop(40)}
    client.post(f"{BASE}/entities", json=air, headers=headers(tenant="almaty", context=SDM))
    client.patch(
        f"{ADMIN_API}/tenants/almaty",
        json={"settings": {"openDataTypes": ["AirQualityObserved"]}},
        headers=headers(context=SDM),
    )
    public = key_for(client, "public")
    seen = client.get(
        f"{BASE}/entities",
        params={"idPattern": ".*", "local": "true"},
        headers=as_(public, "almaty"),
    ).json()
    assert [e["id"] for e in seen] == ["urn:ngsi-ld:AirQualityObserved:1"]
    assert_problem(
        client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers=as_(public, "almaty")), 404
    )
    assert_problem(
        client.post(f"{BASE}/entities", json=streetlight(2), headers=as_(public, "almaty")), 403
    )


def test_anonymous_requests_take_the_configured_role(settings: Settings) -> None:
    settings.anonymous_role = "public"
    with TestClient(create_app(settings)) as anonymous:
        assert anonymous.get(f"{BASE}/types", headers=headers(tenant="almaty")).status_code in (
            200,
            404,
        )
        response = anonymous.post(f"{BASE}/entities", json=streetlight(1))
        assert_problem(response, 403)


def test_authentication_can_be_disabled_and_says_so(settings: Settings) -> None:
    settings.auth_disabled = True
    with TestClient(create_app(settings)) as open_client:
        assert open_client.post(f"{BASE}/entities", json=streetlight(1)).status_code == 201
        health = open_client.get("/health").json()
        assert health["auth"]["enabled"] is False and "disabled" in health["auth"]["warning"]


def test_rate_limits_apply_per_key(settings: Settings) -> None:
    settings.rate_limit = 1
    settings.rate_burst = 2
    from testkit import ADMIN_KEY

    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as limited:
        codes = [limited.get(f"{BASE}/types").status_code for _ in range(4)]
        assert codes[:2] == [200, 200]
        assert 429 in codes[2:]
        response = limited.get(f"{BASE}/types")
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1


# -- audit log -----------------------------------------------------------------------------------


def test_every_write_is_in_the_audit_log(client: TestClient) -> None:
    operator = key_for(client, "city-operator", "astana")
    client.post(f"{BASE}/entities", json=streetlight(1), headers=as_(operator, "astana"))
    client.post(
        f"{BASE}/entityOperations/upsert",
        json=[streetlight(1, "off"), streetlight(2)],
        headers=as_(operator, "astana"),
    )
    client.delete(f"{BASE}/entities/urn:ngsi-ld:Streetlight:2", headers=as_(operator, "astana"))
    auditor = key_for(client, "auditor")
    response = client.get(f"{ADMIN_API}/audit", params={"tenant": "astana"}, headers=auditor)
    assert response.status_code == 200
    rows = response.json()
    assert int(response.headers["results-count"]) == len(rows)
    assert rows[-1]["operation"] == "key.create"  # the operator's key, made by the admin
    rows = [r for r in rows if r["operation"].startswith(("entity.", "batch."))]
    assert len(rows) == 4
    kinds = [(r["operation"], r["entity_id"], r["change"]) for r in reversed(rows)]
    assert kinds == [
        ("entity.create", "urn:ngsi-ld:Streetlight:1", "create"),
        ("batch.upsert", "urn:ngsi-ld:Streetlight:1", "replace"),
        ("batch.upsert", "urn:ngsi-ld:Streetlight:2", "create"),
        ("entity.delete", "urn:ngsi-ld:Streetlight:2", "delete"),
    ]
    assert all(r["actor"].startswith("key:") and r["role"] == "city-operator" for r in rows)
    assert all(r["address"] for r in rows)
    one = client.get(
        f"{ADMIN_API}/audit", headers=auditor, params={"entityId": "urn:ngsi-ld:Streetlight:2"}
    ).json()
    assert len(one) == 2
    assert_problem(client.get(f"{ADMIN_API}/audit", headers=operator), 403)


def test_audit_searches_with_out_of_range_values_are_bad_requests(client: TestClient) -> None:
    for params in (
        {"since": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"until": "9999-12-31T23:59:59-01:00"},  # after year 9999 in UTC
        {"offset": "1000000001"},
        {"offset": str(2**64)},
    ):
        assert_problem(client.get(f"{ADMIN_API}/audit", params=params), 400)


def test_the_audit_log_is_append_only(client: TestClient, settings: Settings, backend: str) -> None:
    client.post(f"{BASE}/entities", json=streetlight(1))
    if backend == "sqlite":
        path = settings.database_url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute("UPDATE audit_log SET actor = 'someone else'")
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute("DELETE FROM audit_log")
        return

    async def tamper() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute("UPDATE audit_log SET actor = 'someone else'")
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute("DELETE FROM audit_log")
        finally:
            await conn.close()

    asyncio.run(tamper())


def test_temporal_writes_are_in_the_audit_log(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(tenant="astana"))
    instance = {"type": "Property", "value": "off", "observedAt": "2026-01-15T09:00:00Z"}
    response = client.post(
        f"{BASE}/temporal/entities/urn:ngsi-ld:Streetlight:1/attrs",
        json={"status": [instance]},
        headers=headers(tenant="astana"),
    )
    assert response.status_code == 204, response.text
    rows = client.get(f"{ADMIN_API}/audit", params={"tenant": "astana"}).json()
    temporal = [r for r in rows if r["operation"].startswith("temporal")]
    assert temporal and temporal[0]["entity_id"] == "urn:ngsi-ld:Streetlight:1"


def test_a_partner_reads_and_writes_history_only_where_it_may(client: TestClient) -> None:
    partner = key_for(client, "partner", "astana")
    client.post(f"{BASE}/entities", json=streetlight(1), headers=headers(tenant="astana"))
    spot = {"id": "urn:ngsi-ld:ParkingSpot:p1", "type": "ParkingSpot", "status": prop("free")}
    client.post(f"{BASE}/entities", json=spot, headers=as_(partner, "astana"))
    instance = {
        "status": [{"type": "Property", "value": "x", "observedAt": "2026-01-15T09:00:00Z"}]
    }
    city = f"{BASE}/temporal/entities/urn:ngsi-ld:Streetlight:1"
    own = f"{BASE}/temporal/entities/urn:ngsi-ld:ParkingSpot:p1"
    assert_problem(client.post(f"{city}/attrs", json=instance, headers=as_(partner, "astana")), 403)
    assert (
        client.post(f"{own}/attrs", json=instance, headers=as_(partner, "astana")).status_code
        == 204
    )
    assert_problem(client.get(city, headers=as_(partner, "astana")), 404)
    assert client.get(own, headers=as_(partner, "astana")).status_code == 200
    listed = client.get(
        f"{BASE}/temporal/entities",
        headers=as_(partner, "astana"),
        params={
            "type": "Streetlight,ParkingSpot",
            "timerel": "after",
            "timeAt": "2000-01-01T00:00:00Z",
        },
    ).json()
    assert [e["id"] for e in listed] == ["urn:ngsi-ld:ParkingSpot:p1"]
