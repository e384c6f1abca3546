"""Helpers of the temporal API tests: a city's sensors, their updates, temporal reads."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient

from ngsi import BASE, headers, prop

TENANT = "astana"
SENSOR = "urn:ngsi-ld:AirQualityObserved:astana:1"


def h(**extra: str) -> dict[str, str]:
    return headers(TENANT, **extra)


def at(hour: int, minute: int = 0, day: int = 1) -> str:
    """A time on 2026-03-<day> (UTC), the tests' observation day."""
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def sensor(entity_id: str = SENSOR, **attrs: Any) -> dict[str, Any]:
    return {"id": entity_id, "type": "AirQualityObserved", **attrs}


def create(client: TestClient, entity: dict[str, Any], tenant: str = TENANT) -> None:
    response = client.post(f"{BASE}/entities", json=entity, headers=headers(tenant))
    assert response.status_code == 201, response.text


def observe(
    client: TestClient, values: list[float], entity_id: str = SENSOR, attr: str = "pm25"
) -> None:
    """Create the sensor with the first value at 00:00, then one update per hour."""
    create(client, sensor(entity_id, **{attr: prop(values[0], observedAt=at(0))}))
    for hour, value in enumerate(values[1:], start=1):
        response = client.patch(
            f"{BASE}/entities/{entity_id}/attrs",
            json={attr: prop(value, observedAt=at(hour))},
            headers=h(),
        )
        assert response.status_code == 204, response.text


def temporal(
    client: TestClient, entity_id: str = SENSOR, tenant: str = TENANT, **params: Any
) -> httpx.Response:
    return client.get(
        f"{BASE}/temporal/entities/{entity_id}", params=params, headers=headers(tenant)
    )


def history(client: TestClient, entity_id: str = SENSOR, **params: Any) -> dict[str, Any]:
    response = temporal(client, entity_id, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def values(client: TestClient, attr: str = "pm25", entity_id: str = SENSOR, **params: Any) -> list:
    """``[[value, time], …]`` of an attribute (temporalValues)."""
    body = history(client, entity_id, options="temporalValues", **params)
    if attr not in body:
        return []
    return [list(pair) for pair in body[attr]["values"]]


def query(client: TestClient, tenant: str = TENANT, **params: Any) -> httpx.Response:
    return client.get(f"{BASE}/temporal/entities", params=params, headers=headers(tenant))
