"""The /subscriptions resources: create, retrieve, list, update, delete, and validation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from subscriptions_support import get_subscription, subscribe, subscription

from ngsi import BASE, CORE, headers, problem

ENDPOINT = "http://127.0.0.1:9/notify"


def test_create_answers_201_with_the_location_and_a_generated_id(client: TestClient) -> None:
    response = client.post(f"{BASE}/subscriptions", json=subscription(ENDPOINT))
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.startswith(f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:")
    sub_id = location.rsplit("/", 1)[1]
    body = get_subscription(client, sub_id)
    assert body == {
        "id": sub_id,
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "notificationTrigger": ["attributeCreated", "attributeUpdated"],
        "status": "active",
        "notification": {
            "endpoint": {"uri": ENDPOINT, "accept": "application/json"},
            "format": "normalized",
            "timesSent": 0,
            "timesFailed": 0,
        },
    }


def test_every_member_given_is_returned(client: TestClient) -> None:
    body = subscription(
        ENDPOINT,
        id="urn:ngsi-ld:Subscription:full",
        subscriptionName="Broken lights",
        description="Lights reported broken in the centre",
        entities=[
            {"type": "Streetlight", "idPattern": "^urn:ngsi-ld:Streetlight:1"},
            {"id": "urn:ngsi-ld:Streetlight:7", "type": "Streetlight"},
        ],
        watchedAttributes=["status"],
        notificationTrigger=["attributeUpdated", "entityDeleted"],
        q='status=="broken"',
        geoQ={
            "geometry": "Point",
            "coordinates": [71.44, 51.16],
            "georel": "near;maxDistance==5000",
        },
        throttling=5,
        expiresAt="2099-01-01T00:00:00Z",
        lang="kk",
        notification={
            "attributes": ["status", "location"],
            "format": "keyValues",
            "showChanges": True,
            "sysAttrs": True,
            "endpoint": {
                "uri": ENDPOINT,
                "accept": "application/ld+json",
                "receiverInfo": [{"key": "X-City", "value": "astana"}],
            },
        },
    )
    subscribe(client, body)
    got = get_subscription(client, "urn:ngsi-ld:Subscription:full")
    for key, value in body.items():
        if key != "notification":
            assert got[key] == value, key
    for key, value in body["notification"].items():
        assert got["notification"][key] == value, key


def test_a_second_subscription_with_the_same_id_is_409(client: TestClient) -> None:
    body = subscription(ENDPOINT, id="urn:ngsi-ld:Subscription:1")
    subscribe(client, body)
    problem(client.post(f"{BASE}/subscriptions", json=body), 409, "AlreadyExists")


def test_an_unknown_subscription_is_404(client: TestClient) -> None:
    url = f"{BASE}/subscriptions/urn:ngsi-ld:Subscription:none"
    problem(client.get(url), 404, "ResourceNotFound")
    problem(client.patch(url, json={"isActive": False}), 404, "ResourceNotFound")
    problem(client.delete(url), 404, "ResourceNotFound")


def test_a_subscription_id_must_be_a_uri(client: TestClient) -> None:
    problem(client.get(f"{BASE}/subscriptions/not a uri"), 400, "BadRequestData")


def test_delete_removes_the_subscription(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT))
    assert client.delete(f"{BASE}/subscriptions/{sub_id}").status_code == 204
    problem(client.get(f"{BASE}/subscriptions/{sub_id}"), 404, "ResourceNotFound")
    problem(client.delete(f"{BASE}/subscriptions/{sub_id}"), 404, "ResourceNotFound")


def test_the_list_pages_with_limit_offset_count_and_links(client: TestClient) -> None:
    ids = [
        subscribe(client, subscription(ENDPOINT, id=f"urn:ngsi-ld:Subscription:{n}"))
        for n in range(5)
    ]
    first = client.get(f"{BASE}/subscriptions?limit=2&count=true")
    assert first.status_code == 200
    assert [s["id"] for s in first.json()] == ids[:2]
    assert first.headers["NGSILD-Results-Count"] == "5"
    assert 'rel="next"' in first.headers["link"] and 'rel="prev"' not in first.headers["link"]
    assert "offset=2" in first.headers["link"]
    middle = client.get(f"{BASE}/subscriptions?limit=2&offset=2")
    assert [s["id"] for s in middle.json()] == ids[2:4]
    assert 'rel="next"' in middle.headers["link"] and 'rel="prev"' in middle.headers["link"]
    last = client.get(f"{BASE}/subscriptions?limit=2&offset=4&count=true")
    assert [s["id"] for s in last.json()] == ids[4:]
    assert 'rel="next"' not in last.headers["link"]
    assert client.get(f"{BASE}/subscriptions").json()[0]["id"] == ids[0]
    problem(client.get(f"{BASE}/subscriptions?limit=100000"), 403, "TooManyResults")


def test_a_full_last_page_has_no_next_link_and_links_carry_the_media_type(
    client: TestClient,
) -> None:
    for n in range(3):
        subscribe(client, subscription(ENDPOINT, id=f"urn:ngsi-ld:Subscription:{n}"))
    last = client.get(f"{BASE}/subscriptions?limit=1&offset=2")  # without count=true
    pages = [v.strip() for v in last.headers["link"].split(",") if "json-ld#context" not in v]
    assert pages == [
        '</ngsi-ld/v1/subscriptions?limit=1&offset=1>; rel="prev"; type="application/json"'
    ]
    assert "NGSILD-Results-Count" not in last.headers
    middle = client.get(
        f"{BASE}/subscriptions?limit=1&offset=1", headers={"Accept": "application/ld+json"}
    )
    assert 'offset=2>; rel="next"; type="application/ld+json"' in middle.headers["link"]


def test_an_offset_past_the_maximum_is_a_bad_request(client: TestClient) -> None:
    for offset in ("1000000001", str(2**64)):
        response = client.get(f"{BASE}/subscriptions", params={"offset": offset})
        assert problem(response, 400, "BadRequestData")["detail"], offset


def test_patch_replaces_the_members_given_and_keeps_the_others(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT, watchedAttributes=["status"]))
    response = client.patch(
        f"{BASE}/subscriptions/{sub_id}",
        json={"watchedAttributes": ["powerState"], "notification": {"format": "concise"}},
    )
    assert response.status_code == 204, response.text
    got = get_subscription(client, sub_id)
    assert got["watchedAttributes"] == ["powerState"]
    assert got["entities"] == [{"type": "Streetlight"}]
    assert got["notification"]["format"] == "concise"
    assert got["notification"]["endpoint"]["uri"] == ENDPOINT


def test_patch_takes_a_merge_patch_body(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT))
    response = client.patch(
        f"{BASE}/subscriptions/{sub_id}",
        content=b'{"notification": {"format": "keyValues"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 204, response.text
    got = get_subscription(client, sub_id)
    assert got["notification"]["format"] == "keyValues"
    assert got["notification"]["endpoint"]["uri"] == ENDPOINT


def test_unknown_query_parameters_are_an_invalid_request(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT))
    for url in (f"{BASE}/subscriptions", f"{BASE}/subscriptions/{sub_id}"):
        body = problem(client.get(url, params={"invalidParams": "x"}), 400, "InvalidRequest")
        assert "invalidParams" in body["detail"]


def test_patch_with_null_removes_a_member(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT, q='status=="ok"'))
    assert client.patch(f"{BASE}/subscriptions/{sub_id}", json={"q": None}).status_code == 204
    assert "q" not in get_subscription(client, sub_id)


def test_an_invalid_patch_leaves_the_subscription_unchanged(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT))
    before = get_subscription(client, sub_id)
    for fragment in (
        {"notificationTrigger": ["whenever"]},
        {"q": "status=="},
        {"notification": {"endpoint": {"uri": "ftp://x/y"}}},
        {"throttling": -1},
        {},
    ):
        problem(
            client.patch(f"{BASE}/subscriptions/{sub_id}", json=fragment), 400, "BadRequestData"
        )
    problem(
        client.patch(f"{BASE}/subscriptions/{sub_id}", json={"id": "urn:x:other"}),
        400,
        "BadRequestData",
    )
    assert get_subscription(client, sub_id) == before


def test_pausing_shows_paused_and_resuming_shows_active(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT))
    client.patch(f"{BASE}/subscriptions/{sub_id}", json={"isActive": False})
    assert get_subscription(client, sub_id)["status"] == "paused"
    client.patch(f"{BASE}/subscriptions/{sub_id}", json={"isActive": True})
    assert get_subscription(client, sub_id)["status"] == "active"


def test_sys_attrs_show_creation_and_modification_times(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT))
    body = client.get(f"{BASE}/subscriptions/{sub_id}?options=sysAttrs").json()
    assert body["createdAt"].endswith("Z") and body["modifiedAt"] == body["createdAt"]


def _invalid(change: dict[str, Any]) -> dict[str, Any]:
    body = subscription(ENDPOINT)
    for key, value in change.items():
        if value is _DROP:
            body.pop(key)
        else:
            body[key] = value
    return body


_DROP = object()
INVALID = [
    ({"type": "Subscriptions"}, "type must be 'Subscription'"),
    ({"id": "no uri"}, "not a valid URI"),
    ({"entities": _DROP}, "entities, watchedAttributes or both"),
    ({"entities": []}, "non-empty array"),
    ({"entities": [{"id": "urn:a:1", "idPattern": ".*"}]}, "not both"),
    ({"entities": [{"idPattern": "(["}]}, "not a valid regular expression"),
    ({"entities": [{"types": "A"}]}, "unknown member(s) types"),
    ({"watchedAttributes": []}, "watchedAttributes must be a non-empty array"),
    ({"watchedAttributes": ["bad name"]}, "is not valid"),
    ({"notificationTrigger": ["entityChanged"]}, "unknown notificationTrigger 'entityChanged'"),
    ({"q": "status==="}, "invalid q"),
    (
        {"geoQ": {"geometry": "Point", "coordinates": [1], "georel": "near;maxDistance==1"}},
        "invalid geoQ",
    ),
    ({"scopeQ": "nope"}, "invalid scopeQ"),
    ({"throttling": "5"}, "throttling must be a number"),
    ({"timeInterval": 0}, "timeInterval must be greater than 0"),
    ({"timeInterval": 5, "watchedAttributes": ["status"]}, "exclude each other"),
    ({"timeInterval": 5, "throttling": 2}, "throttling applies to notifications on change"),
    ({"expiresAt": "2020-01-01T00:00:00Z"}, "in the past"),
    ({"expiresAt": "tomorrow"}, "expiresAt"),
    ({"expiresAt": "9999-12-31T23:59:59-01:00"}, "out of range"),  # after year 9999 in UTC
    ({"isActive": "yes"}, "isActive must be true or false"),
    ({"jsonldContext": "not-a-url"}, "jsonldContext must be the http(s) URL"),
    ({"notification": _DROP}, "notification is required"),
    ({"notification": {"format": "normalized"}}, "notification.endpoint is required"),
    ({"notification": {"endpoint": {}}}, "notification.endpoint.uri is required"),
    ({"notification": {"endpoint": {"uri": "ftp://host/x"}}}, "scheme 'ftp' is not supported"),
    ({"notification": {"endpoint": {"uri": "mqtt://host:1883"}}}, "names no topic"),
    (
        {"notification": {"endpoint": {"uri": ENDPOINT, "accept": "text/xml"}}},
        "accept 'text/xml' is not supported",
    ),
    (
        {"notification": {"endpoint": {"uri": ENDPOINT}, "format": "compact"}},
        "unknown notification.format",
    ),
    (
        {"notification": {"endpoint": {"uri": ENDPOINT}, "format": {"normalized": True}}},
        "unknown notification.format",
    ),
    (
        {"notification": {"endpoint": {"uri": ENDPOINT}, "attributes": "status"}},
        "notification.attributes must be a non-empty array",
    ),
    (
        {"notification": {"endpoint": {"uri": ENDPOINT}, "showChanges": 1}},
        "showChanges must be true or false",
    ),
    (
        {"notification": {"endpoint": {"uri": ENDPOINT, "receiverInfo": [{"key": "A"}]}}},
        "exactly key and value",
    ),
    (
        {
            "notification": {
                "endpoint": {"uri": ENDPOINT, "receiverInfo": [{"key": "Host", "value": "x"}]}
            }
        },
        "may not set the Host header",
    ),
    (
        {
            "notification": {
                "endpoint": {"uri": ENDPOINT, "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}]}
            }
        },
        "applies to mqtt:// endpoints only",
    ),
    (
        {
            "notification": {
                "endpoint": {
                    "uri": "mqtt://h/t",
                    "notifierInfo": [{"key": "MQTT-QoS", "value": "3"}],
                }
            }
        },
        "MQTT-QoS must be 0, 1 or 2",
    ),
    ({"watchedAttribute": ["status"]}, "unknown member(s) watchedAttribute"),
]


def test_invalid_subscriptions_are_400_with_a_clear_message(client: TestClient) -> None:
    for change, message in INVALID:
        response = client.post(f"{BASE}/subscriptions", json=_invalid(change))
        body = problem(response, 400, "BadRequestData")
        assert message in body["detail"], (change, body["detail"])
    assert client.get(f"{BASE}/subscriptions").json() == []


def test_bodies_that_are_not_json_objects_are_rejected(client: TestClient) -> None:
    response = client.post(f"{BASE}/subscriptions", json=[1])
    assert response.status_code == 400, response.text
    assert "JSON object" in response.json()["detail"]
    response = client.post(
        f"{BASE}/subscriptions", content=b"{", headers={"Content-Type": "application/json"}
    )
    problem(response, 400, "InvalidRequest")


def test_subscriptions_belong_to_their_tenant(client: TestClient) -> None:
    sub_id = subscribe(client, subscription(ENDPOINT), tenant="astana")
    subscribe(client, subscription(ENDPOINT), tenant="almaty")
    assert [
        s["id"] for s in client.get(f"{BASE}/subscriptions", headers=headers("astana")).json()
    ] == [sub_id]
    problem(
        client.get(f"{BASE}/subscriptions/{sub_id}", headers=headers("almaty")),
        404,
        "ResourceNotFound",
    )
    problem(
        client.delete(f"{BASE}/subscriptions/{sub_id}", headers=headers("almaty")),
        404,
        "ResourceNotFound",
    )
    assert client.get(f"{BASE}/subscriptions").json() == []
    problem(
        client.get(f"{BASE}/subscriptions", headers=headers("nowhere")), 404, "NonexistentTenant"
    )


def test_names_are_kept_in_the_subscriptions_context(client: TestClient) -> None:
    context = {
        "brightness": "https://example.org/lighting/brightness",
        "Lamp": "https://example.org/lighting/Lamp",
    }
    body = {
        **subscription(ENDPOINT, entities=[{"type": "Lamp"}], watchedAttributes=["brightness"]),
        "@context": [context, CORE],
    }
    response = client.post(
        f"{BASE}/subscriptions", json=body, headers={"Content-Type": "application/ld+json"}
    )
    assert response.status_code == 201, response.text
    sub_id = response.headers["location"].rsplit("/", 1)[1]
    # Without the context, the names show expanded ...
    bare = get_subscription(client, sub_id)
    assert bare["watchedAttributes"] == ["https://example.org/lighting/brightness"]
    assert bare["entities"] == [{"type": "https://example.org/lighting/Lamp"}]
    # ... and with it, as the owner wrote them.
    response = client.get(
        f"{BASE}/subscriptions/{sub_id}", headers={"Accept": "application/ld+json"}
    )
    assert response.headers["content-type"] == "application/ld+json"
    assert response.json()["@context"] == CORE


def test_endpoints_on_local_addresses_are_refused_by_default(guarded_client: TestClient) -> None:
    for uri in (
        "http://127.0.0.1:8080/notify",
        "mqtt://localhost:1883/city",
        "http://10.1.2.3/notify",
    ):
        body = problem(
            guarded_client.post(f"{BASE}/subscriptions", json=subscription(uri)),
            400,
            "BadRequestData",
        )
        assert "QALA_ALLOW_LOCAL_ENDPOINTS" in body["detail"], body["detail"]


def _key(client: TestClient, role: str, tenant: str | None = None) -> dict[str, str]:
    body = {"role": role, "name": f"subscriber {role}", **({"tenant": tenant} if tenant else {})}
    response = client.post("/qala/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def test_admins_and_city_operators_manage_subscriptions_auditors_read_them(
    client: TestClient,
) -> None:
    url = f"{BASE}/subscriptions"
    operator = _key(client, "city-operator", "astana")
    created = client.post(url, json=subscription(ENDPOINT), headers=headers("astana", **operator))
    assert created.status_code == 201, created.text
    sub_url = created.headers["location"]
    assert (
        client.patch(
            sub_url, json={"isActive": False}, headers=headers("astana", **operator)
        ).status_code
        == 204
    )
    # Not in another city.
    other = client.post(url, json=subscription(ENDPOINT), headers=headers("almaty", **operator))
    problem_status(other, 403)
    # Partners and the public may not subscribe: notifications carry every matching entity.
    for role in ("partner", "public"):
        auth = _key(client, role, "astana")
        denied = client.post(url, json=subscription(ENDPOINT), headers=headers("astana", **auth))
        problem_status(denied, 403)
        problem_status(client.get(url, headers=headers("astana", **auth)), 403)
    auditor = _key(client, "auditor")
    assert len(client.get(url, headers=headers("astana", **auditor)).json()) == 1
    assert client.get(sub_url, headers=headers("astana", **auditor)).status_code == 200
    problem_status(client.delete(sub_url, headers=headers("astana", **auditor)), 403)
    assert client.delete(sub_url, headers=headers("astana", **operator)).status_code == 204


def problem_status(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.json()["detail"], response.text
