"""`qala indicators list | compute | compare | gaps | statistics import` and `qala standard
assess` on a database, in table, JSON and CSV."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ngsi import BASE, SDM, headers, prop
from qala.app import create_app
from qala.cli import app
from qala.config import Settings
from testkit import ADMIN_KEY


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_catalogue_lists_in_each_format() -> None:
    rows = json.loads(invoke("indicators", "list", "--format", "json", "--lang", "kk"))
    assert len(rows) >= 60 and all(r["title"] for r in rows)
    csv = invoke("indicators", "list", "--format", "csv", "--framework", "iso37122")
    assert csv.splitlines()[0] == "id,number,title,unit,calculator"
    assert all(line.startswith("iso37122:") for line in csv.splitlines()[1:])
    assert "iso37120:8.1" in invoke("indicators", "list")


def test_statistics_import_compute_compare_gaps_and_assess(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        light = {"id": "urn:ngsi-ld:Streetlight:astana:1", "type": "Streetlight",
                 "controllingMethod": prop("individual"), "status": prop("ok")}
        station = {"id": "urn:ngsi-ld:EVChargingStation:astana:1", "type": "EVChargingStation",
                   "capacity": prop(6)}
        for body in (light, station):
            response = c.post(f"{BASE}/entities", json=body,
                              headers=headers(tenant="astana", context=SDM))
            assert response.status_code == 201, response.text
    statistics = tmp_path / "statistics.csv"
    statistics.write_text(
        "statistic,value,unit,as_of,source,note\n"
        "population,1500000,persons,2025-01-01,Bureau of National Statistics,\n"
    )
    assert "1 statistics written" in invoke(
        "indicators", "statistics", "import", "--tenant", "astana", str(statistics),
        "--db", database_url,
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("statistic,value,unit,as_of,source\npopulation,many,persons,2025-01-01,x\n")
    failed = CliRunner().invoke(app, ["indicators", "statistics", "import", "--tenant", "astana",
                                      str(bad), "--db", database_url])
    assert failed.exit_code == 2 and "line 2" in failed.output

    outcomes = json.loads(invoke("indicators", "compute", "--tenant", "astana", "--period",
                                 "2026", "--db", database_url, "--format", "json"))
    ev = next(o for o in outcomes if o["calculator"]["name"] == "ev.points-per-100k")
    assert ev["status"] == "computed" and ev["value"] == round(6 / 15, 4)
    invoke("indicators", "compute", "--tenant", "astana", "--period", "2025-Q1", "--db",
           database_url)
    again = invoke("indicators", "compute", "--tenant", "astana", "--period", "2025-Q1",
                   "--db", database_url, "--format", "csv")
    assert again.splitlines()[0] == "calculator,indicators,status,kind,value"
    assert {line.split(",")[2] for line in again.splitlines()[1:]} == {"unchanged"}

    compared = json.loads(invoke("indicators", "compare", "--period", "2026", "--db",
                                 database_url, "--format", "json"))
    assert any(c["indicator"] == "qala:energy/ev-charging-points" for c in compared)
    gaps = json.loads(invoke("indicators", "gaps", "--tenant", "astana", "--period", "2025",
                             "--db", database_url, "--format", "json"))
    assert len(gaps["iese"]) == 9
    assert "area" in invoke("standard", "assess", "--tenant", "astana", "--period", "2025",
                            "--db", database_url)
    said = invoke("standard", "answer", "--tenant", "astana", "--requirement",
                  "electronic-journal", "--met", "--source", "Education department",
                  "--source-date", "2025-03-01", "--db", database_url)
    assert "electronic-journal answered met" in said
    assessed = json.loads(invoke("standard", "assess", "--tenant", "astana", "--period", "2025",
                                 "--db", database_url, "--format", "json"))
    education = next(a for a in assessed["areas"] if a["id"] == "education")
    assert education["requirements"][0]["basis"] == "reported"
    refused = CliRunner().invoke(app, ["standard", "answer", "--tenant", "astana",
                                       "--requirement", "nope", "--met", "--source", "x",
                                       "--source-date", "2025-03-01", "--db", database_url])
    assert refused.exit_code == 1 and "no requirement" in refused.output
    bad_period = CliRunner().invoke(app, ["indicators", "compute", "--tenant", "astana",
                                          "--period", "2025-13", "--db", database_url])
    assert bad_period.exit_code == 2
