"""What the Open311 HTTP tests share: API keys of each role, filing a request."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

ASTANA = "astana"


def new_key(client: TestClient, role: str, tenant: str | None = ASTANA) -> str:
    body: dict[str, Any] = {"role": role, "name": f"{role} test key"}
    if tenant is not None:
        body["tenant"] = tenant
    response = client.post("/qala/v1/keys", json=body)
    assert response.status_code == 201, response.text
    secret: str = response.json()["key"]
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def pothole(api_key: str, **extra: str) -> dict[str, str]:
    form = {
        "jurisdiction_id": ASTANA,
        "api_key": api_key,
        "service_code": "POTHOLE",
        "lat": "51.1282",
        "long": "71.4306",
        "attribute[size]": "large",
        "description": "Яма у остановки. Звоните +7 701 123 45 67, ИИН 900101300123",
        "first_name": "Айгерим",
        "last_name": "Сапарова",
        "email": "aigerim@example.kz",
        "phone": "+77011234567",
        "device_id": "device-42",
    }
    form.update(extra)
    return form


def file(client: TestClient, api_key: str, fmt: str = "json", **extra: str) -> str:
    response = client.post(f"/open311/v2/requests.{fmt}", data=pothole(api_key, **extra))
    assert response.status_code == 200, response.text
    if fmt == "json":
        rid: str = response.json()[0]["service_request_id"]
        return rid
    return response.text.split("<service_request_id>")[1].split("<")[0]
