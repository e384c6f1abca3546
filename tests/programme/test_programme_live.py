"""The live hub adapter and the CLI: verification reading real entities through the hub's
public face, and ``qala programme import|verify`` / ``qala audit`` on a store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ngsi import BASE, SDM, headers
from qala.cli import app
from qala.hub import BadRequestData
from qala.programme.hub_inputs import NO_INDICATOR_READER, HubInputs
from qala.programme.inputs import Unavailable

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _light(n: int, method: str, seen: datetime | None, district: str | None = None) -> dict:
    entity: dict = {
        "id": f"urn:ngsi-ld:Streetlight:astana:{n:03d}",
        "type": "Streetlight",
        "controllingMethod": {"type": "Property", "value": method},
    }
    if seen is not None:
        entity["powerState"] = {"type": "Property", "value": "on", "observedAt": _iso(seen)}
    if district is not None:
        entity["address"] = {
            "type": "Property",
            "value": {"addressLocality": "Astana", "district": district},
        }
    return entity


@pytest.fixture
def hub_inputs(client: TestClient) -> HubInputs:
    lights = [
        _light(1, "individual", NOW - timedelta(hours=2), "Yesil"),  # delivered
        _light(2, "individual", NOW - timedelta(hours=1), "Saryarka"),  # delivered
        _light(3, "individual", NOW - timedelta(days=2), "Nura"),  # silent
        _light(4, "group", NOW - timedelta(minutes=1), "Nura"),  # q does not match
        _light(5, "individual", NOW + timedelta(hours=1)),  # reported after the moment
    ]
    response = client.post(
        f"{BASE}/entityOperations/upsert", json=lights, headers=headers("astana", SDM)
    )
    assert response.status_code in (201, 204), response.text
    svc = client.app.state.services
    return client.portal.call(HubInputs.open, svc.hub, svc.contexts)


def _count(client: TestClient, inputs: HubInputs, *args: object):  # type: ignore[no-untyped-def]
    return client.portal.call(inputs.count, *args)


def test_the_live_adapter_counts_matching_and_reporting_entities_with_their_districts(
    client: TestClient, hub_inputs: HubInputs
) -> None:
    found = _count(
        client,
        hub_inputs,
        "astana",
        "Streetlight",
        'controllingMethod=="individual"',
        timedelta(hours=24),
        NOW,
    )
    assert (found.matching, found.reporting) == (4, 2)
    assert found.sample == (
        "urn:ngsi-ld:Streetlight:astana:001",
        "urn:ngsi-ld:Streetlight:astana:002",
    )
    assert "urn:ngsi-ld:Streetlight:astana:003" in found.silent_sample
    assert found.areas == frozenset({"Yesil", "Saryarka"})


def test_the_live_adapter_finds_nothing_when_q_matches_nothing_or_the_city_is_empty(
    client: TestClient, hub_inputs: HubInputs
) -> None:
    none = _count(
        client,
        hub_inputs,
        "astana",
        "Streetlight",
        'controllingMethod=="remote"',
        timedelta(hours=24),
        NOW,
    )
    assert (none.matching, none.reporting, none.sample) == (0, 0, ())
    elsewhere = _count(client, hub_inputs, "nowhere", "Streetlight", None, timedelta(hours=24), NOW)
    assert (elsewhere.matching, elsewhere.reporting) == (0, 0)
    everything = _count(client, hub_inputs, "astana", "Streetlight", None, timedelta(hours=1), NOW)
    assert (everything.matching, everything.reporting) == (5, 1)  # only no. 4, a minute ago
    with pytest.raises(BadRequestData):
        _count(client, hub_inputs, "astana", "Streetlight", "(((", timedelta(hours=1), NOW)


def test_an_entity_without_observed_at_reports_by_its_modification_time(
    client: TestClient,
) -> None:
    response = client.post(
        f"{BASE}/entities", json=_light(9, "group", None), headers=headers("astana", SDM)
    )
    assert response.status_code == 201, response.text
    svc = client.app.state.services
    inputs = client.portal.call(HubInputs.open, svc.hub, svc.contexts)
    now = datetime.now(UTC)
    fresh = _count(client, inputs, "astana", "Streetlight", None, timedelta(minutes=10), now)
    assert (fresh.matching, fresh.reporting) == (1, 1)


def test_indicator_values_are_the_kpi_entities_the_indicators_capability_published(
    client: TestClient, hub_inputs: HubInputs
) -> None:
    key = client.post("/qala/v1/keys", json={"role": "city-operator", "tenant": "astana"})
    operator = {"Authorization": f"Bearer {key.json()['key']}"}
    now = datetime.now(UTC)
    month, year = now.strftime("%Y-%m"), now.strftime("%Y")
    for period in (year, month):
        done = client.post("/api/v1/indicators/compute", headers=operator,
                           json={"tenant": "astana", "period": period})  # fmt: skip
        assert done.status_code == 200, done.text
    published = {}
    for period in (year, month):
        values = client.get("/api/v1/indicators/values", headers=operator, params={
            "tenant": "astana", "period": period, "indicator": "iso37122:7.6"}).json()  # fmt: skip
        published[period] = values[0]["value"]
    assert None not in published.values()
    this_year = datetime(now.year, 1, 1, tzinfo=UTC)
    readings = client.portal.call(
        hub_inputs.indicator_values, "astana", "iso37122:7.6", this_year, now
    )
    # the year's, then the month's (the shorter period comes last)
    assert [r.value for r in readings] == [published[year], published[month]]
    assert all(r.at == now for r in readings)  # both periods still running
    this_month = datetime(now.year, now.month, 1, tzinfo=UTC)
    assert len(client.portal.call(
        hub_inputs.indicator_values, "astana", "iso37122:7.6", this_month, now)) == 1  # fmt: skip
    # an indicator never computed, a not-computable one (no SO₂ data), another city: nothing
    for tenant, indicator in (("astana", "qala:energy/ev-charging-points"),
                              ("astana", "iso37120:8.6"), ("almaty", "iso37122:7.6")):  # fmt: skip
        assert client.portal.call(
            hub_inputs.indicator_values, tenant, indicator, this_year, now) == []  # fmt: skip


def test_without_the_indicators_capability_values_are_unavailable(client: TestClient) -> None:
    svc = client.app.state.services
    inputs = client.portal.call(
        lambda: HubInputs.open(svc.hub, svc.contexts, indicators=False)
    )
    with pytest.raises(Unavailable) as caught:
        client.portal.call(inputs.indicator_values, "astana", "x", NOW, NOW)
    assert caught.value.reason == NO_INDICATOR_READER


def test_the_cli_imports_verifies_and_prints_the_audit(database_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    projects = tmp_path / "projects.csv"
    projects.write_text(
        "id,tenant,title,status,startDate,endDate,budget\n"
        "P1,astana,Lights,implementation,2019-01-01,2021-12-31,1000000\n"
    )
    deliverables = tmp_path / "deliverables.csv"
    deliverables.write_text(
        "id,project,title,type,count,freshWithin\nD1,P1,Lights reporting,Streetlight,10,PT24H\n"
    )
    for path in (projects, deliverables):
        done = runner.invoke(
            app, ["programme", "import", str(path), "--programme", "pm", "--db", database_url]
        )
        assert done.exit_code == 0, done.output
        assert "imported 1 revisions" in done.stdout
    bad = tmp_path / "contracts.csv"
    bad.write_text("id,project,title,contractor,value\nC1,P1,Supply,Jaryq,1.5e3\n")
    failed = runner.invoke(
        app, ["programme", "import", str(bad), "--programme", "pm", "--db", database_url]
    )
    assert failed.exit_code == 1 and "contracts row 2, column value" in failed.output

    verified = runner.invoke(
        app,
        ["programme", "verify", "--programme", "pm", "--tenant", "astana", "--db", database_url],
    )
    assert verified.exit_code == 0, verified.output
    assert "D1\tastana\t0/10 reporting (0 matching)\t0.00 %\tnot met" in verified.stdout

    report = runner.invoke(
        app, ["audit", "--programme", "pm", "--format", "json", "--db", database_url]
    )
    assert report.exit_code == 0, report.output
    body = json.loads(report.stdout)
    assert [p["scope"] for p in body["projects"]] == ["P1"]
    assert body["projects"][0]["budget"] == "1000000.00"
    markdown = runner.invoke(app, ["audit", "--programme", "pm", "--db", database_url])
    assert markdown.stdout.startswith("# Audit report: pm")
    assert runner.invoke(app, ["audit", "--format", "pdf", "--db", database_url]).exit_code == 2
    missing = runner.invoke(app, ["audit", "--programme", "none", "--db", database_url])
    assert missing.exit_code == 1


def test_verifying_twice_keeps_both_evaluations(client: TestClient, hub_inputs: HubInputs) -> None:
    from programme_support import PROGRAMME, project_revisions

    from qala.programme.repository import Repository
    from qala.programme.service import verify

    svc = client.app.state.services
    repo = Repository(svc.store)

    async def run() -> int:
        await repo.append(PROGRAMME, project_revisions(count=2))
        await verify(repo, hub_inputs, PROGRAMME, NOW)
        await verify(repo, hub_inputs, PROGRAMME, NOW + timedelta(days=3))
        return len(await repo.evaluations(PROGRAMME))

    assert client.portal.call(run) == 2
    evs = client.portal.call(repo.evaluations, PROGRAMME)
    assert [e.met for e in evs] == [True, False]
