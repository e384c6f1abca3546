"""The indicators API over HTTP, on SQLite and PostgreSQL, with each access rule: readers of
the city read, its operators (and admins) compute and enter reported values and targets, an
actor bound to another city is refused; values are published as KeyPerformanceIndicator
entities visible through the NGSI-LD API."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.open311.support import file, new_key

from ngsi import BASE, SDM, headers, prop

API = "/api/v1/indicators"
NOW = datetime.now(UTC)
MONTH = NOW.strftime("%Y-%m")  # the current month (approximately the city's; both work)


def key_for(client: TestClient, role: str, tenant: str | None = None) -> dict[str, str]:
    body = {"role": role, "name": f"test {role}"}
    if tenant:
        body["tenant"] = tenant
    response = client.post("/qala/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["detail"], body
    return body


def seed(client: TestClient) -> None:
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    entities = [
        {"id": "urn:ngsi-ld:City:astana", "type": "City",
         "population": prop(1_638_233, observedAt="2026-01-01T00:00:00Z",
                            source=prop("Bureau of National Statistics"))},
        {"id": "urn:ngsi-ld:Streetlight:astana:1", "type": "Streetlight",
         "controllingMethod": prop("individual"), "status": prop("ok"),
         "powerState": prop("on", observedAt=now)},
        {"id": "urn:ngsi-ld:Streetlight:astana:2", "type": "Streetlight",
         "controllingMethod": prop("group"), "status": prop("ok")},
        {"id": "urn:ngsi-ld:EVChargingStation:astana:1", "type": "EVChargingStation",
         "capacity": prop(4)},
    ]
    for body in entities:
        response = client.post(
            f"{BASE}/entities", json=body, headers=headers(tenant="astana", context=SDM)
        )
        assert response.status_code == 201, response.text


def test_the_catalogue_is_served_in_each_language(client: TestClient) -> None:
    english = client.get(f"{API}/catalogue").json()
    russian = client.get(f"{API}/catalogue", params={"lang": "ru"}).json()
    assert len(english) == len(russian) >= 60
    pm25 = next(i for i in russian if i["id"] == "iso37120:8.1")
    assert pm25["title"] == pm25["titles"]["ru"] != pm25["titles"]["en"]
    assert {i["framework"] for i in client.get(
        f"{API}/catalogue", params={"framework": "iso37122"}).json()} == {"iso37122"}
    problem(client.get(f"{API}/catalogue", params={"lang": "de"}), 400)


def test_operators_compute_their_city_and_readers_read_its_values(client: TestClient) -> None:
    seed(client)
    operator = key_for(client, "city-operator", "astana")
    other_operator = key_for(client, "city-operator", "almaty")
    auditor = key_for(client, "auditor")
    partner = key_for(client, "partner", "astana")

    body = {"tenant": "astana", "period": MONTH}
    problem(client.post(f"{API}/compute", json=body, headers=other_operator), 403)
    problem(client.post(f"{API}/compute", json=body, headers=partner), 403)
    problem(client.post(f"{API}/compute", json=body, headers=auditor), 403)
    problem(client.post(f"{API}/compute", json={**body, "period": "2026-13"},
                        headers=operator), 400)
    problem(client.post(f"{API}/compute", json={**body, "extra": 1}, headers=operator), 400)

    # two citizen requests through Open311, one closed by the city: the request indicators
    # read them from the hub
    resident = new_key(client, "public")
    fixed, still_open = file(client, resident), file(client, resident)
    closed = client.post(f"/api/v1/open311/astana/requests/{fixed}/close", json={},
                         headers=operator)
    assert closed.status_code == 200, closed.text
    assert still_open != fixed

    done = client.post(f"{API}/compute", json=body, headers=operator)
    assert done.status_code == 200, done.text
    outcomes = {o["calculator"]["name"]: o for o in done.json()}
    assert outcomes["ev.points-per-100k"]["status"] == "computed"
    assert outcomes["ev.points-per-100k"]["value"] == round(4 / (1_638_233 / 100_000), 4)
    resolution = outcomes["requests.resolution-time"]
    assert resolution["kind"] == "measured" and 0 <= resolution["value"] < 0.1  # minutes
    # the one closed was closed in time; the open one is within its time: one of one
    assert (outcomes["requests.within-sla"]["kind"], outcomes["requests.within-sla"]["value"]) \
        == ("measured", 100.0)

    values = client.get(f"{API}/values", params={"tenant": "astana", "period": MONTH},
                        headers=auditor)
    assert values.status_code == 200, values.text
    ev = next(v for v in values.json() if v["indicator"] == "qala:energy/ev-charging-points")
    assert ev["kind"] == "measured"
    assert ev["calculator"] == {"name": "ev.points-per-100k", "version": "1"}
    assert ev["provenance"]["statistics"][0]["source"] == "Bureau of National Statistics"
    assert ev["computedBy"] != ""
    lights = next(v for v in values.json() if v["indicator"] == "iso37122:7.6")
    assert lights["value"] == 50.0
    problem(client.get(f"{API}/values", params={"tenant": "astana"}, headers=other_operator),
            403)
    problem(client.get(f"{API}/values", params={"tenant": "astana", "indicator": "nope"}), 404)

    # published into the hub, readable through the NGSI-LD API
    kpis = client.get(f"{BASE}/entities", params={"type": "KeyPerformanceIndicator",
                                                   "options": "keyValues", "limit": 100},
                      headers=headers(tenant="astana", context=SDM))
    assert kpis.status_code == 200, kpis.text
    by_id = {e["id"]: e for e in kpis.json()}
    kpi = by_id[f"urn:ngsi-ld:KeyPerformanceIndicator:astana:iso37122:7.6:{MONTH}"]
    assert kpi["kpiValue"] == 50.0
    assert kpi["calculationMethod"] == "automatic"
    assert kpi["category"] == ["quantitative"]
    assert kpi["calculationFrequency"] == "monthly"
    assert kpi["calculationPeriod"]["from"] == f"{MONTH}-01"
    assert kpi["aggregatedData"][0]["entityType"] == "Streetlight"
    within = by_id[
        f"urn:ngsi-ld:KeyPerformanceIndicator:astana:qala:governance:requests-within-sla:{MONTH}"
    ]
    assert within["kpiValue"] == 100.0
    assert within["aggregatedData"][0]["entityType"] == "Open311_ServiceRequest"
    so2 = by_id[f"urn:ngsi-ld:KeyPerformanceIndicator:astana:iso37120:8.6:{MONTH}"]
    assert "kpiValue" not in so2 and so2["reason"]


def test_targets_and_reported_values_are_entered_by_the_citys_operators(
    client: TestClient,
) -> None:
    seed(client)
    operator = key_for(client, "city-operator", "astana")
    other_operator = key_for(client, "city-operator", "almaty")
    auditor = key_for(client, "auditor")
    target = {"tenant": "astana", "indicator": "iso37120:8.1", "value": 25, "by": "2027-12-31",
              "baseline": 40}
    problem(client.put(f"{API}/targets", json=target, headers=other_operator), 403)
    problem(client.put(f"{API}/targets", json=target, headers=auditor), 403)
    problem(client.put(f"{API}/targets", json={**target, "indicator": "nope"},
                       headers=operator), 404)
    assert client.put(f"{API}/targets", json=target, headers=operator).status_code == 204
    shown = client.get(f"{API}/targets", params={"tenant": "astana"}, headers=auditor).json()
    assert shown[0]["indicator"] == "iso37120:8.1" and shown[0]["target"] == 25
    assert shown[0]["setBy"] and shown[0]["current"] is None

    reported = {"tenant": "astana", "indicator": "iso37120:5/unemployment-rate",
                "period": "2025", "value": 4.6, "source": "Bureau of National Statistics",
                "sourceDate": "2026-02-15", "unit": "%"}
    problem(client.post(f"{API}/reported", json=reported, headers=other_operator), 403)
    problem(client.post(f"{API}/reported", json=reported, headers=auditor), 403)
    problem(client.post(f"{API}/reported", json={**reported, "source": ""}, headers=operator),
            400)
    entered = client.post(f"{API}/reported", json=reported, headers=operator)
    assert entered.status_code == 201, entered.text
    assert entered.json()["kind"] == "reported" and entered.json()["unit"] == "%"
    listed = client.get(f"{API}/reported", params={"tenant": "astana"}, headers=auditor).json()
    assert [(r["value"], r["enteredBy"]) for r in listed] == [(4.6, entered.json()["enteredBy"])]
    problem(client.get(f"{API}/reported", params={"tenant": "astana"}, headers=other_operator),
            403)

    csv = client.get(f"{API}/export", params={"tenant": "astana", "year": 2025,
                                              "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "4.6" in csv.text and "reported" in csv.text
    rows = client.get(f"{API}/export", params={"tenant": "astana", "year": 2025}).json()
    assert rows[0]["kind"] == "reported"


def test_comparison_gaps_and_assessment_answer_for_the_cities(client: TestClient) -> None:
    seed(client)
    assert client.post(f"{API}/compute", json={"tenant": "astana", "period": MONTH}
                       ).status_code == 200
    compared = client.get(f"{API}/comparison", params={"period": MONTH})
    assert compared.status_code == 200, compared.text
    assert any(c["indicator"] == "iso37122:7.6" for c in compared.json())
    gaps = client.get(f"{API}/gaps", params={"tenant": "astana", "period": MONTH})
    assert gaps.status_code == 200, gaps.text
    assert "survey" in gaps.json()["imd"]["note"]
    assessed = client.get(f"{API}/assessment", params={"tenant": "astana", "period": MONTH})
    assert assessed.status_code == 200, assessed.text
    assert assessed.json()["tenant"] == "astana"
    problem(client.get(f"{API}/assessment", params={"tenant": "astana",
                                                    "methodology": "nope"}), 404)


def test_answers_to_what_the_hub_cannot_check_complete_the_assessment(
    client: TestClient,
) -> None:
    seed(client)
    operator = key_for(client, "city-operator", "astana")
    auditor = key_for(client, "auditor")
    params = {"tenant": "astana", "period": MONTH}
    before = client.get(f"{API}/assessment", params=params, headers=auditor).json()
    assert before["total"] is None and "education" in before["reason"]
    answer = {"tenant": "astana", "source": "Akimat annual report 2025",
              "sourceDate": f"{MONTH}-01"}  # fmt: skip
    for requirement, met in (("unified-dispatch", True), ("electronic-journal", True),
                             ("online-appointments", False)):  # fmt: skip
        done = client.post(f"{API}/assessment/answers", headers=operator,
                           json={**answer, "requirement": requirement, "met": met})  # fmt: skip
        assert done.status_code == 201, done.text
        assert done.json()["enteredBy"] != "" and done.json()["met"] is met
    after = client.get(f"{API}/assessment", params=params, headers=auditor).json()
    areas = {a["id"]: a for a in after["areas"]}
    journal = areas["education"]["requirements"][0]
    assert (journal["status"], journal["basis"]) == ("met", "reported")
    assert journal["evidence"]["reported"]["source"] == "Akimat annual report 2025"
    assert areas["healthcare"]["implementationPercent"] == 0
    assert areas["healthcare"]["points"] == 1  # 0–20 % → 1 point
    # rules the hub's data cannot evaluate here (no air, parking or stop data) stay open until
    # someone answers them
    unanswered = [r["id"] for a in after["areas"] for r in a["requirements"]
                  if r["status"] == "unanswered"]  # fmt: skip
    assert after["total"] is None and unanswered
    for requirement in unanswered:
        done = client.post(f"{API}/assessment/answers", headers=operator,
                           json={**answer, "requirement": requirement, "met": False})
        assert done.status_code == 201, done.text
    after = client.get(f"{API}/assessment", params=params, headers=auditor).json()
    assert after["total"] is not None and after["reason"] == "", after
    assert after["total"] == round(after["total"], 4) > 0
    # a correction is a newer answer; the list shows the answers in force
    fixed = client.post(f"{API}/assessment/answers", headers=operator,
                        json={**answer, "requirement": "online-appointments", "met": True})
    assert fixed.status_code == 201, fixed.text
    listed = client.get(f"{API}/assessment/answers", params={"tenant": "astana"},
                        headers=auditor).json()  # fmt: skip
    assert {a["requirement"]: a["met"] for a in listed} == {
        "unified-dispatch": True, "electronic-journal": True, "online-appointments": True,
        **{r: False for r in unanswered}}
    # an answer dated after the period does not count for it
    later = client.get(f"{API}/assessment", params={**params, "period": "2020"},
                       headers=auditor).json()  # fmt: skip
    assert later["total"] is None
    # who may answer, and what
    problem(client.post(f"{API}/assessment/answers", headers=auditor,
                        json={**answer, "requirement": "electronic-journal", "met": True}), 403)
    problem(client.post(f"{API}/assessment/answers", headers=key_for(client, "city-operator",
                        "almaty"), json={**answer, "requirement": "electronic-journal",
                        "met": True}), 403)  # fmt: skip
    problem(client.post(f"{API}/assessment/answers", headers=operator,
                        json={**answer, "requirement": "no-such", "met": True}), 400)
    problem(client.post(f"{API}/assessment/answers", headers=operator,
                        json={**answer, "requirement": "electronic-journal"}), 400)
    problem(client.post(f"{API}/assessment/answers", headers=operator,
                        json={**answer, "requirement": "electronic-journal", "met": True,
                              "methodology": "nope"}), 404)  # fmt: skip
    problem(client.get(f"{API}/gaps", params={"tenant": "no-such-city"}), 404)
