"""NGSI-LD entity queries over HTTP: GET /entities and POST /entityOperations/query.

Selection (type lists and expressions, id, idPattern, attrs, q, geo-queries), projection
(attrs, pick, omit), paging (limit, offset, count, Link), and the errors of each.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from ngsi import BASE, headers, point, problem, prop, rel

ASTANA = (71.4491, 51.1694)
# A square of about 4 km around the centre of Astana, and one far away in Almaty.
SQUARE = [[[71.43, 51.15], [71.47, 51.15], [71.47, 51.19], [71.43, 51.19], [71.43, 51.15]]]
ALMATY_SQUARE = [[[76.8, 43.2], [76.9, 43.2], [76.9, 43.3], [76.8, 43.3], [76.8, 43.2]]]


def city(client: TestClient) -> None:
    """Five entities of Astana (and one of Almaty) with varied types and attributes."""
    entities: list[dict[str, Any]] = [
        {
            "id": "urn:ngsi-ld:Streetlight:1",
            "type": "Streetlight",
            "status": prop("ok"),
            "power": prop(120, unitCode="WTT", observedAt="2026-01-15T09:00:00Z"),
            "lamp": prop({"kind": "LED", "watts": 40}, brand=prop("Kazlight")),
            "location": point(71.4491, 51.1694),
        },
        {
            "id": "urn:ngsi-ld:Streetlight:2",
            "type": ["Streetlight", "Device"],
            "status": prop("broken"),
            "power": prop(60),
            "lamp": prop({"kind": "sodium", "watts": 150}),
            "location": point(71.4600, 51.1800),
        },
        {
            "id": "urn:ngsi-ld:Streetlight:3",
            "type": "Streetlight",
            "status": prop("ok"),
            "power": prop(250),
            "location": point(71.4000, 51.1000),  # about 8 km south-west: outside SQUARE
        },
        {
            "id": "urn:ngsi-ld:ParkingSpot:1",
            "type": "ParkingSpot",
            "status": prop("free"),
            "refParkingSite": rel("urn:ngsi-ld:OffStreetParking:1"),
            "location": point(71.4480, 51.1690),
        },
        {
            "id": "urn:ngsi-ld:District:Esil",
            "type": "District",
            "name": prop("Esil"),
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Polygon", "coordinates": SQUARE},
            },
        },
        {
            "id": "urn:ngsi-ld:Streetlight:Almaty1",
            "type": "Streetlight",
            "status": prop("ok"),
            "location": point(76.8897, 43.2389),
        },
    ]
    response = client.post(f"{BASE}/entityOperations/create", json=entities)
    assert response.status_code == 201, response.text


def ids(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {e["id"] for e in response.json()}


def query(client: TestClient, **params: Any) -> Any:
    return client.get(f"{BASE}/entities", params=params)


# -- selection -----------------------------------------------------------------------------


def test_type_lists_and_type_expressions(client: TestClient) -> None:
    city(client)
    lights = {f"urn:ngsi-ld:Streetlight:{n}" for n in ("1", "2", "3", "Almaty1")}
    assert ids(query(client, type="Streetlight")) == lights
    # A comma (or a pipe) is OR, a semicolon AND; parentheses group.
    assert ids(query(client, type="Streetlight,ParkingSpot")) == lights | {
        "urn:ngsi-ld:ParkingSpot:1"
    }
    assert ids(query(client, type="ParkingSpot|District")) == {
        "urn:ngsi-ld:ParkingSpot:1",
        "urn:ngsi-ld:District:Esil",
    }
    assert ids(query(client, type="Streetlight;Device")) == {"urn:ngsi-ld:Streetlight:2"}
    assert ids(query(client, type="(Streetlight;Device)|District")) == {
        "urn:ngsi-ld:Streetlight:2",
        "urn:ngsi-ld:District:Esil",
    }
    assert ids(query(client, type="Nothing")) == set()
    for bad in ("(Streetlight", "Streetlight;", "Street light", ";Device"):
        problem(query(client, type=bad), 400, "BadRequestData")


def test_the_type_wildcard_and_local_select_every_entity(client: TestClient) -> None:
    city(client)
    assert len(ids(query(client, type="*"))) == 6
    assert len(ids(query(client, local="true"))) == 6


def test_a_query_needs_type_attrs_q_a_geo_query_or_local(client: TestClient) -> None:
    city(client)
    body = problem(query(client), 400, "BadRequestData")
    assert "local=true" in body["detail"]
    # An id list alone is not enough either (GS CIM 009 6.4.3.2).
    problem(query(client, id="urn:ngsi-ld:Streetlight:1"), 400, "BadRequestData")


def test_id_lists_and_id_patterns(client: TestClient) -> None:
    city(client)
    wanted = "urn:ngsi-ld:Streetlight:1,urn:ngsi-ld:ParkingSpot:1,urn:ngsi-ld:Streetlight:404"
    assert ids(query(client, type="Streetlight,ParkingSpot", id=wanted)) == {
        "urn:ngsi-ld:Streetlight:1",
        "urn:ngsi-ld:ParkingSpot:1",
    }
    # id and type must both hold.
    assert ids(query(client, type="District", id=wanted)) == set()
    assert ids(query(client, type="Streetlight", idPattern=r"^urn:ngsi-ld:Streetlight:\d+$")) == {
        "urn:ngsi-ld:Streetlight:1",
        "urn:ngsi-ld:Streetlight:2",
        "urn:ngsi-ld:Streetlight:3",
    }
    problem(query(client, type="Streetlight", id="not a uri"), 400, "BadRequestData")
    problem(query(client, type="Streetlight", idPattern="(unclosed"), 400, "BadRequestData")


def test_regular_expressions_run_in_linear_time(client: TestClient) -> None:
    """A pattern that makes a backtracking engine run for ever ((a+)+$ against a long run of
    a's and a b) is answered at once; syntax that needs backtracking is refused, saying so."""
    long_id = "urn:ngsi-ld:Streetlight:" + "a" * 60 + "b"
    created = client.post(
        f"{BASE}/entities",
        json={"id": long_id, "type": "Streetlight", "name": prop("a" * 60 + "b")},
    )
    assert created.status_code == 201, created.text
    assert ids(query(client, type="Streetlight", idPattern="(a+)+$")) == set()
    assert ids(query(client, type="Streetlight", idPattern="(a+)+b$")) == {long_id}
    assert ids(query(client, type="Streetlight", q='name~="^(a|aa)+$"')) == set()
    assert ids(query(client, type="Streetlight", q='name~="^(a|aa)+b$"')) == {long_id}
    nested = "(" * 500 + "a" + ")" * 500
    assert ids(query(client, type="Streetlight", idPattern=nested)) == {long_id}
    backreference = problem(
        query(client, type="Streetlight", idPattern=r"(a)\1"), 400, "BadRequestData"
    )
    assert "backreferences are not supported" in backreference["detail"]
    lookahead = problem(query(client, type="Streetlight", q='name~="(?=a)"'), 400, "BadRequestData")
    assert "lookaround is not supported" in lookahead["detail"]
    problem(query(client, type="Streetlight", idPattern="a" * 2000), 400, "BadRequestData")


def test_attrs_selects_entities_with_one_of_them_and_projects(client: TestClient) -> None:
    city(client)
    response = query(client, type="Streetlight,ParkingSpot", attrs="refParkingSite,lamp")
    assert ids(response) == {
        "urn:ngsi-ld:Streetlight:1",
        "urn:ngsi-ld:Streetlight:2",
        "urn:ngsi-ld:ParkingSpot:1",
    }
    for entity in response.json():
        assert set(entity) - {"id", "type"} <= {"refParkingSite", "lamp"}
    # id and type are entity members, not attribute names.
    problem(query(client, attrs="id,type"), 400, "BadRequestData")


def test_q_compares_values_and_walks_sub_attributes_and_compound_values(
    client: TestClient,
) -> None:
    city(client)
    sl = "urn:ngsi-ld:Streetlight:"
    assert ids(query(client, type="Streetlight", q="power>100")) == {sl + "1", sl + "3"}
    assert ids(query(client, type="Streetlight", q="power==60..130")) == {sl + "1", sl + "2"}
    assert ids(query(client, type="Streetlight", q='status=="broken"')) == {sl + "2"}
    assert ids(query(client, q='status=="ok";power<200')) == {sl + "1"}
    assert ids(query(client, q='status=="broken"|power>200')) == {sl + "2", sl + "3"}
    assert ids(query(client, q='status~="^br"')) == {sl + "2"}
    # a.b: sub-attribute b of attribute a; a[b]: member b inside a's (compound) value.
    assert ids(query(client, q='lamp.brand=="Kazlight"')) == {sl + "1"}
    assert ids(query(client, q='lamp[kind]=="sodium"')) == {sl + "2"}
    assert ids(query(client, q="lamp[watts]>=100")) == {sl + "2"}
    assert ids(query(client, q="lamp.kind")) == set()  # kind is no sub-attribute
    # Metadata: observedAt and unitCode of an attribute.
    assert ids(query(client, q="power.observedAt>2026-01-01T00:00:00Z")) == {sl + "1"}
    assert ids(query(client, q='power.unitCode=="WTT"')) == {sl + "1"}
    # Existence and its negation.
    assert ids(query(client, type="Streetlight", q="!lamp")) == {sl + "3", sl + "Almaty1"}
    assert ids(query(client, q="refParkingSite")) == {"urn:ngsi-ld:ParkingSpot:1"}
    assert ids(query(client, q='refParkingSite=="urn:ngsi-ld:OffStreetParking:1"')) == {
        "urn:ngsi-ld:ParkingSpot:1"
    }


def test_invalid_and_too_complex_q(client: TestClient) -> None:
    city(client)
    for bad in ("power>", "power=>3", '(status=="ok"', "power==1..", ")"):
        problem(query(client, type="Streetlight", q=bad), 400, "BadRequestData")
    huge = ";".join(f"power>{n}" for n in range(200))
    problem(query(client, type="Streetlight", q=huge), 403, "TooComplexQuery")


GEO_CASES: list[tuple[str, str, Any, set[str]]] = [
    (
        "near;maxDistance==2000",
        "Point",
        list(ASTANA),
        {
            "urn:ngsi-ld:Streetlight:1",
            "urn:ngsi-ld:Streetlight:2",
            "urn:ngsi-ld:ParkingSpot:1",
            "urn:ngsi-ld:District:Esil",  # the point is inside the district: distance 0
        },
    ),
    ("near;minDistance==100000", "Point", list(ASTANA), {"urn:ngsi-ld:Streetlight:Almaty1"}),
    (
        "within",
        "Polygon",
        SQUARE,
        {
            "urn:ngsi-ld:Streetlight:1",
            "urn:ngsi-ld:Streetlight:2",
            "urn:ngsi-ld:ParkingSpot:1",
            "urn:ngsi-ld:District:Esil",  # a geometry is within itself
        },
    ),
    (
        "contains",
        "Point",
        list(ASTANA),
        {"urn:ngsi-ld:District:Esil", "urn:ngsi-ld:Streetlight:1"},  # a point contains itself
    ),
    ("intersects", "Polygon", ALMATY_SQUARE, {"urn:ngsi-ld:Streetlight:Almaty1"}),
    (
        "disjoint",
        "Polygon",
        SQUARE,
        {"urn:ngsi-ld:Streetlight:3", "urn:ngsi-ld:Streetlight:Almaty1"},
    ),
    ("equals", "Point", [71.4480, 51.1690], {"urn:ngsi-ld:ParkingSpot:1"}),
    (
        "overlaps",
        "Polygon",
        [[[71.45, 51.17], [71.50, 51.17], [71.50, 51.21], [71.45, 51.21], [71.45, 51.17]]],
        {"urn:ngsi-ld:District:Esil"},
    ),
]


def test_geo_queries_with_each_georel(client: TestClient) -> None:
    city(client)
    for georel, geometry, coordinates, expected in GEO_CASES:
        got = query(
            client,
            type="Streetlight,ParkingSpot,District",
            georel=georel,
            geometry=geometry,
            coordinates=json.dumps(coordinates),
        )
        assert ids(got) == expected, georel
        # The same query in a Query object (geoQ with a real coordinates array).
        body = {
            "type": "Query",
            "entities": [{"type": "Streetlight"}, {"type": "ParkingSpot"}, {"type": "District"}],
            "geoQ": {"georel": georel, "geometry": geometry, "coordinates": coordinates},
        }
        assert ids(client.post(f"{BASE}/entityOperations/query", json=body)) == expected, georel


def test_invalid_geo_queries_are_bad_request_data(client: TestClient) -> None:
    city(client)
    point_json = json.dumps(list(ASTANA))
    cases = [
        {"georel": "near;maxDistance==500", "geometry": "Point"},  # no coordinates
        {"georel": "nearby", "geometry": "Point", "coordinates": point_json},
        {"georel": "near;maxDistance==-5", "geometry": "Point", "coordinates": point_json},
        {"georel": "within", "geometry": "Circle", "coordinates": point_json},
        {"georel": "within", "geometry": "Polygon", "coordinates": "[[[71.4,51.1],[71.5,51.1]]]"},
        {"georel": "within", "geometry": "Polygon", "coordinates": "not json"},
    ]
    for params in cases:
        problem(query(client, type="Streetlight", **params), 400, "BadRequestData")


# -- paging --------------------------------------------------------------------------------


def test_limit_offset_count_and_page_links(client: TestClient) -> None:
    city(client)
    first = query(client, type="Streetlight", limit=2, count="true")
    assert first.headers["NGSILD-Results-Count"] == "4"
    assert len(first.json()) == 2
    links = first.headers["link"]
    assert 'rel="next"' in links and 'rel="prev"' not in links
    assert "offset=2" in links and "limit=2" in links
    last = query(client, type="Streetlight", limit=2, offset=2, count="true")
    assert 'rel="prev"' in last.headers["link"] and 'rel="next"' not in last.headers["link"]
    # Pages are disjoint and together give every match.
    assert ids(first).isdisjoint(ids(last))
    assert len(ids(first) | ids(last)) == 4
    # Without count there is no count header; limit=0 with count is a pure count.
    assert "NGSILD-Results-Count" not in query(client, type="Streetlight").headers
    only_count = query(client, type="Streetlight", limit=0, count="true")
    assert only_count.json() == [] and only_count.headers["NGSILD-Results-Count"] == "4"


def test_paging_limits_and_errors(client: TestClient) -> None:
    city(client)
    problem(query(client, type="Streetlight", limit=100_000), 403, "TooManyResults")
    problem(query(client, type="Streetlight", limit=-1), 400, "BadRequestData")
    problem(query(client, type="Streetlight", offset="x"), 400, "BadRequestData")
    problem(query(client, type="Streetlight", count="maybe"), 400, "BadRequestData")


# -- projection ----------------------------------------------------------------------------


def test_pick_and_omit_project_query_results(client: TestClient) -> None:
    city(client)
    picked = query(client, type="Streetlight,ParkingSpot", pick="refParkingSite")
    # pick of attributes alone returns only the entities that have one of them
    assert picked.json() == [
        {"refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:1"}}
    ]
    with_id = query(client, type="ParkingSpot", pick="id|status").json()
    assert with_id == [{"id": "urn:ngsi-ld:ParkingSpot:1", "status": prop("free")}]
    omitted = query(client, type="District", omit="type,location").json()
    assert omitted == [{"id": "urn:ngsi-ld:District:Esil", "name": prop("Esil")}]
    keyvalues = query(client, type="District", omit="location", format="simplified").json()
    assert keyvalues == [{"id": "urn:ngsi-ld:District:Esil", "type": "District", "name": "Esil"}]


def test_malformed_projections_are_bad_request_data(client: TestClient) -> None:
    city(client)
    for params in (
        {"pick": "name", "omit": "name"},  # both ways at once
        {"pick": "name", "attrs": "status"},  # pick replaces attrs
        {"pick": "id,,name"},
        {"pick": "id,locatedAt{name"},
        {"pick": "id,locatedAt{}"},
        {"pick": ""},
        {"pick": "id,locatedAt{name}"},  # linked-entity projection needs join
    ):
        problem(query(client, type="District", **params), 400, "BadRequestData")


# -- POST /entityOperations/query -----------------------------------------------------------


def test_query_object_selects_like_the_query_parameters(client: TestClient) -> None:
    city(client)
    url = f"{BASE}/entityOperations/query"
    body = {
        "type": "Query",
        "entities": [
            {"type": "Streetlight", "idPattern": "Streetlight:[12]$"},
            {"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot"},
        ],
        "attrs": ["status"],
        "q": 'status!="broken"',
    }
    response = client.post(url, json=body, params={"count": "true"})
    assert ids(response) == {"urn:ngsi-ld:Streetlight:1", "urn:ngsi-ld:ParkingSpot:1"}
    assert response.headers["NGSILD-Results-Count"] == "2"
    assert all(set(e) == {"id", "type", "status"} for e in response.json())
    page = client.post(url, json=body, params={"limit": 1})
    assert len(page.json()) == 1 and 'rel="next"' in page.headers["link"]
    simplified = client.post(url, json=body, params={"options": "keyValues"}).json()
    assert {e["status"] for e in simplified} == {"ok", "free"}


def test_query_object_errors(client: TestClient) -> None:
    city(client)
    url = f"{BASE}/entityOperations/query"
    for body in (
        {"entities": [{"type": "Streetlight"}]},  # no "type": "Query"
        {"type": "Query", "entities": []},
        {"type": "Query", "entities": [{"type": 7}]},
        {"type": "Query", "attrs": "status"},
        {"type": "Query", "q": "power>"},
        {"type": "Query", "entities": [{"type": "Streetlight"}], "geoQ": {"georel": "within"}},
        {"type": "Query"},  # selects nothing: needs entities, attrs, q or geoQ
    ):
        problem(client.post(url, json=body), 400, "BadRequestData")
    problem(client.post(url, json=["not", "an", "object"]), 400, "InvalidRequest")


def test_unknown_query_parameters_are_invalid_requests(client: TestClient) -> None:
    city(client)
    body = problem(query(client, type="Streetlight", colour="red"), 400, "InvalidRequest")
    assert "colour" in body["detail"]
    problem(
        client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", params={"expand": "all"}),
        400,
        "InvalidRequest",
    )
    problem(client.get(f"{BASE}/types", params={"detail": "true"}), 400, "InvalidRequest")
    problem(
        client.post(f"{BASE}/entities", json={"id": "urn:a:b", "type": "T"}, params={"x": "1"}),
        400,
        "InvalidRequest",
    )


def test_queries_expand_names_with_the_request_context(client: TestClient) -> None:
    hosted = client.post(
        f"{BASE}/jsonldContexts", json={"@context": {"lux": "https://example.org/city#lux"}}
    )
    assert hosted.status_code == 201, hosted.text
    context = "http://testserver" + hosted.headers["location"]
    light = {"id": "urn:ngsi-ld:Streetlight:9", "type": "Streetlight", "lux": prop(5)}
    created = client.post(f"{BASE}/entities", json=light, headers=headers(context=context))
    assert created.status_code == 201, created.text
    with_context = client.get(
        f"{BASE}/entities",
        params={"type": "Streetlight", "q": "lux==5"},
        headers=headers(context=context),
    )
    assert ids(with_context) == {"urn:ngsi-ld:Streetlight:9"}
    assert with_context.json()[0]["lux"] == prop(5)
    # Without the context, lux is another attribute (in the default vocabulary).
    assert ids(query(client, type="Streetlight", q="lux==5")) == set()
    bare = query(client, type="Streetlight", attrs="https://example.org/city#lux").json()
    assert bare[0]["https://example.org/city#lux"] == prop(5)


def test_scope_queries(client: TestClient) -> None:
    scoped = [
        {**streetlight_entity(1), "scope": ["/Astana/Esil", "/Lights/LED"]},
        {**streetlight_entity(2), "scope": "/Astana/Almaty"},
        {**streetlight_entity(3), "scope": "/Lights/LED"},
        streetlight_entity(4),
    ]
    assert client.post(f"{BASE}/entityOperations/create", json=scoped).status_code == 201

    def scope(query_text: str) -> set[str]:
        got = query(client, type="Streetlight", scopeQ=query_text)
        return {e["id"].rsplit(":", 1)[1] for e in got.json()}

    assert scope("/Astana/Esil") == {"1"}
    assert scope("/Astana/#") == {"1", "2"}
    assert scope("/+/LED") == {"1", "3"}
    assert scope("/Astana/Almaty,/Lights/LED") == {"1", "2", "3"}
    assert scope("/Astana/#;/Lights/LED") == {"1"}
    assert scope("(/Astana/Esil;/Lights/LED)|/Astana/Almaty") == {"1", "2"}
    for bad in ("Astana", "(/Astana", "/Astana;", "/Astana//Esil"):
        problem(query(client, type="Streetlight", scopeQ=bad), 400, "BadRequestData")


def streetlight_entity(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Streetlight:{n}", "type": "Streetlight", "status": prop("ok")}
