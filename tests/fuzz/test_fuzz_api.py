"""Every operation of Qala's OpenAPI document, fuzzed with schemathesis against a real server.

Each operation is one test per backend, run against a fresh server (its own database) seeded
with the resources the document's examples name (an entity, a temporal entity, a subscription,
an IoT service group and device, a tenant), so that example requests reach existing data.
Schemathesis sends, as the admin:

* the document's examples (examples phase);
* boundary and invalid values of every parameter, header and body, missing credentials,
  and methods the path does not serve (coverage phase; on SQLite only: such requests are
  refused before anything reaches the store);
* random valid and invalid requests (fuzzing phase): ``QALA_FUZZ_EXAMPLES`` per operation on
  SQLite (default 20), half as many on PostgreSQL.

Every response must be: no 5xx; a status code, content type and headers that the document
declares for the operation; a body valid against the declared schema; a 4xx for a request the
document says is invalid; a 401 without credentials; a 405 with an ``Allow`` header naming
exactly the documented methods. Two default checks are off: ``positive_data_acceptance`` (the
document cannot express NGSI-LD's rules — URIs, the query languages, existing entities — so a
schema-valid request may rightly be refused) and ``ignored_auth`` (it sends requests over the
network by itself; access control has its own tests in tests/auth).

Runs are deterministic: a fixed seed, derandomized Hypothesis, no example database. A deeper
run on a developer's machine: ``QALA_FUZZ_EXAMPLES=500 QALA_FUZZ_SEED=7 pytest tests/fuzz``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.core.result import Ok

from qala.app import create_app
from qala.config import Settings
from testkit import ADMIN_KEY

#: Schemathesis's strategies draw from the ``random`` module, which Hypothesis seeds for each
#: example (so runs stay reproducible) but warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)

EXAMPLES = int(os.environ.get("QALA_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("QALA_FUZZ_SEED", "1"))

#: The document the server publishes (building the application starts nothing).
SPEC: dict[str, Any] = create_app(Settings(database_url="sqlite://", mqtt_url="")).openapi()


def _config(*, examples: int, coverage: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {ADMIN_KEY}"},
            "generation": {
                "mode": "all",
                "max-examples": examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"coverage": {"enabled": coverage}, "stateful": {"enabled": False}},
            "checks": {
                "positive_data_acceptance": {"enabled": False},
                "ignored_auth": {"enabled": False},
            },
        }
    )


on_sqlite = schemathesis.openapi.from_dict(SPEC, config=_config(examples=EXAMPLES, coverage=True))
on_postgresql = schemathesis.openapi.from_dict(
    SPEC, config=_config(examples=max(1, EXAMPLES // 2), coverage=False)
)

#: Operations whose document examples create what the other examples name, in order.
SEEDS = [
    ("post", "/ngsi-ld/v1/entities"),
    ("post", "/ngsi-ld/v1/temporal/entities"),
    ("post", "/ngsi-ld/v1/subscriptions"),
    ("post", "/iot/services"),
    ("post", "/iot/devices"),
    ("patch", "/qala/v1/tenants/{name}"),
]


def example_request(method: str, path: str) -> tuple[str, Any]:
    """The URL (path parameters from their examples) and body example of an operation."""
    operation = SPEC["paths"][path][method]
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = parameter["schema"]["examples"][0]
            path = path.replace("{" + parameter["name"] + "}", value)
    return path, operation["requestBody"]["content"]["application/json"]["example"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """No rate limit: the fuzzer sends requests faster than any client should."""
    return Settings(
        database_url=database_url, allow_local_endpoints=True, mqtt_url="", rate_limit=0
    )


@pytest.fixture
def server(settings: Settings) -> Iterator[TestClient]:
    """A fresh server holding what the document's examples name. Schemathesis sets the
    credentials of each request itself (some on purpose lack them)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        for method, path in SEEDS:
            url, body = example_request(method, path)
            response = client.request(method, url, json=body, headers=admin)
            assert response.status_code < 300, (method, url, response.text)
        yield client


def send(client: TestClient, case: schemathesis.Case) -> httpx.Response:
    """Send a generated request as schemathesis would: the body serialized as it was
    generated, header values as latin-1 octets (what HTTP carries)."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    kwargs.pop("cookies", None)  # the document declares none
    if "json" in kwargs:
        kwargs["content"] = json.dumps(kwargs.pop("json")).encode()
    elif "data" in kwargs:
        kwargs["content"] = kwargs.pop("data")
    kwargs["headers"] = {
        name: value.encode("latin-1") if isinstance(value, str) else value
        for name, value in kwargs["headers"].items()
    }
    response = client.request(**kwargs)
    response.request.read()  # the checks read what was sent
    return response


def check(case: schemathesis.Case, server: TestClient) -> None:
    response = send(server, case)
    case.validate_response(response)


_SLOW_FIXTURE = hypothesis.settings(
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)


@on_sqlite.parametrize()
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@_SLOW_FIXTURE
def test_on_sqlite(case: schemathesis.Case, server: TestClient) -> None:
    check(case, server)


@on_postgresql.parametrize()
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@_SLOW_FIXTURE
def test_on_postgresql(case: schemathesis.Case, server: TestClient) -> None:
    check(case, server)


def test_every_operation_is_fuzzed() -> None:
    """The fuzz tests cover the whole document: a route added later is fuzzed too."""
    operations = {
        f"{method.upper()} {path}" for path, item in SPEC["paths"].items() for method in item
    }
    loaded = list(on_sqlite.get_all_operations())
    assert all(isinstance(result, Ok) for result in loaded), loaded
    assert {result.ok().label for result in loaded if isinstance(result, Ok)} == operations
    assert len(operations) >= 58
    assert not any(re.search(r"\{[^}]*:", path) for path in SPEC["paths"])
