"""Aggregated temporal representation: every method against hand-computed values, periods."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient
from temporal_support import SENSOR, at, h, history, observe

from ngsi import BASE, prop

# pm25 at 00:00 … 07:00. Mean 5; sum of squared deviations 32.
SERIES = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
ALL = "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq"


def aggregated(client: TestClient, **params: object) -> dict:
    return history(client, options="aggregatedValues", aggrMethods=ALL, **params)["pm25"]


def firsts(entries: list) -> list:
    return [entry[0] for entry in entries]


def test_two_hour_periods_from_time_at(client: TestClient) -> None:
    observe(client, SERIES)
    got = aggregated(
        client,
        aggrPeriodDuration="PT2H",
        timerel="between",
        timeAt=at(0),
        endTimeAt=at(8),
    )
    assert got["type"] == "Property"
    assert firsts(got["totalCount"]) == [2, 2, 2, 2]
    assert firsts(got["distinctCount"]) == [2, 1, 1, 2]
    assert firsts(got["sum"]) == [6.0, 8.0, 10.0, 16.0]
    assert firsts(got["avg"]) == [3.0, 4.0, 5.0, 8.0]
    assert firsts(got["min"]) == [2.0, 4.0, 5.0, 7.0]
    assert firsts(got["max"]) == [4.0, 4.0, 5.0, 9.0]
    assert firsts(got["sumsq"]) == [20.0, 32.0, 50.0, 130.0]
    assert firsts(got["stddev"]) == pytest.approx([math.sqrt(2), 0.0, 0.0, math.sqrt(2)])
    assert got["avg"][0][1:] == ["2026-03-01T00:00:00Z", "2026-03-01T02:00:00Z"]
    assert got["avg"][3][1:] == ["2026-03-01T06:00:00Z", "2026-03-01T08:00:00Z"]


def test_without_a_period_the_whole_range_is_one_period(client: TestClient) -> None:
    observe(client, SERIES)
    got = aggregated(client)
    assert got["totalCount"] == [[8, "2026-03-01T00:00:00Z", "2026-03-01T07:00:00Z"]]
    assert firsts(got["distinctCount"]) == [5]
    assert firsts(got["sum"]) == [40.0]
    assert firsts(got["avg"]) == [5.0]
    assert firsts(got["min"]) == [2.0] and firsts(got["max"]) == [9.0]
    assert firsts(got["sumsq"]) == [232.0]
    assert firsts(got["stddev"]) == pytest.approx([math.sqrt(32 / 7)])  # sample deviation
    window = aggregated(client, timerel="between", timeAt=at(2), endTimeAt=at(6))
    assert window["sum"] == [[18.0, "2026-03-01T02:00:00Z", "2026-03-01T06:00:00Z"]]
    same = aggregated(
        client, aggrPeriodDuration="P0D", timerel="between", timeAt=at(2), endTimeAt=at(6)
    )
    assert same["sum"] == window["sum"]


def test_only_the_requested_methods_are_returned(client: TestClient) -> None:
    observe(client, SERIES)
    got = history(client, format="aggregatedValues", aggrMethods="max,totalCount")["pm25"]
    assert set(got) == {"type", "max", "totalCount"}


def test_periods_without_instances_are_left_out(client: TestClient) -> None:
    observe(client, SERIES[:2])
    got = aggregated(
        client, aggrPeriodDuration="PT30M", timerel="between", timeAt=at(0), endTimeAt=at(3)
    )
    assert [e[1][11:16] for e in got["totalCount"]] == ["00:00", "01:00"]


def _post_instances(client: TestClient, instances: list[tuple[str, object]]) -> None:
    body = {
        "id": SENSOR,
        "type": "AirQualityObserved",
        "pm25": [prop(value, observedAt=when) for when, value in instances],
    }
    response = client.post(f"{BASE}/temporal/entities", json=body, headers=h())
    assert response.status_code == 201, response.text


def test_daily_periods(client: TestClient) -> None:
    _post_instances(
        client,
        [
            ("2026-03-01T10:00:00Z", 1),
            ("2026-03-01T20:00:00Z", 3),
            ("2026-03-02T09:00:00Z", 10),
            ("2026-03-04T09:00:00Z", 7),
        ],
    )
    got = history(
        client,
        options="aggregatedValues",
        aggrMethods="avg,totalCount",
        aggrPeriodDuration="P1D",
        timerel="between",
        timeAt="2026-03-01T00:00:00Z",
        endTimeAt="2026-03-05T00:00:00Z",
    )["pm25"]
    assert got["avg"] == [
        [2.0, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"],
        [10.0, "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"],
        [7.0, "2026-03-04T00:00:00Z", "2026-03-05T00:00:00Z"],
    ]


def test_calendar_months_are_months_not_thirty_days(client: TestClient) -> None:
    _post_instances(
        client,
        [
            ("2026-01-31T23:00:00Z", 1),
            ("2026-02-01T00:00:00Z", 2),
            ("2026-02-28T23:59:00Z", 4),
            ("2026-03-01T00:00:00Z", 8),
        ],
    )
    got = history(
        client,
        options="aggregatedValues",
        aggrMethods="sum",
        aggrPeriodDuration="P1M",
        timerel="between",
        timeAt="2026-01-01T00:00:00Z",
        endTimeAt="2026-04-01T00:00:00Z",
    )["pm25"]
    assert got["sum"] == [
        [1.0, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"],
        [6.0, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"],
        [8.0, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"],
    ]


def test_calendar_periods_need_a_closed_window(client: TestClient) -> None:
    observe(client, SERIES[:1])
    response = client.get(
        f"{BASE}/temporal/entities/{SENSOR}",
        params={"options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "P1M"},
        headers=h(),
    )
    assert response.status_code == 400
    assert "between" in response.json()["detail"]


def test_text_values_are_counted_but_have_no_numeric_aggregates(client: TestClient) -> None:
    observe(client, [1.0])
    for hour, state in enumerate(["ok", "ok", "broken"], start=1):
        response = client.post(
            f"{BASE}/entities/{SENSOR}/attrs",
            json={"status": prop(state, observedAt=at(hour))},
            headers=h(),
        )
        assert response.status_code == 204, response.text
    got = history(client, options="aggregatedValues", aggrMethods="totalCount,distinctCount,avg")[
        "status"
    ]
    assert firsts(got["totalCount"]) == [3]
    assert firsts(got["distinctCount"]) == [2]
    assert firsts(got["avg"]) == [None]


def test_deletions_are_not_counted(client: TestClient) -> None:
    observe(client, SERIES[:3])
    client.delete(f"{BASE}/entities/{SENSOR}/attrs/pm25", headers=h())
    got = history(client, options="aggregatedValues", aggrMethods="totalCount")["pm25"]
    assert firsts(got["totalCount"]) == [3]


def test_aggregation_over_several_entities_with_post_query(client: TestClient) -> None:
    observe(client, [1.0, 3.0])
    observe(client, [10.0, 30.0], entity_id="urn:ngsi-ld:AirQualityObserved:astana:2")
    response = client.post(
        f"{BASE}/temporal/entityOperations/query",
        params={"options": "aggregatedValues", "aggrMethods": "avg"},
        json={"type": "Query", "entities": [{"type": "AirQualityObserved"}]},
        headers=h(),
    )
    assert response.status_code == 200, response.text
    assert [firsts(e["pm25"]["avg"]) for e in response.json()] == [[2.0], [20.0]]


def test_periods_of_whole_hours_add_up_hourly_groups(client: TestClient) -> None:
    # Two readings per hour: 00:00, 00:30, 01:00, … so each PT2H period sums two hours.
    _post_instances(
        client, [(at(hour // 2, 30 * (hour % 2)), value) for hour, value in enumerate(SERIES)]
    )
    got = history(
        client,
        options="aggregatedValues",
        aggrMethods="totalCount,sum,avg,min,max,stddev,sumsq",
        aggrPeriodDuration="PT2H",
        timerel="between",
        timeAt=at(0),
        endTimeAt=at(4),
    )["pm25"]
    assert firsts(got["totalCount"]) == [4, 4]
    assert firsts(got["sum"]) == [14.0, 26.0]
    assert firsts(got["avg"]) == [3.5, 6.5]
    assert firsts(got["min"]) == [2.0, 5.0] and firsts(got["max"]) == [4.0, 9.0]
    assert firsts(got["sumsq"]) == [52.0, 180.0]
    assert firsts(got["stddev"]) == pytest.approx([1.0, math.sqrt(11 / 3)])
    hourly = history(
        client,
        options="aggregatedValues",
        aggrMethods="avg,totalCount",
        aggrPeriodDuration="PT1H",
        timerel="between",
        timeAt=at(0),
        endTimeAt=at(4),
    )["pm25"]
    assert firsts(hourly["avg"]) == [3.0, 4.0, 5.0, 8.0]
    assert hourly["avg"][3][1:] == ["2026-03-01T03:00:00Z", "2026-03-01T04:00:00Z"]


def test_without_time_at_periods_start_at_the_first_instance(client: TestClient) -> None:
    # As ETSI's TPs 020_11: instances from 12:03, PT1H periods are 12:03–13:03, 13:03–14:03, …
    _post_instances(
        client,
        [(at(12, 3), 67), (at(13, 5), 53), (at(14, 7), 40), (at(12, 5), 80)],
    )
    got = history(client, options="aggregatedValues", aggrMethods="avg", aggrPeriodDuration="PT1H")
    assert got["pm25"]["avg"] == [
        [73.5, "2026-03-01T12:03:00Z", "2026-03-01T13:03:00Z"],
        [53.0, "2026-03-01T13:03:00Z", "2026-03-01T14:03:00Z"],
        [40.0, "2026-03-01T14:03:00Z", "2026-03-01T15:03:00Z"],
    ]
    # timerel=before has no start either: still from the first instance in the window
    before = history(
        client,
        options="aggregatedValues",
        aggrMethods="totalCount",
        aggrPeriodDuration="P1D",
        timerel="before",
        timeAt=at(14),
    )
    assert before["pm25"]["totalCount"] == [[3, "2026-03-01T12:03:00Z", "2026-03-02T12:03:00Z"]]
