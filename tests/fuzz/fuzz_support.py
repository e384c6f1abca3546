"""What the fuzz tests share: the published OpenAPI document, the resources its examples name,
and sending a schemathesis case through a Starlette test client."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import schemathesis
from fastapi.testclient import TestClient

from qala.app import create_app
from qala.config import Settings
from testkit import ADMIN_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}

#: The document the server publishes (building the application starts nothing).
SPEC: dict[str, Any] = create_app(Settings(database_url="sqlite://", mqtt_url="")).openapi()

#: Operations whose document examples create what the other examples name, in order.
SEEDS = [
    ("post", "/ngsi-ld/v1/entities"),
    ("post", "/ngsi-ld/v1/temporal/entities"),
    ("post", "/ngsi-ld/v1/subscriptions"),
    ("post", "/iot/services"),
    ("post", "/iot/devices"),
    ("patch", "/qala/v1/tenants/{name}"),
]


def path_examples(path: str, method: str) -> dict[str, str]:
    """The documented example of each path parameter of an operation."""
    parameters = SPEC["paths"][path][method].get("parameters", [])
    return {
        p["name"]: p["schema"].get("examples", [UNNAMED])[0]
        for p in parameters
        if p["in"] == "path"
    }


#: The value of a path parameter the document gives no example for: it names nothing, so the
#: operation answers its documented 404 (the parameters of the csources, Open311 and dashboard
#: operations still lack examples in the document).
UNNAMED = "unknown-1"


def body_example(path: str, method: str) -> Any:
    """The documented example of an operation's JSON request body."""
    return SPEC["paths"][path][method]["requestBody"]["content"]["application/json"]["example"]


def example_url(path: str, method: str) -> str:
    for name, value in path_examples(path, method).items():
        path = path.replace("{" + name + "}", value)
    return path


def seed(client: TestClient) -> None:
    """Create what the document's examples name (its example requests of SEEDS)."""
    for method, path in SEEDS:
        url = example_url(path, method)
        response = client.request(method, url, json=body_example(path, method), headers=ADMIN)
        assert response.status_code < 300, (method, url, response.text)


def send(client: TestClient, case: schemathesis.Case) -> httpx.Response:
    """Send a generated request as schemathesis would: the body serialized as it was
    generated, header values as latin-1 octets (what HTTP carries)."""
    response = client.request(**request_kwargs(client, case))
    response.request.read()  # the checks read what was sent
    return response


def request_kwargs(client: TestClient, case: schemathesis.Case) -> dict[str, Any]:
    """The arguments of ``client.request`` for a generated case (see :func:`send`)."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    kwargs.pop("cookies", None)  # the document declares none
    if "json" in kwargs:
        kwargs["content"] = json.dumps(kwargs.pop("json")).encode()
    elif "data" in kwargs:
        data = kwargs.pop("data")
        if isinstance(data, dict):  # a form (Open311): encoded as the client would
            data = urlencode(
                [(k, v) for k, vs in data.items() for v in (vs if isinstance(vs, list) else [vs])]
            ).encode()
        kwargs["content"] = data
    kwargs["headers"] = {
        name: value.encode("latin-1") if isinstance(value, str) else value
        for name, value in kwargs["headers"].items()
    }
    return kwargs
