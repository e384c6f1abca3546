"""The demo's year of service requests: histories, overdue ones, duplicates, device faults."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient


def test_a_year_of_requests_loads_in_every_city_with_its_variety(client: TestClient) -> None:
    from qala.open311.demo import seed_requests

    svc = client.app.state.services  # type: ignore[attr-defined]
    # A fixed day: which requests are still open, merged or fixed is drawn relative to it, and
    # on some days none of 300 is still untouched (OPEN) — the test would fail by the calendar.
    today = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    loaded = client.portal.call(  # type: ignore[union-attr]
        lambda: seed_requests(svc.hub, svc.store, seed=7, today=today, per_city=300)
    )
    assert loaded == {c: 300 for c in ("astana", "almaty", "shymkent", "aktobe", "karaganda")}
    again = client.portal.call(  # type: ignore[union-attr]
        lambda: seed_requests(svc.hub, svc.store, seed=7, today=today, per_city=300)
    )
    assert again == {}  # a city with requests is left as it is

    def total(**params: str) -> int:
        found = client.get("/api/v1/open311/astana/requests", params={**params, "limit": "1"})
        count: int = found.json()["total"]
        return count

    assert total() == 300
    assert 0 < total(status="closed") < 300
    assert total(overdue="true") > 0
    everything = client.get("/api/v1/open311/astana/requests", params={"limit": "1000"}).json()
    kinds = {r["extended_status"] for r in everything["requests"]}
    assert {"FIXED", "DUPLICATE", "OPEN"} <= kinds
    faults = [r for r in everything["requests"] if r["client"] == "qala-fault-rule"]
    assert faults and all(r["entity_id"].startswith("urn:ngsi-ld:Streetlight:astana:")
                          for r in faults)  # fmt: skip
    figures = client.get("/api/v1/open311/astana/figures").json()
    assert 50 < figures["percent_within_sla"] < 100
    public = client.get("/open311/v2/requests.json",
                        params={"jurisdiction_id": "astana", "extensions": "true",
                                "end_date": "2026-06-01T09:00:00Z"})  # fmt: skip
    assert public.status_code == 200 and len(public.json()) > 20
    assert "@example.kz" not in public.text
    entities = client.get("/ngsi-ld/v1/entities", headers={"NGSILD-Tenant": "astana"},
                          params={"type": "Open311_ServiceRequest", "count": "true",
                                  "limit": "1"})  # fmt: skip
    assert entities.headers["NGSILD-Results-Count"] == "300"
