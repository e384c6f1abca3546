"""Retention: old raw history becomes hourly aggregates that the temporal API still serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from temporal_support import SENSOR, TENANT, h, history, values
from typer.testing import CliRunner

from ngsi import BASE, prop
from qala.cli import app as cli
from qala.config import Settings

URL = f"{BASE}/temporal/entities"
OLD = [  # 2020-01-01: hour 10 has 1, 2, 3; hour 11 has 4
    ("2020-01-01T10:00:00Z", 1),
    ("2020-01-01T10:15:00Z", 2),
    ("2020-01-01T10:30:00Z", 3),
    ("2020-01-01T11:00:00Z", 4),
]


def recent() -> str:
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:00:00Z")


def post(client: TestClient, instances: list[tuple[str, float]]) -> None:
    body = {
        "id": SENSOR,
        "type": "AirQualityObserved",
        "pm25": [prop(v, observedAt=t) for t, v in instances],
    }
    response = client.post(URL, json=body, headers=h())
    assert response.status_code in (201, 204), response.text


@pytest.fixture
def qala(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the ``qala`` command against the test server's database."""
    monkeypatch.setenv("QALA_DATABASE_URL", settings.database_url)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    return run


def test_compaction_keeps_hourly_aggregates_of_old_data(client: TestClient, qala) -> None:  # type: ignore[no-untyped-def]
    post(client, [*OLD, (recent(), 10)])
    output = qala("temporal", "compact")
    assert "astana: 4 instances" in output
    got = history(
        client,
        options="aggregatedValues",
        aggrMethods="totalCount,avg,min,max,sum,sumsq",
        aggrPeriodDuration="PT1H",
        timerel="before",
        timeAt="2021-01-01T00:00:00Z",
    )["pm25"]
    assert [e[0] for e in got["totalCount"]] == [3, 1]
    assert [e[0] for e in got["avg"]] == [2.0, 4.0]
    assert [e[0] for e in got["min"]] == [1.0, 4.0]
    assert [e[0] for e in got["max"]] == [3.0, 4.0]
    assert [e[0] for e in got["sumsq"]] == [14.0, 16.0]
    assert got["avg"][0][1:] == ["2020-01-01T10:00:00Z", "2020-01-01T11:00:00Z"]
    # Old and recent data together: the raw part and the hourly part add up.
    whole = history(client, options="aggregatedValues", aggrMethods="totalCount,sum")["pm25"]
    assert whole["totalCount"][0][0] == 5 and whole["sum"][0][0] == 20.0


def test_instances_beyond_retention_are_hourly_means(client: TestClient, qala) -> None:  # type: ignore[no-untyped-def]
    post(client, [*OLD, (recent(), 10)])
    qala("temporal", "compact")
    instances = history(client)["pm25"]
    assert [i["value"] for i in instances] == [2.0, 4.0, 10]
    assert [i["observedAt"][:16] for i in instances[:2]] == ["2020-01-01T10:00", "2020-01-01T11:00"]
    assert instances[0]["instanceId"].startswith("urn:ngsi-ld:attribute:hourly:")
    assert instances[2]["instanceId"].startswith("urn:ngsi-ld:attribute:instance:")
    response = client.patch(
        f"{URL}/{SENSOR}/attrs/pm25/{instances[0]['instanceId']}", json={"value": 0}, headers=h()
    )
    assert response.status_code == 400


def test_compaction_is_repeatable_and_merges_late_data(client: TestClient, qala) -> None:  # type: ignore[no-untyped-def]
    post(client, OLD)
    qala("temporal", "compact")
    qala("temporal", "compact")
    post(client, [("2020-01-01T10:45:00Z", 6)])
    qala("temporal", "compact")
    got = history(
        client,
        options="aggregatedValues",
        aggrMethods="totalCount,avg,max",
        aggrPeriodDuration="PT1H",
        timerel="before",
        timeAt="2021-01-01T00:00:00Z",
    )["pm25"]
    assert [e[0] for e in got["totalCount"]] == [4, 1]
    assert [e[0] for e in got["avg"]] == [3.0, 4.0]
    assert [e[0] for e in got["max"]] == [6.0, 4.0]


def test_retention_is_per_tenant(client: TestClient, qala) -> None:  # type: ignore[no-untyped-def]
    post(client, OLD)
    assert "raw history kept 0 days" in qala("temporal", "retention", TENANT, "--days", "0")
    assert "nothing to compact" in qala("temporal", "compact", "--tenant", TENANT)
    assert len(values(client)) == 4
    qala("temporal", "retention", TENANT, "--days", "3650")
    qala("temporal", "compact")
    assert len(values(client)) == 4  # 2020 is within ten years
    qala("temporal", "retention", TENANT, "--days", "30")
    qala("temporal", "compact")
    assert [v for v, _ in values(client)] == [2.0, 4.0]
