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

import os
import re

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from fuzz_support import ADMIN, SPEC, request_kwargs, send
from schemathesis.core.result import Ok

#: Schemathesis's strategies draw from the ``random`` module, which Hypothesis seeds for each
#: example (so runs stay reproducible) but warns about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)

EXAMPLES = int(os.environ.get("QALA_FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("QALA_FUZZ_SEED", "1"))


def _config(*, examples: int, coverage: bool) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": ADMIN,
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


#: A server-sent event stream does not end: it is opened, its status and media type checked,
#: and closed (what it says is checked in tests/dashboard).
STREAMS = {"/api/v1/dashboard/events"}


def check(case: schemathesis.Case, server: TestClient) -> None:
    if case.operation.path in STREAMS:
        with server.stream(**request_kwargs(server, case)) as response:
            assert response.status_code < 500
            if response.status_code == 200:
                assert response.headers["content-type"].startswith("text/event-stream")
        return
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
