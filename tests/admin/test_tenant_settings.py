"""Tenant settings, and Smart Data Models validation switched on per tenant."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ngsi import BASE, SDM, headers, point, problem, prop

ADMIN = "/qala/v1/tenants"


def air_quality(number: int, pm25: object) -> dict:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:{number}",
        "type": "AirQualityObserved",
        "dateObserved": prop("2026-01-15T09:00:00Z"),
        "location": point(71.45, 51.17),
        "pm25": prop(pm25, unitCode="GQ"),
    }


def test_settings_are_listed_and_changed(client: TestClient) -> None:
    response = client.patch(
        f"{ADMIN}/astana", json={"settings": {"validation": "smart-data-models"}}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "astana", "settings": {"validation": "smart-data-models"}}
    assert client.get(f"{ADMIN}/astana").json()["settings"] == {"validation": "smart-data-models"}
    assert "astana" in [t["name"] for t in client.get(ADMIN).json()]


def test_unknown_settings_and_values_are_refused(client: TestClient) -> None:
    problem(
        client.patch(f"{ADMIN}/astana", json={"settings": {"colour": "blue"}}),
        400,
        "BadRequestData",
    )
    problem(
        client.patch(f"{ADMIN}/astana", json={"settings": {"validation": "strict"}}),
        400,
        "BadRequestData",
    )
    problem(client.get(f"{ADMIN}/nowhere"), 404, "ResourceNotFound")


def test_validation_refuses_entities_that_break_their_smart_data_model(
    client: TestClient,
) -> None:
    client.patch(f"{ADMIN}/almaty", json={"settings": {"validation": "smart-data-models"}})
    h = headers(tenant="almaty", context=SDM)
    body = problem(
        client.post(f"{BASE}/entities", json=air_quality(1, "high"), headers=h),
        400,
        "BadRequestData",
    )
    assert "pm25" in body["detail"] and "AirQualityObserved" in body["detail"]
    problem(
        client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:1", headers=h),
        404,
        "ResourceNotFound",
    )
    assert client.post(f"{BASE}/entities", json=air_quality(2, 31.5), headers=h).status_code == 201
    # An update that breaks the model is refused too, and leaves the entity as it was.
    bad = client.patch(
        f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2/attrs",
        json={"pm25": prop("very high")},
        headers=h,
    )
    problem(bad, 400, "BadRequestData")
    got = client.get(f"{BASE}/entities/urn:ngsi-ld:AirQualityObserved:2", headers=h).json()
    assert got["pm25"]["value"] == 31.5


def test_tenants_without_the_setting_are_not_validated(client: TestClient) -> None:
    client.patch(f"{ADMIN}/almaty", json={"settings": {"validation": "smart-data-models"}})
    h = headers(tenant="shymkent", context=SDM)
    assert (
        client.post(f"{BASE}/entities", json=air_quality(1, "high"), headers=h).status_code == 201
    )


def test_temporal_retention_is_a_tenant_setting(client: TestClient) -> None:
    response = client.patch(f"{ADMIN}/astana", json={"settings": {"temporalRetentionDays": 90}})
    assert response.status_code == 200, response.text
    assert response.json()["settings"]["temporalRetentionDays"] == 90
    for bad in (0, -1, "90", 1.5, True):
        problem(
            client.patch(f"{ADMIN}/astana", json={"settings": {"temporalRetentionDays": bad}}),
            400,
            "BadRequestData",
        )
