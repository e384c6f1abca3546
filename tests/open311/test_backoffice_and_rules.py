"""The back office's actions under the access rules, the device-fault rule, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from support import ASTANA, bearer, file, new_key

T = {"NGSILD-Tenant": ASTANA}
LIGHT = "urn:ngsi-ld:Streetlight:astana:000001"


def office_of(client: TestClient):  # type: ignore[no-untyped-def]
    from qala.open311.office import Office

    return client.app.state.services.state.get(Office)  # type: ignore[attr-defined]


def test_operators_change_auditors_read_others_are_refused(client: TestClient) -> None:
    rid = file(client, new_key(client, "public"))
    base = f"/api/v1/open311/astana/requests/{rid}"
    operator = bearer(new_key(client, "city-operator"))
    auditor = bearer(new_key(client, "auditor", None))
    other_city = bearer(new_key(client, "city-operator", "almaty"))
    partner = bearer(new_key(client, "partner"))

    assigned = client.post(f"{base}/assign", headers=operator,
                           json={"agency": "astana.roads", "assignee": "brigade-7"})  # fmt: skip
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assigned_to"] == "brigade-7"
    status = client.post(f"{base}/status", headers=operator, json={"template": "scheduled"})
    assert status.json()["extended_status"] == "ACTION_SCHEDULED"
    assert status.json()["status_notes"] == "Работы запланированы."
    assert client.get(base, headers=auditor).status_code == 200
    for headers in (auditor, other_city, partner):
        refused = client.post(f"{base}/status", headers=headers, json={"status": "FIXED"})
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/AccessDenied") or refused.json()["status"] == 403
    for headers in (other_city, partner):
        assert client.get(base, headers=headers).status_code == 403
    bad = client.post(f"{base}/status", headers=operator, json={"status": "DONE"})
    assert bad.status_code == 400 and bad.json()["title"]
    assert client.get("/api/v1/open311/astana/requests/999", headers=operator).status_code == 404

    detail = client.get(base, headers=operator).json()
    kinds = [(e["kind"], e["actor"]) for e in detail["history"]]
    assert kinds[0][0] == "opened" and ("assigned", kinds[1][1]) in kinds
    assert all(actor.startswith("key:") for kind, actor in kinds[1:])
    looks = client.get("/qala/v1/audit", params={"operation": "open311.read"}).json()
    assert {row["entity_id"] for row in looks} == {rid}  # every look at it, by whom
    assert sorted(row["role"] for row in looks) == ["auditor", "city-operator"]


def test_duplicates_are_suggested_and_merged(client: TestClient) -> None:
    key = new_key(client, "public")
    first = file(client, key)
    second = file(client, key, lat="51.12821", long="71.43061")
    detail = client.get(f"/api/v1/open311/astana/requests/{second}").json()
    assert [s["service_request_id"] for s in detail["duplicate_suggestions"]] == [first]
    merged = client.post(f"/api/v1/open311/astana/requests/{second}/merge", json={"into": first})
    assert merged.json()["extended_status"] == "DUPLICATE"
    assert merged.json()["duplicate_of"] == first
    listed = client.get("/api/v1/open311/astana/requests", params={"status": "open"}).json()
    assert [r["service_request_id"] for r in listed["requests"]] == [first]


def test_a_broken_streetlight_opens_one_request_per_fault(client: TestClient) -> None:
    light = {"id": LIGHT, "type": "Streetlight",
             "status": {"type": "Property", "value": "ok"},
             "location": {"type": "GeoProperty",
                          "value": {"type": "Point", "coordinates": [71.43, 51.12]}}}  # fmt: skip
    assert client.post("/ngsi-ld/v1/entities", json=light, headers=T).status_code == 201

    def status(value: str, at: str) -> None:
        body = {"status": {"type": "Property", "value": value, "observedAt": at}}
        r = client.patch(f"/ngsi-ld/v1/entities/{LIGHT}/attrs", json=body, headers=T)
        assert r.status_code == 204, r.text

    def faults() -> list[dict]:
        found = client.get("/api/v1/open311/astana/requests",
                           params={"service_code": "STREETLIGHT"}).json()  # fmt: skip
        return found["requests"]

    status("broken", "2026-03-20T10:00:00Z")
    status("broken", "2026-03-20T11:00:00Z")  # still the same fault
    assert len(faults()) == 1
    # the same fault seen again (another server, a replay) files nothing
    from qala.open311.faults import RULES, FaultRule

    replay = FaultRule(office_of(client))
    hub_entity = client.portal.call(_stored, client)  # type: ignore[union-attr]
    again = client.portal.call(replay.open, ASTANA, hub_entity, RULES[0], "broken",  # type: ignore[union-attr]
                               "2026-03-20T10:00:00Z")  # fmt: skip
    assert again is False
    assert len(faults()) == 1
    status("ok", "2026-03-21T09:00:00Z")
    status("error", "2026-03-22T09:00:00Z")  # repaired, then a new fault
    opened = faults()
    assert len(opened) == 2
    request = opened[-1]
    assert request["entity_id"] == LIGHT and request["client"] == "qala-fault-rule"
    mirror = client.get(
        f"/ngsi-ld/v1/entities/urn:ngsi-ld:Open311_ServiceRequest:astana:"
        f"{request['service_request_id']}", headers=T,
    ).json()  # fmt: skip
    assert mirror["refEntity"] == {"type": "Relationship", "object": LIGHT}


async def _stored(client: TestClient):  # type: ignore[no-untyped-def]
    from qala.hub import Actor

    hub = client.app.state.services.hub  # type: ignore[attr-defined]
    return await hub.get_entity(ASTANA, LIGHT, Actor.system())


def test_overdue_requests_are_escalated_once_and_counted_in_the_figures(
    client: TestClient,
) -> None:
    office = office_of(client)
    rid = file(client, new_key(client, "public"))
    office.clock = lambda: datetime.now(UTC) + timedelta(days=60)
    first = client.post("/api/v1/open311/astana/escalations", json={})
    assert first.json() == {"escalated": [rid]}
    assert client.post("/api/v1/open311/astana/escalations", json={}).json() == {"escalated": []}
    entity = client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Open311_ServiceRequest:astana:{rid}",
                        headers=T).json()  # fmt: skip
    assert entity["escalated"]["value"] is True
    overdue = client.get("/api/v1/open311/astana/requests", params={"overdue": "true"}).json()
    assert overdue["total"] == 1
    office.clock = lambda: datetime.now(UTC)
    closed = client.post(f"/api/v1/open311/astana/requests/{rid}/close", json={})
    assert closed.json()["extended_status"] == "FIXED"
    figures = client.get("/api/v1/open311/astana/figures").json()
    assert figures["closed"] == 1 and figures["percent_within_sla"] == 100.0
    assert figures["time_to_close_by_service"]["POTHOLE"]["closed"] == 1
    assert figures["backlog"] == {"open": 0, "overdue": 0}
