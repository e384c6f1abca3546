"""Bad requests get a ProblemDetails in the NGSI-LD error format, never a 500, and write nothing.

Malformed JSON, identifiers that are not URIs, invalid geometries and attributes, unknown
options and parameters, media types (415, 406), body size (413), @context placement, and
@contexts that cannot be retrieved (504 LdContextNotAvailable).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ngsi import BASE, CORE, headers, link, problem, prop, streetlight
from qala.config import Settings

LIMIT = 4096


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The test server, with a small body limit to test it cheaply."""
    return Settings(database_url=database_url, allow_local_endpoints=True, max_body_bytes=LIMIT)


def create(client: TestClient, body: Any, **kw: Any) -> Any:
    return client.post(f"{BASE}/entities", json=body, **kw)


def nothing_written(client: TestClient) -> None:
    query = client.get(f"{BASE}/entities", params={"local": "true"})
    assert query.status_code == 200 and query.json() == [], query.text


def test_malformed_json_and_non_object_bodies_are_invalid_requests(client: TestClient) -> None:
    json_type = {"Content-Type": "application/json"}
    for raw in (b'{"id": "urn:a:1", "type": "T"', b"", b"{'id': 1}", b"\xff\xfe"):
        problem(
            client.post(f"{BASE}/entities", content=raw, headers=json_type), 400, "InvalidRequest"
        )
    for body in ([], "entity", 42):
        problem(create(client, body), 400, "InvalidRequest")
    patch = client.patch(f"{BASE}/entities/urn:a:1/attrs", content=b"[1]", headers=json_type)
    problem(patch, 400, "InvalidRequest")
    nothing_written(client)


BAD_IDS = [
    "Streetlight1",  # no scheme
    "urn:ngsi-ld:Street light:1",  # a space
    "urn:ngsi-ld:Streetlight:<1>",
    "urn:ngsi-ld:Streetlight:\u202e1",  # right-to-left override
    "urn:ngsi-ld:Streetlight:\u200b1",  # zero-width space
    "urn:ngsi-ld:Streetlight:\ufeff1",  # byte order mark
    "urn:ngsi-ld:Streetlight:\U000e01001",  # variation selector
    "urn:ngsi-ld:Streetlight:\u31641",  # Hangul filler
    "urn:ngsi-ld:Streetlight:1" + "x" * 2100,
    "",
]


def test_entity_ids_must_be_uris_without_invisible_characters(client: TestClient) -> None:
    for entity_id in BAD_IDS:
        entity = {"id": entity_id, "type": "Streetlight"}
        body = problem(create(client, entity), 400, "BadRequestData")
        assert "entity id" in body["detail"]
        relationship = streetlight(1, refDevice={"type": "Relationship", "object": entity_id})
        problem(create(client, relationship), 400, "BadRequestData")
    nothing_written(client)


def test_iri_ids_with_ordinary_non_ascii_characters_are_accepted(client: TestClient) -> None:
    entity_id = "urn:ngsi-ld:Көше:Астана-1"
    response = create(client, {"id": entity_id, "type": "Street", "name": prop("Абай")})
    assert response.status_code == 201, response.text
    # Location is a valid header: the IRI's characters are percent-encoded as UTF-8.
    location = response.headers["location"]
    assert location.isascii() and "%D0%9A" in location
    assert client.get(location).json()["id"] == entity_id
    # An http URL as id: '/' survives the round trip when percent-encoded.
    url_id = "https://data.astana.kz/streetlight/7"
    assert create(client, {"id": url_id, "type": "Streetlight"}).status_code == 201
    encoded = "https%3A%2F%2Fdata.astana.kz%2Fstreetlight%2F7"
    assert client.get(f"{BASE}/entities/{encoded}").json()["id"] == url_id
    appended = client.post(f"{BASE}/entities/{encoded}/attrs/", json={"lux": prop(1)})
    assert appended.status_code == 204, appended.text  # after the trailing-slash redirect
    assert client.delete(f"{BASE}/entities/{encoded}/attrs/lux").status_code == 204
    assert client.delete(f"{BASE}/entities/{encoded}").status_code == 204


def test_invalid_attributes_are_bad_request_data(client: TestClient) -> None:
    invalid: list[dict[str, Any]] = [
        {"status": {"type": "Property"}},  # no value
        {"status": {"type": "Property", "value": None}},
        {"status": None},
        {"status": {"type": "Attribute", "value": 1}},
        {"status": {"type": "Property", "value": 1, "object": "urn:a:b"}},
        {"refDevice": {"type": "Relationship", "object": "not a uri"}},
        {"status": {"type": "Property", "value": 1, "observedAt": "yesterday"}},
        {"status": {"type": "Property", "value": 1, "observedAt": "2026-01-15T09:00:00"}},
        {"status": {"type": "Property", "value": 1, "datasetId": "not a uri"}},
        {"name": {"type": "LanguageProperty", "languageMap": {"english!": "x"}}},
        {"location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [200, 0]}}},
        {"location": {"type": "GeoProperty", "value": {"type": "Point"}}},
        {
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
            }
        },
        {"location": {"type": "Property", "value": "Astana"}},
        {"bad name": prop(1)},
        {"a(b)": prop(1)},
    ]
    for attrs in invalid:
        entity = {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", **attrs}
        problem(create(client, entity), 400, "BadRequestData")
    for entity in (
        {"type": "Streetlight"},  # no id
        {"id": "urn:ngsi-ld:Streetlight:1"},  # no type
        {"id": "urn:ngsi-ld:Streetlight:1", "type": []},
        {"id": "urn:ngsi-ld:Streetlight:1", "type": "type"},  # a keyword, not a type
        {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "scope": "no-slash"},
    ):
        problem(create(client, entity), 400, "BadRequestData")
    nothing_written(client)


def test_unknown_options_formats_and_parameters_are_invalid_requests(client: TestClient) -> None:
    create(client, streetlight(1))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    problem(client.get(url, params={"options": "keyValues,fancy"}), 400, "InvalidRequest")
    problem(client.get(url, params={"format": "pretty"}), 400, "InvalidRequest")
    problem(client.get(url, params={"verbose": "true"}), 400, "InvalidRequest")
    problem(
        client.post(f"{url}/attrs", json={"lux": prop(1)}, params={"options": "replace"}),
        400,
        "InvalidRequest",
    )
    # Parameters are checked before the entity is looked up.
    problem(client.get(f"{BASE}/entities/urn:a:404", params={"format": "x"}), 400, "InvalidRequest")
    # Conflicting representations; the format parameter wins over options.
    problem(client.get(url, params={"options": "keyValues,concise"}), 400, "BadRequestData")
    chosen = client.get(url, params={"format": "keyValues", "options": "normalized"})
    assert chosen.json()["status"] == "ok"
    assert client.get(url, params={"options": "simplified"}).json()["status"] == "ok"


def test_media_types(client: TestClient) -> None:
    raw = b'{"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight"}'
    for kind in ("text/plain", "application/xml", ""):
        response = client.post(f"{BASE}/entities", content=raw, headers={"Content-Type": kind})
        assert response.status_code == 415, response.text
        assert response.json()["status"] == 415
    create(client, streetlight(1))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    merge_patch = {"Content-Type": "application/merge-patch+json"}
    patched = client.patch(f"{url}/attrs/status", content=b'{"value": "off"}', headers=merge_patch)
    assert patched.status_code == 204, patched.text
    not_acceptable = client.get(url, headers={"Accept": "text/html"})
    assert not_acceptable.status_code == 406 and not_acceptable.json()["status"] == 406
    assert client.get(url, headers={"Accept": "text/html, */*;q=0.1"}).status_code == 200
    as_ld = client.get(url, headers={"Accept": "application/ld+json"})
    assert as_ld.headers["content-type"] == "application/ld+json"


def test_bodies_over_the_limit_are_413(client: TestClient) -> None:
    big = streetlight(1, note=prop("x" * LIMIT))
    response = create(client, big)
    assert response.status_code == 413, response.text

    def chunks() -> Iterator[bytes]:
        yield b'{"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "note": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    # A body without Content-Length is refused before it is read: 411 (GS CIM 009 6.3.4), so
    # no unbounded body is ever read (tests/ngsild/test_length_required.py).
    streamed = client.post(
        f"{BASE}/entities", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 411
    nothing_written(client)


def test_the_context_goes_in_the_link_header_or_in_the_body_never_both(
    client: TestClient,
) -> None:
    in_body = {**streetlight(1), "@context": CORE}
    problem(create(client, in_body), 400, "BadRequestData")  # application/json with @context
    ld = {"Content-Type": "application/ld+json"}
    problem(create(client, streetlight(1), headers=ld), 400, "BadRequestData")  # no @context
    both = {**ld, "Link": link(CORE)}
    problem(create(client, in_body, headers=both), 400, "BadRequestData")
    problem(
        create(client, streetlight(1), headers={"Link": '<https://x.example/c>; rel="next"'}),
        400,
        "BadRequestData",
    )
    assert create(client, in_body, headers=ld).status_code == 201


def test_contexts_that_cannot_be_retrieved_are_ld_context_not_available(
    client: TestClient,
) -> None:
    nowhere = "http://127.0.0.1:9/context.jsonld"  # nothing listens on port 9
    body = problem(
        create(client, streetlight(1), headers=headers(context=nowhere)),
        504,
        "LdContextNotAvailable",
    )
    assert nowhere in body["detail"]
    ld = {"Content-Type": "application/ld+json"}
    problem(
        create(client, {**streetlight(1), "@context": [nowhere, CORE]}, headers=ld),
        504,
        "LdContextNotAvailable",
    )
    problem(
        client.get(
            f"{BASE}/entities", params={"type": "Streetlight"}, headers=headers(context=nowhere)
        ),
        504,
        "LdContextNotAvailable",
    )
    problem(create(client, {**streetlight(1), "@context": 5}, headers=ld), 400, "BadRequestData")
    problem(
        create(client, {**streetlight(1), "@context": {"a": {"@id": 5}}}, headers=ld),
        400,
        "BadRequestData",
    )
    nothing_written(client)


def test_errors_of_entity_operations(client: TestClient) -> None:
    create(client, streetlight(1))
    url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    problem(create(client, streetlight(1)), 409, "AlreadyExists")
    problem(client.get(f"{BASE}/entities/not-a-uri"), 400, "BadRequestData")
    problem(client.put(url, json={"id": "urn:ngsi-ld:Other:1", "type": "T"}), 400, "BadRequestData")
    problem(client.patch(url, json={}), 400, "BadRequestData")
    problem(client.patch(f"{url}/attrs/nothing", json={"value": 1}), 404, "ResourceNotFound")
    problem(
        client.patch(f"{url}/attrs/status", json={"type": "Relationship", "object": "urn:a:b"}),
        400,
        "BadRequestData",
    )
    problem(client.put(f"{url}/attrs/scope", json={"value": "/x"}), 400, "BadRequestData")
    problem(client.delete(f"{url}/attrs/nothing"), 404, "ResourceNotFound")
    problem(
        client.delete(f"{url}/attrs/status", params={"datasetId": "nope nope"}),
        400,
        "BadRequestData",
    )
    # URLs without an entity id.
    problem(client.put(f"{BASE}/entities/", json={"type": "T"}), 400, "BadRequestData")
    problem(client.post(f"{BASE}/entities//attrs", json={"a": prop(1)}), 400, "BadRequestData")
    problem(client.patch(f"{BASE}/entities//attrs/a", json={"value": 1}), 400, "BadRequestData")
    # Methods the resources do not offer.
    not_allowed = client.put(f"{BASE}/entities", json=[])
    assert not_allowed.status_code == 405 and not_allowed.json()["status"] == 405
    assert not_allowed.headers["allow"]
    # The entity is as it was.
    assert client.get(url).json() == {
        "id": "urn:ngsi-ld:Streetlight:1",
        "type": "Streetlight",
        "status": prop("ok"),
        "location": streetlight(1)["location"],
    }


def test_a_405_allow_header_lists_every_method_of_the_resource(client: TestClient) -> None:
    """RFC 9110: the Allow header of a 405 names all the methods the resource supports, not
    just those of one of its routes."""
    entity = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
    for path, allow in (
        (f"{BASE}/entities", "GET, POST, DELETE"),  # DELETE: Purge Entities (v1.9.1)
        (entity, "GET, PUT, PATCH, DELETE"),
        (f"{entity}/attrs", "POST, PATCH"),
        (f"{entity}/attrs/status", "PUT, PATCH, DELETE"),
        (f"{BASE}/subscriptions", "GET, POST"),
    ):
        response = client.request("OPTIONS", path)
        assert response.status_code == 405 and response.json()["status"] == 405, path
        assert response.headers["allow"] == allow, path


def test_numbers_and_dates_out_of_range_are_bad_request_data(client: TestClient) -> None:
    # A date-time before year 1 or after 9999 once converted to UTC.
    for observed in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        body = problem(
            create(client, streetlight(1, temperature=prop(20, observedAt=observed))),
            400,
            "BadRequestData",
        )
        assert "out of range" in body["detail"]
    # An offset beyond what any store holds.
    for offset in ("1000000001", str(2**64)):
        query = client.get(f"{BASE}/entities", params={"type": "Streetlight", "offset": offset})
        problem(query, 400, "BadRequestData")
        batch = client.post(
            f"{BASE}/entityOperations/query",
            params={"offset": offset},
            json={"type": "Query", "entities": [{"type": "Streetlight"}]},
        )
        problem(batch, 400, "BadRequestData")
    nothing_written(client)


def test_a_context_that_is_not_a_url_is_bad_request_data(client: TestClient) -> None:
    """Nothing can be retrieved for it: the request is at fault (400), not a remote server
    (504 LdContextNotAvailable)."""
    ld = {"Content-Type": "application/ld+json"}
    for context in ("not a url", "urn:example:context", "ftp://example.org/context.jsonld"):
        body = problem(
            create(client, {**streetlight(1), "@context": context}, headers=ld),
            400,
            "BadRequestData",
        )
        assert "not an http(s) URL" in body["detail"], body
        problem(
            client.post(f"{BASE}/jsonldContexts", json={"@context": context}),
            400,
            "BadRequestData",
        )
    nothing_written(client)


def test_what_no_store_can_hold_is_bad_request_data(client: TestClient) -> None:
    """U+0000 (PostgreSQL stores none) and JSON nested over 100 levels are refused on every
    store alike, so that data can move between them."""
    nested: Any = 1
    for _ in range(100):
        nested = [nested]
    for body in (
        streetlight(1, note=prop("a\x00b")),
        streetlight(1, note=prop({"key\x00": 1})),
        {**streetlight(1), "id": "urn:ngsi-ld:Streetlight:\x001"},
        streetlight(1, note=prop(nested)),
    ):
        problem(create(client, body), 400, "BadRequestData")
    problem(client.post(f"{BASE}/entityOperations/upsert", json=[body]), 400, "BadRequestData")
    for url in (
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:%001",
        f"{BASE}/entities?type=Streetlight&q=status==%22a%00%22",
        f"{BASE}/types/Street%00light",
        "/qala/v1/audit?tenant=a%00",
    ):
        body = problem(client.get(url), 400, "InvalidRequest")
        assert "U+0000" in body["detail"], url
    nothing_written(client)


def _nested(opening: str, inner: str, closing: str, depth: int) -> str:
    return opening * depth + inner + closing * depth


NAMES = [f"a{n}" for n in range(1000)]
PATHOLOGICAL_QUERIES = [
    # (query parameters, status, error type): what once made a parser or the SQL give up
    ({"type": _nested("(", "Streetlight", ")", 1000)}, 403, "TooComplexQuery"),
    ({"type": "Streetlight", "scopeQ": _nested("(", "/a", ")", 1000)}, 403, "TooComplexQuery"),
    ({"type": "Streetlight", "attrs": ",".join(NAMES)}, 403, "TooComplexQuery"),
    ({"type": "Streetlight", "pick": ",".join(NAMES)}, 403, "TooComplexQuery"),
    ({"type": "Streetlight", "pick": "a" + _nested("{a", "", "}", 1000)}, 400, "BadRequestData"),
    ({"type": "Streetlight", "q": "status==" + "9" * 400}, 400, "BadRequestData"),
    ({"type": "Streetlight", "q": "status==1.." + "9" * 400}, 400, "BadRequestData"),
    (
        {
            "type": "Streetlight",
            "georel": "within",
            "geometry": "Polygon",
            "coordinates": _nested("[", "1", "]", 1000),
        },
        400,
        "BadRequestData",
    ),
]


@pytest.mark.parametrize(("params", "status", "kind"), PATHOLOGICAL_QUERIES)
def test_pathological_query_parameters_are_refused(
    client: TestClient, params: dict[str, str], status: int, kind: str
) -> None:
    create(client, streetlight(1))
    problem(client.get(f"{BASE}/entities", params=params), status, kind)
    if "pick" in params:
        url = f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"
        problem(client.get(url, params={"omit": params["pick"]}), status, kind)
