"""Small helpers for NGSI-LD tests: headers, entity builders, ProblemDetails checks."""

from __future__ import annotations

from typing import Any

import httpx

BASE = "/ngsi-ld/v1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM = "https://smartdatamodels.org/context.jsonld"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


def link(url: str) -> str:
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def headers(tenant: str | None = None, context: str | None = None, **extra: str) -> dict[str, str]:
    out: dict[str, str] = {}
    if tenant:
        out["NGSILD-Tenant"] = tenant
    if context:
        out["Link"] = link(context)
    out.update(extra)
    return out


def prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


def rel(target: str, **members: Any) -> dict[str, Any]:
    return {"type": "Relationship", "object": target, **members}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def streetlight(
    number: int, status: str = "ok", lon: float = 71.4491, lat: float = 51.1694, **attrs: Any
) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Streetlight:{number}",
        "type": "Streetlight",
        "status": prop(status),
        "location": point(lon, lat),
        **attrs,
    }


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Assert that ``response`` is a ProblemDetails of ``kind`` with ``status``; return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == ERRORS + kind, body
    assert body["title"] and body["detail"], body
    return body
