"""The OpenAPI document at /openapi.json: complete and precise enough for clients and tools.

It is what /docs shows and what the fuzz tests (test_fuzz_api.py) check every response
against, so these tests pin down its shape: one ProblemDetails schema referenced by every
error, a declared body and response for every operation, the security scheme.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qala.app import create_app
from qala.config import Settings
from qala.openapi import SCHEMAS

PROBLEM = {"$ref": "#/components/schemas/ProblemDetails"}
IOT_ERROR = {"$ref": "#/components/schemas/IotError"}
GEOREPORT_ERRORS = {"$ref": "#/components/schemas/GeoReportErrors"}
XML_TEXT = "text/xml"


def check_open311_error(path: str, status: str, response: dict[str, Any]) -> None:
    """Open311 errors are GeoReport errors in the path's format (the server's own 500/503,
    e.g. a request timeout, may also be ProblemDetails)."""
    where = f"{path} {status}"
    media = response["content"]
    server = status in ("500", "503")
    if path.endswith(".json"):
        assert set(media) == {"application/json"}, where
        schema = media["application/json"]["schema"]
        expected = {"anyOf": [GEOREPORT_ERRORS, PROBLEM]} if server else GEOREPORT_ERRORS
        assert schema == expected, where
    else:
        assert set(media) == ({XML_TEXT, "application/json"} if server else {XML_TEXT}), where
        assert media[XML_TEXT]["schema"]["type"] == "string", where


@pytest.fixture(scope="module")
def document(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as the server publishes it (no credentials needed)."""
    database = tmp_path_factory.mktemp("openapi") / "qala.db"
    shutil.copy(sqlite_template, database)
    settings = Settings(database_url=f"sqlite:///{database}", mqtt_url="")
    with TestClient(create_app(settings)) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_error_schemas_are_declared_once_and_fastapis_validation_error_is_gone(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["ProblemDetails"]["required"] == ["type", "title", "status", "detail"]
    assert schemas["IotError"]["required"] == ["name", "message"]
    assert set(SCHEMAS) <= set(schemas)
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert "HTTPValidationError" not in str(document["paths"])


def test_every_error_response_is_a_problem_details_or_an_iot_agent_error(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status < "400":
                continue
            where = f"{method} {path} {status}"
            if path.startswith("/open311/"):
                check_open311_error(path, status, response)
                continue
            if status == "411":  # GS CIM 009 6.3.4: a bare 411, without a body
                assert "content" not in response, where
                continue
            assert set(response["content"]) == {"application/json"}, where
            schema = response["content"]["application/json"]["schema"]
            if path == "/health" and status == "503":  # the store's state, or a timeout
                assert PROBLEM in schema["anyOf"], where
            elif not path.startswith("/iot/"):
                assert schema == PROBLEM, where
            elif status in ("500", "503"):  # the IoT Agent's, or the server's (timeouts)
                assert schema == {"anyOf": [IOT_ERROR, PROBLEM]}, where
            elif status in ("401", "429"):  # answered before the IoT Agent API is reached
                assert schema == PROBLEM, where
            else:
                assert schema == IOT_ERROR, where


def test_every_ngsi_ld_operation_with_a_body_declares_the_bare_411(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        if path.startswith("/ngsi-ld/") and "requestBody" in operation:
            assert "411" in operation["responses"], f"{method} {path}"


def test_every_operation_declares_its_success_and_the_errors_every_request_may_meet(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        responses = operation["responses"]
        successes = [s for s in responses if s.startswith("2")]
        assert successes, where
        for status in successes:
            for media, content in responses[status].get("content", {}).items():
                # FastAPI's placeholder for an undeclared body is {}: every body is declared
                assert content["schema"], f"{where} {status} {media}"
        assert {"429", "500", "503"} <= set(responses), where
        assert operation["summary"], where


def test_request_bodies_have_schemas_and_examples(document: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in operations(document):
        body = operation.get("requestBody")
        if body is None:
            assert method in ("GET", "DELETE"), f"{method} {path} has no request body"
            continue
        bodies += 1
        assert body["required"] is True
        if path.startswith("/open311/"):  # GeoReport v2 takes forms
            form = body["content"]["application/x-www-form-urlencoded"]
            assert form["schema"] and "example" in form, f"{method} {path}"
            continue
        json_body = body["content"]["application/json"]
        assert json_body["schema"] not in ({}, {"type": "object"}), f"{method} {path}"
        assert "example" in json_body, f"{method} {path}"
    assert bodies >= 25


def test_credentials_are_a_bearer_token_except_on_open_paths(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    open_operations = set()
    for method, path, operation in operations(document):
        if "security" in operation:
            assert operation["security"] == [{}, {"bearer": []}]
            assert "401" not in operation["responses"]
            if not path.startswith("/open311/"):  # GeoReport v2: public, api_key for POST
                open_operations.add(f"{method} {path}")
        else:
            assert "401" in operation["responses"], f"{method} {path}"
    assert open_operations == {
        "GET /health",
        "GET /ngsi-ld/v1/jsonldContexts/{contextId}",
        "POST /iot/json",
    }


def test_ngsi_ld_bodies_come_in_the_media_types_a_client_may_ask_for(
    document: dict[str, Any],
) -> None:
    entities = document["paths"]["/ngsi-ld/v1/entities"]
    listed = entities["get"]["responses"]["200"]["content"]
    assert set(listed) == {"application/json", "application/ld+json", "application/geo+json"}
    assert listed["application/geo+json"]["schema"] == {
        "$ref": "#/components/schemas/FeatureCollection"
    }
    create = entities["post"]
    assert set(create["requestBody"]["content"]) == {"application/json", "application/ld+json"}
    assert "Location" in create["responses"]["201"]["headers"]
    assert {"400", "409", "413", "415", "504"} <= set(create["responses"])
    merge = document["paths"]["/ngsi-ld/v1/entities/{entityId}"]["patch"]["requestBody"]
    assert "application/merge-patch+json" in merge["content"]
    batch = document["paths"]["/ngsi-ld/v1/entityOperations/create"]["post"]["responses"]
    assert batch["207"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchOperationResult"
    }
