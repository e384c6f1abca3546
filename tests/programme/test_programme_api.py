"""The programme monitor's HTTP API end to end, on SQLite and PostgreSQL: a programme built
through revisions, verified against entities on the hub, audited, exported, under the access
rules (auditor, operator of its own city, partner holding a contract, public)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook

from ngsi import BASE, SDM, headers
from qala.app import create_app
from qala.config import Settings
from testkit import ADMIN_KEY

API = "/api/v1/programme/programmes"
P = f"{API}/smart-city"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def key(client: TestClient, role: str, tenant: str | None = None) -> tuple[str, dict[str, str]]:
    """A new key's actor id (``key:<id>``) and its Authorization header."""
    body: dict[str, Any] = {"role": role, "name": f"test {role}"}
    if tenant:
        body["tenant"] = tenant
    response = client.post("/qala/v1/keys", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return f"key:{data['id']}", {"Authorization": f"Bearer {data['key']}"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def streetlights(client: TestClient, tenant: str, specs: list[tuple[str, str, datetime]]) -> None:
    """Streetlights (number, controllingMethod, last observedAt) on the hub."""
    entities = [
        {
            "id": f"urn:ngsi-ld:Streetlight:{tenant}:{n}",
            "type": "Streetlight",
            "controllingMethod": {"type": "Property", "value": method},
            "powerState": {"type": "Property", "value": "on", "observedAt": iso(seen)},
        }
        for n, method, seen in specs
    ]
    response = client.post(
        f"{BASE}/entityOperations/upsert", json=entities, headers=headers(tenant, SDM)
    )
    assert response.status_code in (201, 204), response.text


def build(client: TestClient, contractor: str = "BIN 180240012345") -> None:
    """The programme with one Astana project: a contract, a deliverable, a milestone, paid."""
    ok = client.post(
        API,
        json={
            "id": "smart-city",
            "fields": {"title": "Smart City", "budget": "29890000000"},
            "reason": "programme approved",
        },
    )
    assert ok.status_code == 201, ok.text
    steps = [
        (
            "projects",
            "AST-LIGHT",
            {
                "tenant": "astana",
                "title": "Smart street lighting",
                "sector": ["energy"],
                "budget": "1000000000.50",
                "period": {"startDate": "2019-01-01", "endDate": "2021-12-31"},
            },
        ),
        (
            "contracts",
            "AST-LIGHT-C1",
            {
                "project": "AST-LIGHT",
                "title": "Supply and installation",
                "contractor": {"name": "Nur Jaryq LLP", "id": contractor},
                "value": "800000000.25",
                "period": {"startDate": "2019-03-01", "endDate": "2020-12-31"},
            },
        ),
        (
            "deliverables",
            "AST-LIGHT-D1",
            {
                "project": "AST-LIGHT",
                "title": "Individually controlled streetlights reporting",
                "type": "Streetlight",
                "q": 'controllingMethod=="individual"',
                "count": 2,
                "freshWithin": "PT24H",
            },
        ),
        (
            "milestones",
            "AST-LIGHT-M1",
            {
                "contract": "AST-LIGHT-C1",
                "title": "Lights reporting",
                "dueDate": "2020-12-01",
                "deliverables": ["AST-LIGHT-D1"],
            },
        ),
        (
            "payments",
            "AST-LIGHT-T1",
            {"contract": "AST-LIGHT-C1", "date": "2020-03-01", "amount": "600000000.10"},
        ),
        (
            "projects",
            "ALM-AIR",
            {"tenant": "almaty", "title": "Air quality", "budget": "500000000"},
        ),
    ]
    for plural, ident, fields in steps:
        response = client.post(
            f"{P}/{plural}", json={"id": ident, "fields": fields, "reason": "signed"}
        )
        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"{P}/{plural}/{ident}"


def test_a_programme_is_built_through_revisions_verified_against_the_hub_and_audited(
    client: TestClient,
) -> None:
    now = datetime.now(UTC)
    streetlights(
        client,
        "astana",
        [
            ("1", "individual", now - timedelta(hours=1)),
            ("2", "individual", now - timedelta(days=3)),
            ("3", "group", now - timedelta(minutes=5)),
        ],
    )
    build(client)

    project = client.get(f"{P}/projects/AST-LIGHT").json()
    assert project["budget"] == "1000000000.50" and project["tenant"] == "astana"

    verified = client.post(f"{P}/verify", json={})
    assert verified.status_code == 200, verified.text
    (ev,) = verified.json()["evaluations"]
    assert (ev["matching"], ev["reporting"], ev["met"]) == (2, 1, False)
    assert ev["deliveredShare"] == "0.5000"
    assert ev["sample"] == ["urn:ngsi-ld:Streetlight:astana:1"]
    assert ev["silentSample"] == ["urn:ngsi-ld:Streetlight:astana:2"]
    assert len(client.get(f"{P}/evaluations").json()) == 1

    progress = client.get(f"{P}/progress").json()
    row = next(p for p in progress["projects"] if p["scope"] == "AST-LIGHT")
    assert (row["contracted"], row["paid"], row["physical"]) == (
        "800000000.25",
        "600000000.10",
        "0.5000",
    )
    assert Decimal(row["financial"]) == Decimal("0.7500")

    flags = client.get(f"{P}/flags").json()
    rules = {f["rule"] for f in flags["flags"]}
    assert {"milestone-overdue", "delivered-but-silent"} <= rules
    assert client.get(f"{P}/flags", params={"severity": "low"}).json()["flags"] == []
    assert {
        f["tenant"] for f in client.get(f"{P}/flags", params={"city": "almaty"}).json()["flags"]
    } <= {"almaty"}
    assert all(
        f["rule"] == "milestone-overdue"
        for f in client.get(f"{P}/flags", params={"flag": "milestone-overdue"}).json()["flags"]
    )

    moved = client.patch(
        f"{P}/milestones/AST-LIGHT-M1",
        json={"fields": {"dueDate": "2021-06-30"}, "reason": "delay", "document": "act 3"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["dueDate"] == "2021-06-30" and moved.json()["dataStatus"] == "not-delivered"
    history = client.get(f"{P}/history", params={"target": "AST-LIGHT-M1", "field": "dueDate"})
    assert [(h["old"], h["new"], h["document"]) for h in history.json()] == [
        (None, "2020-12-01", None),
        ("2020-12-01", "2021-06-30", "act 3"),
    ]

    modified = client.post(
        f"{P}/contracts/AST-LIGHT-C1/modifications",
        json={
            "fields": {"type": "value", "newValue": "900000000", "rationale": "more lights"},
            "reason": "supplementary agreement",
        },
    )
    assert modified.status_code == 201, modified.text
    assert modified.json()["modifications"][0]["oldValue"] == "800000000.25"
    refused = client.patch(
        f"{P}/contracts/AST-LIGHT-C1", json={"fields": {"value": "1"}, "reason": "x"}
    )
    assert refused.status_code == 400 and "modification" in refused.json()["detail"]
    float_money = client.post(
        f"{P}/payments",
        json={
            "id": "T9",
            "fields": {"contract": "AST-LIGHT-C1", "date": "2020-01-01", "amount": 1.5},
            "reason": "x",
        },
    )
    assert float_money.status_code == 400 and "float" in float_money.json()["detail"]

    package = client.get(f"{P}/export").json()
    assert [p["id"] for p in package["projects"]] == ["ALM-AIR", "AST-LIGHT"]
    assert "AST-LIGHT,astana" in client.get(f"{P}/export", params={"format": "csv"}).text
    report = client.get(f"{P}/audit", params={"format": "json"}).json()
    assert report["notEvaluated"] == {} and report["flags"]
    assert client.get(f"{P}/audit").headers["content-type"].startswith("text/markdown")
    assert "<h1>" in client.get(f"{P}/audit", params={"format": "html"}).text


def test_an_auditor_reads_everything_and_explains_flags(client: TestClient) -> None:
    build(client)
    _, auditor = key(client, "auditor")
    flags = client.get(f"{P}/flags", headers=auditor).json()["flags"]
    overdue = next(f for f in flags if f["rule"] == "milestone-overdue")
    explained = client.post(
        f"{P}/flags/{overdue['key']}/explanations",
        json={"reason": "force majeure, act 7", "document": "act 7"},
        headers=auditor,
    )
    assert explained.status_code == 201, explained.text
    assert explained.json()["explanation"]["reason"] == "force majeure, act 7"
    again = client.get(f"{P}/flags", headers=auditor).json()["flags"]
    assert next(f for f in again if f["key"] == overdue["key"])["explanation"] is not None
    assert {p["id"] for p in client.get(f"{P}/projects", headers=auditor).json()} == {
        "AST-LIGHT",
        "ALM-AIR",
    }
    assert (
        client.patch(
            f"{P}/projects/AST-LIGHT",
            json={"fields": {"title": "x"}, "reason": "y"},
            headers=auditor,
        ).status_code
        == 403
    )
    _, operator = key(client, "city-operator", "astana")
    assert (
        client.post(
            f"{P}/flags/{overdue['key']}/explanations", json={"reason": "ours"}, headers=operator
        ).status_code
        == 403
    )


def test_a_city_operator_manages_its_own_city_and_is_refused_another(client: TestClient) -> None:
    build(client)
    _, almaty = key(client, "city-operator", "almaty")
    assert [p["id"] for p in client.get(f"{P}/projects", headers=almaty).json()] == ["ALM-AIR"]
    assert client.get(f"{P}/projects/AST-LIGHT", headers=almaty).status_code == 404
    refused = client.post(
        f"{P}/projects",
        json={"id": "AST-X", "fields": {"tenant": "astana", "title": "x"}, "reason": "y"},
        headers=almaty,
    )
    assert refused.status_code == 403, refused.text
    assert (
        client.post(
            f"{P}/contracts",
            json={
                "id": "C9",
                "fields": {
                    "project": "AST-LIGHT",
                    "title": "x",
                    "contractor": {"name": "y"},
                    "value": "1",
                    "period": {"startDate": "2020-01-01"},
                },
                "reason": "z",
            },
            headers=almaty,
        ).status_code
        == 403
    )
    mine = client.patch(
        f"{P}/projects/ALM-AIR",
        json={"fields": {"title": "Air-quality network"}, "reason": "renamed"},
        headers=almaty,
    )
    assert mine.status_code == 200 and mine.json()["title"] == "Air-quality network"
    history = client.get(f"{P}/history", params={"target": "ALM-AIR"}, headers=almaty).json()
    assert history[-1]["actor"].startswith("key:")
    assert all(h["target"] in ("ALM-AIR", "smart-city") for h in history)


def test_a_partner_reads_only_the_projects_it_holds_contracts_in(client: TestClient) -> None:
    _, probe = key(client, "partner", "astana")  # burn one id, so ids differ
    partner_id, partner = key(client, "partner", "astana")
    build(client, contractor=partner_id)
    _, stranger = key(client, "partner", "astana")
    assert [p["id"] for p in client.get(f"{P}/projects", headers=partner).json()] == ["AST-LIGHT"]
    assert client.get(f"{P}/projects", headers=stranger).json() == []
    assert client.get(f"{P}/projects/AST-LIGHT", headers=stranger).status_code == 404
    assert client.get(f"{P}/projects/ALM-AIR", headers=partner).status_code == 404
    assert [c["id"] for c in client.get(f"{P}/contracts", headers=partner).json()] == [
        "AST-LIGHT-C1"
    ]
    assert (
        client.patch(
            f"{P}/projects/AST-LIGHT",
            json={"fields": {"title": "x"}, "reason": "y"},
            headers=partner,
        ).status_code
        == 403
    )
    assert client.post(f"{P}/verify", json={}, headers=partner).status_code == 403
    _, public = key(client, "public")
    assert client.get(API, headers=public).status_code == 403
    assert client.get(f"{P}/flags", headers=public).status_code == 403
    assert probe != partner


def test_an_import_with_errors_imports_nothing_and_lists_each_row(client: TestClient) -> None:
    build(client)
    csv = (
        "id,tenant,title,budget,startDate\n"
        "SHY-1,shymkent,Lights,12.345,2020-01-01\n"
        "SHY-2,shymkent,Waste,1000,2020-13-01\n"
        "SHY-3,shymkent,Parking,1000,2020-01-01\n"
    )
    failed = client.post(
        f"{P}/import",
        params={"sheet": "projects"},
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert failed.status_code == 400, failed.text
    errors = failed.json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "budget"), (3, "startDate")]
    assert "SHY-3" not in {p["id"] for p in client.get(f"{P}/projects").json()}
    good = client.post(
        f"{P}/import",
        params={"sheet": "projects", "reason": "passport"},
        content=b"id,tenant,title,budget\nSHY-3,shymkent,Parking,1000\n",
        headers={"Content-Type": "text/csv"},
    )
    assert good.status_code == 200 and good.json()["imported"] == 1
    assert (
        client.post(
            f"{P}/import", content=b"id\n", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    assert (
        client.post(
            f"{P}/import", content=b"{}", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    _, almaty = key(client, "city-operator", "almaty")
    assert (
        client.post(
            f"{P}/import",
            params={"sheet": "projects"},
            content=b"id,tenant,title\nSHY-4,shymkent,Other city\n",
            headers={"Content-Type": "text/csv", **almaty},
        ).status_code
        == 403
    )


def test_a_workbook_is_imported_over_http_sheet_by_sheet_or_refused_whole(
    client: TestClient,
) -> None:
    build(client)
    book = Workbook()
    projects = book.active
    projects.title = "projects"
    for row in (["id", "tenant", "title", "budget", "startDate"],
                ["SHY-X1", "shymkent", "Bins", 250000000, datetime(2020, 1, 1)],
                ["SHY-X2", "shymkent", "Stops", 0.5, datetime(2020, 1, 1)]):  # fmt: skip
        projects.append(row)

    def upload(workbook: Workbook) -> Any:
        buffer = io.BytesIO()
        workbook.save(buffer)
        return client.post(
            f"{P}/import", params={"reason": "passport"}, content=buffer.getvalue(),
            headers={"Content-Type": XLSX},
        )  # fmt: skip

    failed = upload(book)
    assert failed.status_code == 400, failed.text
    assert [(e["sheet"], e["row"], e["column"]) for e in failed.json()["errors"]] == [
        ("projects", 3, "budget")  # a floating-point amount of money
    ]
    ids = {p["id"] for p in client.get(f"{P}/projects").json()}
    assert not {"SHY-X1", "SHY-X2"} & ids  # nothing of the refused workbook
    projects["D3"] = "120000000.00"
    done = upload(book)
    assert done.status_code == 200, done.text
    assert done.json()["imported"] == 2
    listed = {p["id"]: p for p in client.get(f"{P}/projects").json()}
    assert {"SHY-X1", "SHY-X2"} <= set(listed)
    broken = client.post(f"{P}/import", content=b"PK not a workbook",
                         headers={"Content-Type": XLSX})  # fmt: skip
    assert broken.status_code == 400, broken.text


def test_the_scheduled_verification_evaluates_every_deliverable(database_url: str) -> None:
    settings = Settings(database_url=database_url, mqtt_url="", programme_verify_interval=0.2)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with TestClient(create_app(settings), headers=auth) as client:
        streetlights(client, "astana", [("1", "individual", datetime.now(UTC))])
        build(client)
        deadline = time.monotonic() + 10
        while not client.get(f"{P}/evaluations").json() and time.monotonic() < deadline:
            time.sleep(0.1)
        (ev, *_) = client.get(f"{P}/evaluations").json()
        assert (ev["deliverable"], ev["matching"], ev["reporting"]) == ("AST-LIGHT-D1", 1, 1)
