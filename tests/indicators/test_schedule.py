"""The scheduled computation: every city with data gets the current month, quarter and year and
the eleven months before, newest first, incrementally, without anyone asking."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from ngsi import BASE, SDM, headers, prop
from qala.app import create_app
from qala.config import Settings
from qala.indicators.schedule import SYSTEM, compute_all, scheduled_periods
from qala.indicators.service import IndicatorService
from testkit import ADMIN_KEY


def test_the_periods_are_this_month_quarter_and_year_then_the_months_before() -> None:
    # 10 January 2026, 02:00 in Almaty is still 9 January in UTC: the city's calendar counts
    labels = [p.label for p in scheduled_periods(datetime(2026, 1, 9, 21, tzinfo=UTC),
                                                 "Asia/Almaty")]  # fmt: skip
    assert labels[:4] == ["2026-01", "2026-Q1", "2026", "2025-12"]
    assert labels[-1] == "2025-02" and len(labels) == 3 + 11
    assert len(set(labels)) == len(labels)


def _lights(client: TestClient, tenant: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for n, method in enumerate(("individual", "individual", "group"), start=1):
        body = {"id": f"urn:ngsi-ld:Streetlight:{tenant}:{n}", "type": "Streetlight",
                "controllingMethod": prop(method), "powerState": prop("on", observedAt=now)}
        response = client.post(f"{BASE}/entities", json=body, headers=headers(tenant, SDM))
        assert response.status_code == 201, response.text


def test_the_server_computes_every_city_with_data_on_its_own(settings: Settings) -> None:
    scheduled = settings.model_copy(
        update={"indicators_compute_interval": 3600.0, "indicators_compute_after": 0.5}
    )
    app = create_app(scheduled)
    with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        _lights(client, "astana")
        # another city exists on the hub but holds nothing but a tenant: it is left alone
        client.post("/qala/v1/tenants", json={"name": "almaty"})
        wanted = {p.label for p in scheduled_periods(datetime.now(UTC), "Asia/Almaty")}
        deadline = time.monotonic() + 120
        periods: set[str] = set()
        while time.monotonic() < deadline and periods != wanted:
            time.sleep(0.2)
            values = client.get("/api/v1/indicators/values",
                                params={"tenant": "astana", "indicator": "iso37122:7.6"}).json()
            periods = {v["period"]["label"] for v in values}
        assert periods == wanted
        assert {v["computedBy"] for v in values} == {SYSTEM.id}
        this_year = next(v for v in values if v["period"]["kind"] == "year")
        assert this_year["kind"] == "measured"  # two of the three lights managed individually
        almaty = client.get("/api/v1/indicators/values", params={"tenant": "almaty"})
        assert almaty.status_code in (200, 404), almaty.text
        assert almaty.status_code == 404 or almaty.json() == []
        # a second run finds nothing changed for the periods already computed
        service = app.state.services.state.get(IndicatorService)
        hub = app.state.services.hub
        again = client.portal.call(compute_all, service, hub)
        assert again.cities == 1 and again.periods == len(wanted)
        assert again.computed < again.unchanged
