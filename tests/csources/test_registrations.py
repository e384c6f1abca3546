"""Context source registrations (GS CIM 009 5.9, 5.10) as Qala keeps them: validated, stored
per tenant, returned with the reader's @context, queried by what they register, updated and
deleted; discovery filters Qala does not evaluate are refused, not ignored. Subscriptions to
registrations are not offered: their collection is empty and creating one is refused."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ngsi import BASE, CORE, headers, problem

REGS = f"{BASE}/csourceRegistrations"
REG = "urn:ngsi-ld:ContextSourceRegistration:"
EX = "https://example.org/fleet/"


def registration(number: int, entity_type: str = "Vehicle", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{REG}{number}",
        "type": "ContextSourceRegistration",
        "information": [
            {
                "entities": [{"id": f"urn:ngsi-ld:{entity_type}:A{number}", "type": entity_type}],
                "propertyNames": ["speed"],
                "relationshipNames": ["isParked"],
            }
        ],
        "endpoint": "http://fleet.example.org:1026",
        **extra,
    }


def test_a_registration_is_created_and_returned_as_written(client: TestClient) -> None:
    created = client.post(REGS, json=registration(1, expiresAt="2035-11-29T14:53:15Z"))
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"{REGS}/{REG}1"
    got = client.get(f"{REGS}/{REG}1")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json") and got.headers["Link"]
    assert got.json() == registration(1, expiresAt="2035-11-29T14:53:15Z")
    with_times = client.get(f"{REGS}/{REG}1", params={"options": "sysAttrs"}).json()
    assert with_times["createdAt"].endswith("Z") and with_times["modifiedAt"]


def test_names_are_compacted_with_the_readers_context(client: TestClient) -> None:
    terms = {"Vehicle": EX + "Vehicle", "speed": EX + "speed", "isParked": EX + "isParked"}
    body = {**registration(1), "@context": [terms, CORE]}
    created = client.post(REGS, json=body, headers={"Content-Type": "application/ld+json"})
    assert created.status_code == 201, created.text
    info = client.get(f"{REGS}/{REG}1").json()["information"][0]  # core context only
    assert info["entities"][0]["type"] == EX + "Vehicle"
    assert info["propertyNames"] == [EX + "speed"]
    assert info["relationshipNames"] == [EX + "isParked"]
    found = client.get(REGS, params={"type": EX + "Vehicle"})
    assert [r["id"] for r in found.json()] == [f"{REG}1"]
    assert client.get(REGS, params={"type": "Vehicle"}).json() == []


def test_query_by_type_id_and_attrs(client: TestClient) -> None:
    client.post(REGS, json=registration(1, "Vehicle"))
    client.post(REGS, json=registration(2, "Building"))

    def found(**params: str) -> list[str]:
        response = client.get(REGS, params=params, headers={"Accept": "*/*"})
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()]

    assert found() == [f"{REG}1", f"{REG}2"]
    assert found(type="Vehicle") == [f"{REG}1"]
    assert found(id="urn:ngsi-ld:Building:A2", type="Building") == [f"{REG}2"]
    assert found(attrs="speed") == [f"{REG}1", f"{REG}2"]
    assert found(attrs="colour") == []
    assert found(type="Bench") == []


def test_update_and_delete(client: TestClient) -> None:
    client.post(REGS, json=registration(1))
    patched = client.patch(f"{REGS}/{REG}1", json={"endpoint": "http://other.example.org"})
    assert patched.status_code == 204, patched.text
    assert client.get(f"{REGS}/{REG}1").json()["endpoint"] == "http://other.example.org"
    assert client.delete(f"{REGS}/{REG}1").status_code == 204
    problem(client.get(f"{REGS}/{REG}1"), 404, "ResourceNotFound")
    problem(client.delete(f"{REGS}/{REG}1"), 404, "ResourceNotFound")


def test_invalid_registrations_are_refused(client: TestClient) -> None:
    problem(client.post(REGS, json={**registration(1), "type": "Thing"}), 400, "BadRequestData")
    problem(client.post(REGS, json={**registration(1), "information": []}), 400, "BadRequestData")
    no_endpoint = {k: v for k, v in registration(1).items() if k != "endpoint"}
    problem(client.post(REGS, json=no_endpoint), 400, "BadRequestData")
    bad_expiry = registration(1, expiresAt="soon")
    problem(client.post(REGS, json=bad_expiry), 400, "BadRequestData")
    client.post(REGS, json=registration(1))
    problem(client.post(REGS, json=registration(1)), 409, "AlreadyExists")


def test_media_types_and_unsupported_filters(client: TestClient) -> None:
    for accept in ("application/xml", "application/geo+json"):
        response = client.get(REGS, params={"type": "Building"}, headers={"Accept": accept})
        assert response.status_code == 406, accept
    problem(client.get(REGS, params={"csf": "a==1"}), 422, "OperationNotSupported")
    problem(client.get(REGS, params={"nonsense": "1"}), 400, "InvalidRequest")


def test_an_unretrievable_context_is_a_504(client: TestClient) -> None:
    body = {
        **registration(1),
        "@context": ["http://127.0.0.1:9/no-such-context.jsonld"],
    }
    response = client.post(REGS, json=body, headers={"Content-Type": "application/ld+json"})
    problem(response, 504, "LdContextNotAvailable")


def test_registrations_belong_to_their_tenant(client: TestClient) -> None:
    assert client.post(REGS, json=registration(1), headers=headers("astana")).status_code == 201
    assert client.get(REGS, headers=headers("astana")).json()[0]["id"] == f"{REG}1"
    assert client.get(REGS).json() == []


def test_subscriptions_to_registrations_are_not_offered(client: TestClient) -> None:
    listed = client.get(f"{BASE}/csourceSubscriptions")
    assert listed.status_code == 200 and listed.json() == []
    xml = client.get(f"{BASE}/csourceSubscriptions", headers={"Accept": "application/xml"})
    assert xml.status_code == 406
    body = {"type": "Subscription", "entities": [{"type": "Vehicle"}]}
    problem(client.post(f"{BASE}/csourceSubscriptions", json=body), 422, "OperationNotSupported")
    one = client.get(f"{BASE}/csourceSubscriptions/urn:ngsi-ld:Subscription:1")
    problem(one, 404, "ResourceNotFound")
