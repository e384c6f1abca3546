"""Hostile values in every parameter and body of every operation: never a 5xx, always an
answer the OpenAPI document declares.

Random fuzzing (test_fuzz_api.py) rarely builds the values that break servers: nesting a
thousand levels deep, numbers of hundreds of digits, lists of thousands of names, dates past
year 9999 once in UTC, megabytes of text. This sweep sends each of them, one at a time, in each
query parameter, path parameter and tenant header of each operation (the other values taken
from the document's examples, on a server holding what they name), and a set of hostile JSON
bodies to each operation that takes one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
import schemathesis
from fastapi.testclient import TestClient
from fuzz_support import ADMIN, SPEC, body_example, path_examples
from schemathesis.core.failures import FailureGroup


def nested(opening: str, inner: str, closing: str, depth: int) -> str:
    return opening * depth + inner + closing * depth


#: Text for query parameters, path segments and headers.
HOSTILE_TEXT = [
    "",
    " ",
    "*",
    "-1",
    "1e999",
    "9" * 400,
    "-" + "9" * 400,
    "1.." + "9" * 400,
    "x" * 10_000,
    ",".join(f"a{n}" for n in range(2000)),
    nested("(", "a", ")", 500),
    nested("[", "1", "]", 500),
    "a" + nested("{a", "", "}", 500),
    "urn:ngsi-ld:null",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "P" + "9" * 400 + "Y",
    "%",
    "%zz",
    "\u202eurn:x:1\u200b",
    "\U0001f600" * 100,
    "a/../../b",
]

#: Header values: what HTTP can carry (latin-1), hostile to a tenant name.
HOSTILE_HEADERS = ["", "x" * 200, "a/b", "-a", "\xe9", "null", "urn:ngsi-ld:null"]


def deep_json(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


#: Request bodies (bytes, sent as application/json).
HOSTILE_BODIES = [
    b"",
    b"null",
    b"0",
    b'""',
    b"[]",
    b"{}",
    b"[{}]",
    b"1e400",
    b'{"a": 1e400}',
    b'{"a": ' + b"9" * 400 + b"}",
    b'{"id": "urn:a:\\u0000", "type": "T"}',
    b'{"\\u0000": 1}',
    orjson.dumps(deep_json(150)),
    orjson.dumps({"id": "urn:a:1", "type": "T", "a": deep_json(150)}),
    orjson.dumps({"id": "x" * 100_000, "type": "T"}),
    orjson.dumps([{"id": f"urn:a:{n}", "type": "T"} for n in range(3000)]),
    orjson.dumps(["urn:a:1"] * 3000),
    b'{"id": "urn:a:1", "type": "T", "a": {"type": "Property", "value": 1, "observedAt": '
    b'"0001-01-01T00:00:00+01:00"}}',
    b"\xff\xfe",
]

#: Not swept here: the dashboard's live stream never ends (its errors are tested in
#: tests/dashboard), and form-encoded Open311 bodies, which these JSON variants do not fit
#: (tests/open311/test_hostile_forms.py sweeps those).
NOT_SWEPT = {
    ("get", "/api/v1/dashboard/events"),
    ("post", "/open311/v2/requests.json"),
    ("post", "/open311/v2/requests.xml"),
    ("post", "/open311/v2/servicerequestupdates.json"),
    ("post", "/open311/v2/servicerequestupdates.xml"),
}
OPERATIONS = [
    (method, path)
    for path, item in SPEC["paths"].items()
    for method in item
    if (method, path) not in NOT_SWEPT
]


Variant = tuple[str, tuple[dict[str, str], dict[str, Any]]]


def variants(method: str, path: str) -> Iterator[Variant]:
    """(what is hostile, (path parameters, request arguments)): each hostile value in each
    place, one at a time."""
    operation = SPEC["paths"][path][method]
    examples = path_examples(path, method)
    has_body = "requestBody" in operation
    body = orjson.dumps(body_example(path, method)) if has_body else None

    def request(
        path_values: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = body,
    ) -> tuple[dict[str, str], dict[str, Any]]:
        url = path
        for name, value in {**examples, **(path_values or {})}.items():
            url = url.replace("{" + name + "}", quote(value, safe=":"))
        sent: dict[str, Any] = {**ADMIN}
        for header, value in (headers or {}).items():
            sent[header] = value.encode("latin-1")  # what HTTP carries
        if content is not None:
            sent["Content-Type"] = "application/json"
        arguments = {"url": url, "params": query, "headers": sent, "content": content}
        return {**examples, **(path_values or {})}, arguments

    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "query":
            for value in HOSTILE_TEXT:
                yield f"query {name}={value[:30]!r}", request(query={name: value})
        elif where == "path":
            for value in HOSTILE_TEXT:
                if value:  # an empty segment is another URL
                    yield f"path {name}={value[:30]!r}", request(path_values={name: value})
        elif where == "header":
            for value in HOSTILE_HEADERS:
                yield f"header {name}={value!r}", request(headers={name: value})
    if has_body:
        for content in HOSTILE_BODIES:
            yield f"body {content[:40]!r}", request(content=content)


def check_all(server: TestClient, method: str, path: str) -> None:
    operation = on_the_document[path][method.upper()]
    failures = []
    for what, (path_values, arguments) in variants(method, path):
        response = server.request(method.upper(), **arguments)
        response.request.read()
        try:
            assert response.status_code < 500, response.text
            # the answer, checked against the operation's declarations
            operation.Case(path_parameters=path_values).validate_response(response)
        except (AssertionError, FailureGroup) as exc:  # a check failed
            failures.append(f"{what}: {response.status_code} {_short(response)}: {exc}"[:600])
    assert not failures, f"{method.upper()} {path}:\n" + "\n".join(failures)


def _short(response: httpx.Response) -> str:
    return response.text[:200]


#: The checks of an answer against the document (the others judge generated requests).
CONFORMANCE = {
    "enabled": False,
    **{
        name: {"enabled": True}
        for name in (
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "response_headers_conformance",
        )
    },
}
on_the_document = schemathesis.openapi.from_dict(
    SPEC, config=schemathesis.Config.from_dict({"checks": CONFORMANCE})
)


@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS]
)
def test_hostile_values_get_a_documented_answer(server: TestClient, method: str, path: str) -> None:
    check_all(server, method, path)
