"""NGSI-LD batch operations over HTTP: create, upsert, update, merge, delete.

Each answers 201/204 when every entity succeeded and 207 with a BatchOperationResult
(``success``: ids, ``errors``: ``{entityId, error: ProblemDetails}``) when some failed.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ngsi import BASE, CORE, ERRORS, headers, problem, prop, streetlight

SDM = "https://smartdatamodels.org/context.jsonld"


def post(client: TestClient, operation: str, body: Any, **kw: Any) -> Any:
    return client.post(f"{BASE}/entityOperations/{operation}", json=body, **kw)


def get(client: TestClient, n: int) -> dict[str, Any]:
    response = client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:{n}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def check_result(response: Any, success: list[str], failed: dict[str, str]) -> None:
    """A 207 BatchOperationResult: these ids succeeded, these failed with these error types."""
    assert response.status_code == 207, response.text
    body = response.json()
    assert set(body) == {"success", "errors"}
    assert sorted(body["success"]) == sorted(success)
    errors = {e["entityId"]: e["error"] for e in body["errors"]}
    assert set(errors) == set(failed)
    for entity_id, kind in failed.items():
        error = errors[entity_id]
        assert error["type"] == ERRORS + kind, error
        assert error["title"] and error["detail"] and error["status"] in (400, 404, 409, 504)


def test_create_answers_201_with_the_ids(client: TestClient) -> None:
    response = post(client, "create", [streetlight(1), streetlight(2)])
    assert response.status_code == 201, response.text
    assert response.json() == ["urn:ngsi-ld:Streetlight:1", "urn:ngsi-ld:Streetlight:2"]
    assert get(client, 2)["status"] == prop("ok")


def test_create_reports_each_failure_and_keeps_the_rest(client: TestClient) -> None:
    post(client, "create", [streetlight(1)])
    bad = {"id": "not a uri", "type": "Streetlight"}
    broken_geometry = streetlight(3, location={"type": "GeoProperty", "value": {"type": "Point"}})
    response = post(client, "create", [streetlight(1), streetlight(2), bad, broken_geometry])
    check_result(
        response,
        ["urn:ngsi-ld:Streetlight:2"],
        {
            "urn:ngsi-ld:Streetlight:1": "AlreadyExists",
            "not a uri": "BadRequestData",
            "urn:ngsi-ld:Streetlight:3": "BadRequestData",
        },
    )
    assert get(client, 2)["id"] == "urn:ngsi-ld:Streetlight:2"
    problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:3"), 404, "ResourceNotFound")


def test_ld_json_entities_each_carry_their_own_context(client: TestClient) -> None:
    with_sdm = {**streetlight(1, powerState=prop("on")), "@context": [SDM, CORE]}
    with_core = {**streetlight(2, powerState=prop("off")), "@context": CORE}
    without = streetlight(3)
    response = post(
        client,
        "create",
        [with_sdm, with_core, without],
        headers={"Content-Type": "application/ld+json"},
    )
    check_result(
        response,
        ["urn:ngsi-ld:Streetlight:1", "urn:ngsi-ld:Streetlight:2"],
        {"urn:ngsi-ld:Streetlight:3": "BadRequestData"},
    )
    # Each entity's names were expanded with its own context.
    sdm_names = client.get(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:1", headers=headers(context=SDM)
    ).json()
    assert sdm_names["powerState"] == prop("on")
    assert get(client, 2)["powerState"] == prop("off")


def test_json_batches_take_the_link_header_and_refuse_body_contexts(client: TestClient) -> None:
    response = post(
        client,
        "create",
        [streetlight(1, powerState=prop("on")), {**streetlight(2), "@context": SDM}],
        headers=headers(context=SDM),
    )
    check_result(
        response, ["urn:ngsi-ld:Streetlight:1"], {"urn:ngsi-ld:Streetlight:2": "BadRequestData"}
    )
    bare = get(client, 1)
    assert bare["https://smartdatamodels.org/dataModel.Streetlighting/powerState"] == prop("on")


def test_an_unavailable_context_fails_only_its_entity(client: TestClient) -> None:
    missing = "http://127.0.0.1:9/missing-context.jsonld"  # nothing listens on port 9
    response = post(
        client,
        "create",
        [{**streetlight(1), "@context": missing}, {**streetlight(2), "@context": CORE}],
        headers={"Content-Type": "application/ld+json"},
    )
    check_result(
        response,
        ["urn:ngsi-ld:Streetlight:2"],
        {"urn:ngsi-ld:Streetlight:1": "LdContextNotAvailable"},
    )


def test_upsert_creates_with_201_and_replaces_existing_with_204(client: TestClient) -> None:
    response = post(client, "upsert", [streetlight(1, lux=prop(5))])
    assert response.status_code == 201 and response.json() == ["urn:ngsi-ld:Streetlight:1"]
    # Default (replace): the entity becomes exactly what was sent.
    again = post(client, "upsert", [streetlight(1, status="dimmed")])
    assert again.status_code == 204, again.text
    assert "lux" not in get(client, 1) and get(client, 1)["status"] == prop("dimmed")
    # Mixed: 201 with the ids of the created entities only.
    mixed = post(client, "upsert", [streetlight(1), streetlight(2)])
    assert mixed.status_code == 201 and mixed.json() == ["urn:ngsi-ld:Streetlight:2"]


def test_upsert_with_update_keeps_attributes_not_sent(client: TestClient) -> None:
    post(client, "create", [streetlight(1, lux=prop(5))])
    response = post(
        client,
        "upsert",
        [{"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "status": prop("off")}],
        params={"options": "update"},
    )
    assert response.status_code == 204, response.text
    body = get(client, 1)
    assert body["lux"] == prop(5) and body["status"] == prop("off")
    problem(
        post(client, "upsert", [streetlight(1)], params={"options": "update,replace"}),
        400,
        "BadRequestData",
    )
    problem(
        post(client, "upsert", [streetlight(1)], params={"options": "merge"}), 400, "InvalidRequest"
    )


def test_update_changes_existing_entities_and_reports_missing_ones(client: TestClient) -> None:
    post(client, "create", [streetlight(1), streetlight(2)])
    changes = [
        {"id": "urn:ngsi-ld:Streetlight:1", "status": prop("broken"), "lux": prop(0)},
        {"id": "urn:ngsi-ld:Streetlight:2", "status": prop("dimmed")},
    ]
    assert post(client, "update", changes).status_code == 204
    assert get(client, 1)["status"] == prop("broken") and get(client, 1)["lux"] == prop(0)
    missing = [{"id": "urn:ngsi-ld:Streetlight:404", "status": prop("x")}, changes[1]]
    check_result(
        post(client, "update", missing),
        ["urn:ngsi-ld:Streetlight:2"],
        {"urn:ngsi-ld:Streetlight:404": "ResourceNotFound"},
    )


def test_update_with_no_overwrite_keeps_existing_attributes(client: TestClient) -> None:
    post(client, "create", [streetlight(1), streetlight(2)])
    new_only = [{"id": "urn:ngsi-ld:Streetlight:1", "lux": prop(7)}]
    assert post(client, "update", new_only, params={"options": "noOverwrite"}).status_code == 204
    existing = [
        {"id": "urn:ngsi-ld:Streetlight:1", "status": prop("off"), "mode": prop("auto")},
        {"id": "urn:ngsi-ld:Streetlight:2", "mode": prop("manual")},
    ]
    response = post(client, "update", existing, params={"options": "noOverwrite"})
    # The entity whose attribute was kept is reported; its new attribute was still added.
    check_result(
        response, ["urn:ngsi-ld:Streetlight:2"], {"urn:ngsi-ld:Streetlight:1": "BadRequestData"}
    )
    body = get(client, 1)
    assert body["status"] == prop("ok") and body["mode"] == prop("auto")
    assert body["lux"] == prop(7)


def test_merge_patches_each_entity(client: TestClient) -> None:
    post(client, "create", [streetlight(1, lux=prop(5, unitCode="LUX")), streetlight(2)])
    patch = [
        {"id": "urn:ngsi-ld:Streetlight:1", "lux": {"value": 9}, "status": "urn:ngsi-ld:null"},
        {"id": "urn:ngsi-ld:Streetlight:2", "type": "Device"},
        {"id": "urn:ngsi-ld:Streetlight:404", "lux": prop(1)},
    ]
    check_result(
        post(client, "merge", patch),
        ["urn:ngsi-ld:Streetlight:1", "urn:ngsi-ld:Streetlight:2"],
        {"urn:ngsi-ld:Streetlight:404": "ResourceNotFound"},
    )
    body = get(client, 1)
    assert body["lux"] == prop(9, unitCode="LUX") and "status" not in body
    assert get(client, 2)["type"] == ["Streetlight", "Device"]


def test_delete_takes_ids_and_reports_unknown_ones(client: TestClient) -> None:
    post(client, "create", [streetlight(1), streetlight(2), streetlight(3)])
    ids = ["urn:ngsi-ld:Streetlight:1", "urn:ngsi-ld:Streetlight:2"]
    assert post(client, "delete", ids).status_code == 204
    problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"), 404, "ResourceNotFound")
    check_result(
        post(client, "delete", ["urn:ngsi-ld:Streetlight:3", "urn:ngsi-ld:Streetlight:1", "x y"]),
        ["urn:ngsi-ld:Streetlight:3"],
        {"urn:ngsi-ld:Streetlight:1": "ResourceNotFound", "x y": "BadRequestData"},
    )


def test_malformed_batches_are_refused_whole(client: TestClient) -> None:
    for operation in ("create", "upsert", "update", "merge", "delete"):
        url = f"{BASE}/entityOperations/{operation}"
        problem(client.post(url, json={"id": "urn:a:b"}), 400, "BadRequestData")  # not an array
        problem(client.post(url, json=[]), 400, "BadRequestData")
        problem(client.post(url, content=b"[{", headers=json_type()), 400, "InvalidRequest")
        response = client.post(url, content=b"[]", headers={"Content-Type": "text/plain"})
        assert response.status_code == 415, response.text
    for operation in ("create", "upsert", "update", "merge"):
        body = problem(post(client, operation, [streetlight(1), None]), 400, "BadRequestData")
        assert "JSON object" in body["detail"]
    # Nothing of a refused batch was written.
    problem(client.get(f"{BASE}/entities/urn:ngsi-ld:Streetlight:1"), 404, "ResourceNotFound")


def json_type() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def test_an_invalid_tenant_name_fails_the_whole_batch(client: TestClient) -> None:
    """Even when no entity of the batch is valid: the tenant is checked first."""
    invalid = headers("no such/tenant")
    for operation, body in (
        ("create", [{"type": "Streetlight"}]),
        ("upsert", [streetlight(1)]),
        ("update", [{"status": prop("off")}]),
        ("merge", [{"id": "not a uri"}]),
        ("delete", ["not a uri"]),
    ):
        problem(post(client, operation, body, headers=invalid), 400, "BadRequestData")
