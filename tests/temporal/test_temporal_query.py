"""Temporal queries: time windows, lastN, attrs, entity selection, representations, pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from temporal_support import (
    SENSOR,
    at,
    create,
    h,
    history,
    observe,
    query,
    sensor,
    temporal,
    values,
)

from ngsi import BASE, SDM, link, problem, prop
from qala.app import create_app
from qala.config import Settings
from testkit import ADMIN_KEY

HOURS = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]  # pm25 at 00:00 … 05:00


def times(pairs: list) -> list[str]:
    return [t[11:16] for _, t in pairs]


# -- time windows ----------------------------------------------------------------------------


def test_timerel_before_is_strictly_before(client: TestClient) -> None:
    observe(client, HOURS)
    got = values(client, timerel="before", timeAt=at(2))
    assert times(got) == ["00:00", "01:00"]


def test_timerel_after_is_strictly_after(client: TestClient) -> None:
    observe(client, HOURS)
    got = values(client, timerel="after", timeAt=at(3))
    assert times(got) == ["04:00", "05:00"]


def test_timerel_between_includes_the_start_and_excludes_the_end(client: TestClient) -> None:
    observe(client, HOURS)
    got = values(client, timerel="between", timeAt=at(1), endTimeAt=at(3))
    assert got == [[11.0, "2026-03-01T01:00:00Z"], [12.0, "2026-03-01T02:00:00Z"]]


def test_time_zones_in_time_at_are_honoured(client: TestClient) -> None:
    observe(client, HOURS)
    # 08:00 in Astana (UTC+5) is 03:00 UTC.
    got = values(client, timerel="before", timeAt="2026-03-01T08:00:00+05:00")
    assert times(got) == ["00:00", "01:00", "02:00"]


def test_timeproperty_modified_at_uses_the_recording_time(client: TestClient) -> None:
    observe(client, HOURS[:2])
    recorded = history(client, options="sysAttrs")["pm25"]
    first_modified = recorded[0]["modifiedAt"]
    by_observation = values(client, timerel="before", timeAt=at(1))
    assert len(by_observation) == 1
    by_modification = values(
        client, timeproperty="modifiedAt", timerel="after", timeAt=first_modified
    )
    # Both were written after March; the first at first_modified, the second later.
    assert [v for v, _ in by_modification] == [11.0]
    pairs = values(client, timeproperty="createdAt")
    assert pairs[0][1] == recorded[0]["createdAt"]


def test_last_n_gives_the_newest_instances_in_time_order(client: TestClient) -> None:
    observe(client, HOURS)
    assert times(values(client, lastN=2)) == ["04:00", "05:00"]
    assert times(values(client, lastN=2, timerel="before", timeAt=at(3))) == ["01:00", "02:00"]
    assert len(values(client, lastN=100)) == 6


def test_attrs_limits_the_attributes(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0)), no2=prop(2, observedAt=at(0))))
    body = history(client, attrs="no2")
    assert "no2" in body and "pm25" not in body


def test_attrs_naming_no_attribute_of_the_entity_is_404(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0))))
    problem(temporal(client, attrs="humidity"), 404, "ResourceNotFound")
    assert "pm25" in history(client, attrs="humidity,pm25")


def test_an_empty_window_gives_the_entity_without_attributes(client: TestClient) -> None:
    observe(client, HOURS)
    body = history(client, timerel="before", timeAt="2020-01-01T00:00:00Z")
    assert body == {"id": SENSOR, "type": "AirQualityObserved"}


def test_sys_attrs_add_created_and_modified_at(client: TestClient) -> None:
    observe(client, HOURS[:1])
    body = history(client, options="sysAttrs")
    assert "createdAt" in body
    [instance] = body["pm25"]
    assert instance["createdAt"] == instance["modifiedAt"]


def test_attribute_names_follow_the_requests_context(client: TestClient) -> None:
    body = {
        "id": SENSOR,
        "type": "AirQualityObserved",
        "pm25": prop(4, observedAt=at(0)),
    }
    response = client.post(f"{BASE}/entities", json=body, headers=h(Link=link(SDM)))
    assert response.status_code == 201, response.text
    with_context = client.get(f"{BASE}/temporal/entities/{SENSOR}", headers=h(Link=link(SDM)))
    assert "pm25" in with_context.json()
    bare = history(client)
    assert "https://smartdatamodels.org/dataModel.Environment/pm25" in bare


def test_json_ld_responses_carry_the_context(client: TestClient) -> None:
    observe(client, HOURS[:1])
    response = client.get(
        f"{BASE}/temporal/entities/{SENSOR}", headers=h(Accept="application/ld+json")
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ld+json"
    assert "@context" in response.json()


# -- entity selection ------------------------------------------------------------------------


def _three(client: TestClient) -> list[str]:
    ids = [f"urn:ngsi-ld:AirQualityObserved:astana:{n}" for n in (1, 2, 3)]
    for n, entity_id in enumerate(ids):
        create(client, sensor(entity_id, pm25=prop(10 * (n + 1), observedAt=at(0))))
        client.patch(
            f"{BASE}/entities/{entity_id}/attrs",
            json={"pm25": prop(10 * (n + 1) + 1, observedAt=at(1))},
            headers=h(),
        )
    create(
        client,
        {
            "id": "urn:ngsi-ld:Streetlight:1",
            "type": "Streetlight",
            "status": prop("ok", observedAt=at(0)),
        },
    )
    return ids


def test_query_by_type(client: TestClient) -> None:
    ids = _three(client)
    response = query(client, type="AirQualityObserved", options="temporalValues")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["id"] for e in body] == ids
    assert [v for v, _ in body[0]["pm25"]["values"]] == [10, 11]


def test_query_by_id_and_id_pattern(client: TestClient) -> None:
    ids = _three(client)
    got = query(client, id=f"{ids[0]},{ids[2]}", type="*").json()
    assert [e["id"] for e in got] == [ids[0], ids[2]]
    # As GET /entities, ids alone select nothing: they narrow a selection (ETSI 021_24)
    problem(query(client, id=ids[0]), 400, "BadRequestData")
    problem(query(client, idPattern=".*"), 400, "BadRequestData")
    got = query(client, idPattern=".*:[23]$", type="AirQualityObserved").json()
    assert [e["id"] for e in got] == ids[1:]


def test_entities_without_an_instance_in_the_window_are_left_out(client: TestClient) -> None:
    ids = _three(client)
    create(client, sensor(ids[0].replace(":1", ":4"), pm25=prop(40, observedAt=at(9))))
    response = query(client, type="AirQualityObserved", timerel="after", timeAt=at(5), count="true")
    assert [e["id"] for e in response.json()] == [ids[0].replace(":1", ":4")]
    assert response.headers["NGSILD-Results-Count"] == "1"
    # without a window, every entity of the type; one entity alone is still answered
    assert len(query(client, type="AirQualityObserved").json()) == 4
    lonely = temporal(client, ids[0], timerel="after", timeAt=at(5))
    assert lonely.json() == {"id": ids[0], "type": "AirQualityObserved"}


def test_query_by_attrs_selects_entities_having_them(client: TestClient) -> None:
    _three(client)
    got = query(client, attrs="status").json()
    assert [e["id"] for e in got] == ["urn:ngsi-ld:Streetlight:1"]


def test_q_is_evaluated_on_the_history_in_the_window(client: TestClient) -> None:
    ids = _three(client)  # pm25: 10 then 11, 20 then 21, 30 then 31 (00:00, 01:00)
    got = query(client, type="AirQualityObserved", q="pm25>15").json()
    assert [e["id"] for e in got] == ids[1:]
    # The history returned is the whole history (in the window) of the selected entities.
    assert len(got[0]["pm25"]) == 2
    # An entity matches if it matched at some instant of the window (GS CIM 009 5.7.4.4):
    # sensor 1 was 10 at 00:00 and is 11 now.
    got = query(client, type="AirQualityObserved", q="pm25<=10").json()
    assert [e["id"] for e in got] == ids[:1]
    assert query(client, type="AirQualityObserved", q="pm25<=10", timerel="after",
                 timeAt=at(0)).json() == []  # fmt: skip
    # A history without a current state (created with the temporal API) is matched too,
    # and a query on two attributes tests them at the same instant.
    archive = {
        "id": "urn:ngsi-ld:AirQualityObserved:astana:archive",
        "type": "AirQualityObserved",
        "pm25": [prop(50, observedAt=at(0)), prop(5, observedAt=at(2))],
        "no2": [prop(1, observedAt=at(1)), prop(90, observedAt=at(3))],
    }
    assert client.post(f"{BASE}/temporal/entities", json=archive, headers=h()).status_code == 201
    got = query(client, type="AirQualityObserved", q="pm25>40;no2<10").json()
    assert [e["id"] for e in got] == [archive["id"]]  # at 01:00: pm25 50, no2 1
    assert query(client, type="AirQualityObserved", q="pm25>40;no2>50").json() == []


def test_too_much_history_for_q_is_403(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"temporal_max_q_rows": 3}))
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as small:
        observe(small, HOURS)
        problem(query(small, type="AirQualityObserved", q="pm25>1"), 403, "TooManyResults")
        got = query(small, type="AirQualityObserved", q="pm25>1", timerel="after", timeAt=at(3))
        assert got.status_code == 200, got.text


def test_scope_q_selects_on_the_current_scope(client: TestClient) -> None:
    create(
        client,
        sensor(
            "urn:ngsi-ld:AirQualityObserved:astana:esil",
            scope="/Astana/Esil",
            pm25=prop(1, observedAt=at(0)),
        ),
    )
    create(
        client,
        sensor(
            "urn:ngsi-ld:AirQualityObserved:astana:baikonur",
            scope="/Astana/Baikonur",
            pm25=prop(2, observedAt=at(0)),
        ),
    )
    got = query(client, type="AirQualityObserved", scopeQ="/Astana/Esil").json()
    assert [e["id"] for e in got] == ["urn:ngsi-ld:AirQualityObserved:astana:esil"]


def test_geo_queries_select_on_the_locations_in_the_window(client: TestClient) -> None:
    create(
        client,
        sensor(
            "urn:ngsi-ld:AirQualityObserved:astana:near",
            location={
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [71.43, 51.13]},
            },
            pm25=prop(1, observedAt=at(0)),
        ),
    )
    create(
        client,
        sensor(
            "urn:ngsi-ld:AirQualityObserved:astana:far",
            location={
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [76.9, 43.2]},
            },
            pm25=prop(2, observedAt=at(0)),
        ),
    )
    near = {"georel": "near;maxDistance==5000", "geometry": "Point", "coordinates": "[71.43,51.13]"}
    response = query(client, type="AirQualityObserved", **near)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == ["urn:ngsi-ld:AirQualityObserved:astana:near"]
    # "far" was near on 1 March (a past position loaded into its history): in a window
    # holding only that, it is the one that matches
    point = {"type": "Point", "coordinates": [71.431, 51.131]}
    past = {"location": [{"type": "GeoProperty", "observedAt": at(0), "value": point}]}
    far = "urn:ngsi-ld:AirQualityObserved:astana:far"
    assert client.post(f"{BASE}/temporal/entities/{far}/attrs", json=past, headers=h()).is_success
    response = query(client, type="AirQualityObserved", **near, timerel="before", timeAt=at(1))
    assert [e["id"] for e in response.json()] == [far]


def test_deleted_entities_are_found_by_type(client: TestClient) -> None:
    ids = _three(client)
    client.delete(f"{BASE}/entities/{ids[0]}", headers=h())
    got = query(client, type="AirQualityObserved").json()
    assert [e["id"] for e in got] == ids
    assert "deletedAt" in got[0] and "deletedAt" not in got[1]


def test_post_query_takes_the_query_in_the_body(client: TestClient) -> None:
    ids = _three(client)
    body = {
        "type": "Query",
        "entities": [{"type": "AirQualityObserved", "idPattern": ".*:[12]$"}],
        "attrs": ["pm25"],
        "temporalQ": {"timerel": "before", "timeAt": at(1)},
    }
    response = client.post(
        f"{BASE}/temporal/entityOperations/query",
        json=body,
        params={"options": "temporalValues"},
        headers=h(),
    )
    assert response.status_code == 200, response.text
    got = response.json()
    assert [e["id"] for e in got] == ids[:2]
    assert [v for v, _ in got[1]["pm25"]["values"]] == [20]


def test_post_query_last_n_in_temporal_q(client: TestClient) -> None:
    _three(client)
    body = {
        "type": "Query",
        "entities": [{"type": "AirQualityObserved"}],
        "temporalQ": {"lastN": 1},
    }
    response = client.post(f"{BASE}/temporal/entityOperations/query", json=body, headers=h())
    assert response.status_code == 200, response.text
    assert all(len(e["pm25"]) == 1 for e in response.json())


# -- pagination ------------------------------------------------------------------------------


def test_entities_are_paged_with_count_and_links(client: TestClient) -> None:
    ids = _three(client)
    response = query(client, type="AirQualityObserved", limit=2, count="true")
    assert response.status_code == 200
    assert response.headers["NGSILD-Results-Count"] == "3"
    assert [e["id"] for e in response.json()] == ids[:2]
    assert 'rel="next"' in response.headers["link"]
    rest = query(client, type="AirQualityObserved", limit=2, offset=2)
    assert [e["id"] for e in rest.json()] == ids[2:]
    assert 'rel="prev"' in rest.headers["link"]


@pytest.fixture
def capped(settings: Settings) -> Iterator[TestClient]:
    """A server answering at most 3 instances per attribute."""
    app = create_app(settings.model_copy(update={"temporal_max_instances": 3}))
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as capped_client:
        yield capped_client


def test_more_instances_than_the_cap_give_206_and_a_content_range(capped: TestClient) -> None:
    observe(capped, HOURS)
    response = temporal(capped, options="temporalValues")
    assert response.status_code == 206, response.text
    assert response.headers["content-range"] == (
        "date-time 2026-03-01T00:00:00Z-2026-03-01T02:00:00Z/*"
    )
    assert times(response.json()["pm25"]["values"]) == ["00:00", "01:00", "02:00"]
    # The next page starts after the end of the range.
    following = temporal(
        capped, options="temporalValues", timerel="after", timeAt="2026-03-01T02:00:00.000Z"
    )
    assert following.status_code == 200  # the rest fits in one page
    assert times(following.json()["pm25"]["values"]) == ["03:00", "04:00", "05:00"]
    last = temporal(capped, timerel="after", timeAt="2026-03-01T05:00:00.000Z")
    assert last.status_code == 200


def test_within_the_cap_the_answer_is_complete(capped: TestClient) -> None:
    observe(capped, HOURS[:3])
    response = temporal(capped)
    assert response.status_code == 200
    assert "content-range" not in response.headers


def test_last_n_beyond_the_cap_gives_the_newest_page(capped: TestClient) -> None:
    observe(capped, HOURS)
    response = temporal(capped, lastN=5, options="temporalValues")
    assert response.status_code == 206
    assert times(response.json()["pm25"]["values"]) == ["03:00", "04:00", "05:00"]
    assert response.headers["content-range"] == (
        "date-time 2026-03-01T05:00:00Z-2026-03-01T03:00:00Z/5"
    )


def test_the_page_is_cut_at_one_instant_for_every_attribute(capped: TestClient) -> None:
    create(capped, sensor(pm25=prop(0, observedAt=at(0)), no2=prop(0, observedAt=at(0))))
    for hour in range(1, 5):
        capped.patch(
            f"{BASE}/entities/{SENSOR}/attrs",
            json={"pm25": prop(hour, observedAt=at(hour))},
            headers=h(),
        )
    capped.patch(
        f"{BASE}/entities/{SENSOR}/attrs", json={"no2": prop(9, observedAt=at(4))}, headers=h()
    )
    response = temporal(capped, options="temporalValues")
    assert response.status_code == 206
    body = response.json()
    assert times(body["pm25"]["values"]) == ["00:00", "01:00", "02:00"]
    assert times(body["no2"]["values"]) == ["00:00"]  # 04:00 is after the range


def test_an_attribute_the_page_cuts_entirely_is_given_empty(capped: TestClient) -> None:
    # ETSI 020_14: pm25 fills the page (00:00–02:00); no2 starts later, so it is [] here
    observe(capped, HOURS)
    late = {"no2": [prop(7, observedAt=at(9)), prop(8, observedAt=at(10))]}
    added = capped.post(f"{BASE}/temporal/entities/{SENSOR}/attrs", json=late, headers=h())
    assert added.is_success
    response = temporal(capped)
    assert response.status_code == 206
    assert len(response.json()["pm25"]) == 3 and response.json()["no2"] == []
    simplified = temporal(capped, options="temporalValues").json()
    assert simplified["no2"] == {"type": "Property", "values": []}
    # in a query, so is an entity with nothing in the page's range (ETSI 021_15)
    other = "urn:ngsi-ld:AirQualityObserved:astana:late"
    create(capped, sensor(other, pm25=prop(1, observedAt=at(20))))
    page = query(capped, type="AirQualityObserved")
    assert page.status_code == 206
    assert [(e["id"], e["pm25"] == []) for e in page.json()] == [(SENSOR, False), (other, True)]


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"timerel": "during", "timeAt": "2026-03-01T00:00:00Z"}, "timerel"),
        ({"timerel": "before"}, "needs timeAt"),
        ({"timerel": "between", "timeAt": "2026-03-01T00:00:00Z"}, "endTimeAt"),
        (
            {
                "timerel": "between",
                "timeAt": "2026-03-02T00:00:00Z",
                "endTimeAt": "2026-03-01T00:00:00Z",
            },
            "later",
        ),
        ({"timerel": "before", "timeAt": "yesterday"}, "timeAt"),
        ({"timerel": "before", "timeAt": "0001-01-01T00:00:00+01:00"}, "out of range"),
        ({"timeAt": "2026-03-01T00:00:00Z"}, "timerel"),
        ({"timeproperty": "observed"}, "timeproperty"),
        ({"lastN": "0"}, "lastN"),
        ({"lastN": "three"}, "lastN"),
        ({"options": "keyValues"}, "temporalValues"),
        ({"options": "temporalValues,aggregatedValues"}, "combined"),
        ({"options": "aggregatedValues"}, "aggrMethods"),
        ({"options": "aggregatedValues", "aggrMethods": "median"}, "median"),
        (
            {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1H"},
            "duration",
        ),
        ({"aggrMethods": "avg"}, "aggregatedValues"),
        ({"format": "temporalValues", "aggrMethods": "avg"}, "aggregatedValues"),
    ],
)
def test_bad_parameters_are_400(client: TestClient, params: dict, fragment: str) -> None:
    observe(client, HOURS[:1])
    body = problem(temporal(client, **params), 400, "BadRequestData")
    assert fragment in body["detail"]


def test_unknown_query_parameters_are_an_invalid_request(client: TestClient) -> None:
    observe(client, HOURS[:1])
    body = problem(temporal(client, invalidParams="x"), 400, "InvalidRequest")
    assert "invalidParams" in body["detail"]
    problem(query(client, type="AirQualityObserved", join="flat"), 400, "InvalidRequest")


def test_an_unknown_format_is_an_invalid_request_as_for_entities(client: TestClient) -> None:
    observe(client, HOURS[:1])
    body = problem(temporal(client, format="flat"), 400, "InvalidRequest")
    assert "format" in body["detail"]
    problem(query(client, type="AirQualityObserved", format="flat"), 400, "InvalidRequest")


def test_format_takes_precedence_over_options(client: TestClient) -> None:
    observe(client, HOURS[:2])
    expected = values(client)
    for params in (
        {"format": "temporalValues", "options": "aggregatedValues", "aggrMethods": "sum"},
        {"format": "temporalValues", "options": "sysAttrs,aggregatedValues"},
    ):
        body = history(client, **params)
        assert [list(pair) for pair in body["pm25"]["values"]] == expected
    body = history(client, format="normalized", options="temporalValues")
    assert [i["value"] for i in body["pm25"]] == HOURS[:2]


def test_unknown_options_are_400(client: TestClient) -> None:
    observe(client, HOURS[:1])
    response = temporal(client, options="bogus")
    assert response.status_code == 400 and "bogus" in response.json()["detail"]


def test_a_query_must_select_something(client: TestClient) -> None:
    body = problem(query(client), 400, "BadRequestData")
    assert "type" in body["detail"]


def test_local_true_selects_every_entity(client: TestClient) -> None:
    ids = _three(client)
    got = query(client, local="true").json()
    assert sorted(e["id"] for e in got) == sorted([*ids, "urn:ngsi-ld:Streetlight:1"])


def test_bad_entity_ids_and_unknown_entities(client: TestClient) -> None:
    observe(client, HOURS[:1])
    problem(client.get(f"{BASE}/temporal/entities/not a uri", headers=h()), 400, "BadRequestData")
    problem(temporal(client, "urn:ngsi-ld:Nothing:1"), 404, "ResourceNotFound")


def test_unknown_tenant_is_404(client: TestClient) -> None:
    problem(query(client, tenant="atlantis", type="AirQualityObserved"), 404, "NonexistentTenant")


def test_post_query_rejects_malformed_bodies(client: TestClient) -> None:
    url = f"{BASE}/temporal/entityOperations/query"
    assert client.post(url, json=[], headers=h()).status_code == 400
    for body in (
        {"type": "Subscription"},
        {"type": "Query", "entities": "all"},
        {"type": "Query", "temporalQ": "yesterday", "attrs": ["a"]},
        {"type": "Query", "attrs": "pm25"},
        {"type": "Query", "what": 1},
    ):
        problem(client.post(url, json=body, headers=h()), 400, "BadRequestData")


def test_too_large_pages_are_refused(client: TestClient) -> None:
    problem(query(client, type="AirQualityObserved", limit=100000), 403, "TooManyResults")


def test_an_offset_past_the_maximum_is_a_bad_request(client: TestClient) -> None:
    observe(client, HOURS[:1])
    for offset in ("1000000001", str(2**64)):
        problem(query(client, type="AirQualityObserved", offset=offset), 400, "BadRequestData")


# -- pick and omit (GS CIM 009 4.21) ---------------------------------------------------------


def test_pick_and_omit_project_attributes_and_entity_members(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0)), no2=prop(2, observedAt=at(0))))
    assert set(history(client, pick="pm25")) == {"pm25"}
    assert set(history(client, pick="id,no2")) == {"id", "no2"}
    assert set(history(client, omit="pm25")) == {"id", "type", "no2"}
    assert set(history(client, omit="type,no2", options="temporalValues")) == {"id", "pm25"}
    got = query(client, type="AirQualityObserved", pick="id").json()
    assert got == [{"id": SENSOR}]
    got = query(client, type="AirQualityObserved", omit="type,pm25").json()
    assert set(got[0]) == {"id", "no2"}


def test_pick_and_omit_errors(client: TestClient) -> None:
    create(client, sensor(pm25=prop(1, observedAt=at(0))))
    for params in ({"pick": "pm25", "omit": "pm25"}, {"pick": "pm25", "attrs": "pm25"},
                   {"omit": "pm25", "attrs": "pm25"}, {"pick": "pm25{a}"}):  # fmt: skip
        problem(temporal(client, **params), 400, "BadRequestData")
        problem(query(client, type="AirQualityObserved", **params), 400, "BadRequestData")
    # nothing left to return: as GET /entities/{id}, 404 (ETSI 020_23)
    problem(temporal(client, pick="unknown"), 404, "ResourceNotFound")
    problem(temporal(client, omit="id,type,pm25"), 404, "ResourceNotFound")
