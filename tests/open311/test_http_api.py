"""The GeoReport v2 endpoints over HTTP, in XML and JSON, on SQLite and PostgreSQL.

Every response is validated against the suite's JSON Schemas (``georeport_schemas``) and its
XML form checked and compared with the JSON one; errors are the specification's lists with
400, 403 or 404 — under every path of ``/open311/``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from georeport_schemas import same_document, validate, xml_document
from support import ASTANA, file, new_key, pothole

J = {"jurisdiction_id": ASTANA}


def both(client: TestClient, path: str, kind: str, **params: str) -> list | dict:
    """GET ``path`` in both formats: validated, the same document; the JSON value."""
    as_json = client.get(f"/open311/v2/{path}.json", params=params)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"].startswith("application/json")
    value = as_json.json()
    validate(kind, value)
    as_xml = client.get(f"/open311/v2/{path}.xml", params=params)
    assert as_xml.status_code == 200, as_xml.text
    assert as_xml.headers["content-type"].startswith("text/xml")
    same_document(kind, as_xml.content, value)
    return value


def error(client: TestClient, method: str, path: str, status: int, **kw: object) -> str:
    """An error in both formats: the status, the spec's errors list; its description."""
    descriptions = []
    for fmt in ("json", "xml"):
        response = client.request(method, f"/open311/v2/{path}.{fmt}", **kw)  # type: ignore[arg-type]
        assert response.status_code == status, response.text
        if fmt == "json":
            validate("errors", response.json())
            descriptions.append(response.json()[0]["description"])
        else:
            document = xml_document("errors", response.content)
            validate("errors", document)
    return descriptions[0]


def test_discovery_services_and_definitions_are_served_in_both_formats(
    client: TestClient,
) -> None:
    discovery = both(client, "discovery", "discovery", **J)
    assert discovery["endpoints"][0]["url"].endswith("/open311/v2/")
    services = both(client, "services", "services", **J)
    assert {s["service_code"] for s in services} >= {"POTHOLE", "STREETLIGHT", "LIFT"}
    kazakh = both(client, "services", "services", lang="kk", **J)
    assert kazakh[0]["service_name"] != services[0]["service_name"]
    datatypes = set()
    for service in services:
        definition = both(client, f"services/{service['service_code']}", "service_definition", **J)
        datatypes |= {a["datatype"] for a in definition["attributes"]}
    assert datatypes == {"string", "number", "datetime", "text", "singlevaluelist",
                         "multivaluelist"}  # fmt: skip


def test_a_filed_request_is_found_by_id_token_and_search_without_personal_data(
    client: TestClient,
) -> None:
    key = new_key(client, "public")
    posted = client.post("/open311/v2/requests.xml", data=pothole(key, account_id="acc-7"))
    assert posted.status_code == 200, posted.text
    result = xml_document("post_result", posted.content)
    validate("post_result", result)
    rid = result[0]["service_request_id"]
    assert result[0]["account_id"] == "acc-7"

    one = both(client, f"requests/{rid}", "requests", **J)
    assert len(one) == 1 and one[0]["service_request_id"] == rid and one[0]["status"] == "open"
    assert one[0]["expected_datetime"].endswith("+05:00")
    found = both(client, "requests", "requests", **J)
    assert [r["service_request_id"] for r in found] == [rid]
    listed = both(client, "requests", "requests", service_request_id=f"{rid},999",
                  status="closed", **J)  # fmt: skip
    assert [r["service_request_id"] for r in listed] == [rid]  # the id list overrides status
    extended = both(client, "requests", "requests", extensions="true", **J)
    assert extended[0]["notes"][0]["type"] == "opened"
    assert extended[0]["extended_attributes"]["sla_state"] == "on_time"

    for fmt in ("json", "xml"):
        for path in (f"requests/{rid}", "requests"):
            text = client.get(f"/open311/v2/{path}.{fmt}",
                              params={**J, "extensions": "true"}).text  # fmt: skip
            for secret in ("Айгерим", "Сапарова", "aigerim@example.kz", "+77011234567",
                           "device-42", "acc-7", "900101300123", "701 123 45 67"):
                assert secret not in text, (path, fmt, secret)  # fmt: skip

    token = client.get(
        "/api/v1/open311/astana/requests/" + rid
    ).json()  # staff see what the public does not
    assert token["personal"]["email"] == "aigerim@example.kz"


def test_tokens_answer_the_request_id(client: TestClient) -> None:
    key = new_key(client, "public")
    rid = file(client, key)
    rows = client.get(f"/api/v1/open311/astana/requests/{rid}").json()
    assert rows["service_request_id"] == rid
    missing = error(client, "GET", "tokens/nope", 404, params=J)
    assert "token" in missing


def test_jurisdiction_is_required_and_must_be_known(client: TestClient) -> None:
    for path in ("services", "requests", "discovery", "services/POTHOLE", "requests/1"):
        assert "jurisdiction_id is required" in error(client, "GET", path, 400)
        assert "not found" in error(client, "GET", path, 404,
                                    params={"jurisdiction_id": "paris"})  # fmt: skip


def test_posting_needs_a_valid_api_key_of_the_city(client: TestClient) -> None:
    assert "api_key is required" in error(client, "POST", "requests", 403,
                                          data=pothole(""))  # fmt: skip
    assert "not valid" in error(client, "POST", "requests", 403, data=pothole("qala_wrong"))
    almaty = new_key(client, "city-operator", "almaty")
    assert "not a key of" in error(client, "POST", "requests", 403, data=pothole(almaty))
    auditor = new_key(client, "auditor", None)
    assert "auditor" in error(client, "POST", "requests", 403, data=pothole(auditor))
    revoked = client.post("/qala/v1/keys", json={"role": "public", "tenant": ASTANA}).json()
    assert client.delete(f"/qala/v1/keys/{revoked['id']}").status_code == 204
    assert "not valid" in error(client, "POST", "requests", 403, data=pothole(revoked["key"]))


def test_bad_posts_are_400_with_every_problem(client: TestClient) -> None:
    key = new_key(client, "public")
    form = pothole(key)
    del form["attribute[size]"]
    assert "attribute size is required" in error(client, "POST", "requests", 400, data=form)
    assert "internal address" in error(client, "POST", "requests", 400,
                                       data=pothole(key, media_url="http://10.0.0.1/x.jpg"))
    assert "number" in error(client, "POST", "requests", 400,
                             data=pothole(key, media_url="http://2130706433/x.jpg"))
    assert "http or https" in error(client, "POST", "requests", 400,
                                    data=pothole(key, media_url="file:///etc/passwd"))
    assert "must be application/x-www-form-urlencoded" in error(
        client, "POST", "requests", 400, json=pothole(key))
    assert "not a service" in error(client, "POST", "requests", 404,
                                    data=pothole(key, service_code="NOPE"))  # fmt: skip


def test_search_windows_follow_the_90_day_rule(client: TestClient) -> None:
    key = new_key(client, "public")
    file(client, key)
    now = datetime.now(UTC)
    old = (now - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (now - timedelta(days=50)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "90 days" in error(client, "GET", "requests", 400,
                              params={**J, "start_date": old, "end_date": later})  # fmt: skip
    assert both(client, "requests", "requests", start_date=old, **J) == []
    assert len(both(client, "requests", "requests", updated_after=later, **J)) == 1
    assert len(both(client, "requests", "requests", page="2", page_size="1", **J)) == 0


def test_updates_round_trip_and_a_repeated_update_id_is_refused(client: TestClient) -> None:
    key = new_key(client, "public")
    rid = file(client, key)
    # to the second, as clients send it: a moment after the filing (an update dated before
    # the request's last change is history, not its state)
    now = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    update = {"jurisdiction_id": ASTANA, "api_key": key, "update_id": "fms-1",
              "service_request_id": rid, "status": "in progress", "updated_datetime": now,
              "description": "Crew on site", "email": "someone@example.kz"}  # fmt: skip
    posted = client.post("/open311/v2/servicerequestupdates.json", data=update)
    assert posted.status_code == 200, posted.text
    assert posted.json() == [{"update_id": "fms-1"}]
    assert "received already" in error(client, "POST", "servicerequestupdates", 400,
                                       data=update)  # fmt: skip
    assert "was not found" in error(client, "POST", "servicerequestupdates", 404,
                                    data={**update, "update_id": "fms-2",
                                          "service_request_id": "999"})  # fmt: skip
    assert "api_key" in error(client, "POST", "servicerequestupdates", 403,
                              data={**update, "api_key": "", "update_id": "fms-3"})
    until = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    updates = both(client, "servicerequestupdates", "updates", end_date=until, **J)
    assert [(u["update_id"], u["status"]) for u in updates] == [("fms-1", "IN_PROGRESS")]
    assert "someone@example.kz" not in str(updates)
    entity = client.get(
        f"/ngsi-ld/v1/entities/urn:ngsi-ld:Open311_ServiceRequest:astana:{rid}",
        headers={"NGSILD-Tenant": ASTANA},
    ).json()
    assert entity["extended_status"]["value"] == "IN_PROGRESS"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_paths_and_methods_answer_georeport_errors(client: TestClient, fmt: str) -> None:
    missing = client.get(f"/open311/v2/nothing.{fmt}", params=J)
    assert missing.status_code == 404
    wrong = client.delete(f"/open311/v2/requests.{fmt}")
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
    for response in (missing, wrong):
        if fmt == "json":
            validate("errors", response.json())
        else:
            validate("errors", xml_document("errors", response.content))
    assert client.get("/open311/elsewhere").headers["content-type"].startswith("text/xml")


def test_each_request_is_an_entity_in_the_city_with_its_history(client: TestClient) -> None:
    key = new_key(client, "public")
    rid = file(client, key)
    eid = f"urn:ngsi-ld:Open311_ServiceRequest:astana:{rid}"
    t = {"NGSILD-Tenant": ASTANA}
    entity = client.get(f"/ngsi-ld/v1/entities/{eid}", headers=t).json()
    assert entity["type"] == "Open311_ServiceRequest"
    assert entity["status"]["value"] == "open" and entity["service_code"]["value"] == "POTHOLE"
    assert entity["location"]["value"]["coordinates"] == [71.4306, 51.1282]
    assert "aigerim" not in str(entity).lower() and "900101300123" not in str(entity)
    closed = client.post(f"/api/v1/open311/astana/requests/{rid}/close",
                         json={"template": "fixed"})  # fmt: skip
    assert closed.status_code == 200, closed.text
    entity = client.get(f"/ngsi-ld/v1/entities/{eid}", headers=t).json()
    assert entity["status"]["value"] == "closed"
    history = client.get(f"/ngsi-ld/v1/temporal/entities/{eid}", headers=t,
                         params={"attrs": "status"}).json()  # fmt: skip
    assert [i["value"] for i in history["status"]] == ["open", "closed"]


def test_the_entity_conforms_to_the_smart_data_model_in_a_validating_city(
    client: TestClient,
) -> None:
    """With the city's Smart Data Models validation on, the hub checks every mirrored request
    against the shipped IssueTracking schema: filing, assigning and closing all pass it."""
    from qala.sdm import SmartDataModels, to_key_values

    settings = {"settings": {"validation": "smart-data-models"}}
    on = client.patch(f"/qala/v1/tenants/{ASTANA}", json=settings)
    assert on.status_code == 200, on.text
    key = new_key(client, "public")
    rid = file(client, key)
    eid = f"urn:ngsi-ld:Open311_ServiceRequest:astana:{rid}"
    assigned = client.post(f"/api/v1/open311/astana/requests/{rid}/assign",
                           json={"agency": "astana.roads"})  # fmt: skip
    assert assigned.status_code == 200, assigned.text
    closed = client.post(f"/api/v1/open311/astana/requests/{rid}/close", json={"template": "fixed"})
    assert closed.status_code == 200, closed.text
    normalized = client.get(f"/ngsi-ld/v1/entities/{eid}", headers={"NGSILD-Tenant": ASTANA})
    entity = to_key_values(normalized.json())
    assert entity["status"] == "closed" and entity["agency_responsible"] == "astana.roads"
    models = SmartDataModels()
    assert models.info("Open311_ServiceRequest").subject == "dataModel.IssueTracking"
    assert models.validate("Open311_ServiceRequest", entity) == []
    assert models.validate("Open311_ServiceRequest", {**entity, "status": "pending"}) != []


def test_rate_limits_apply_per_address(client: TestClient) -> None:
    from qala.open311.office import Limits, Office

    office = client.app.state.services.state.get(Office)  # type: ignore[attr-defined]
    office.set_limits(Limits(write_rate_per_address=0.001, write_burst_per_address=2))
    key = new_key(client, "public")
    file(client, key)
    file(client, key)
    limited = client.post("/open311/v2/requests.json", data=pothole(key))
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    validate("errors", limited.json())
