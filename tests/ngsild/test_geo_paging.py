"""Geo-queries answered from the spatial index: paging, counting, mixed geometries, filters."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ngsi import BASE, point, prop

CENTRE = (71.4491, 51.1694)  # Astana
# ~0.0009 degrees of latitude is 100 m.
STEP = 0.0009


def light(number: int, metres_north: int, **attrs: object) -> dict[str, object]:
    lon, lat = CENTRE
    return {
        "id": f"urn:ngsi-ld:Streetlight:{number:03d}",
        "type": "Streetlight",
        "location": point(lon, lat + STEP * metres_north / 100),
        **attrs,
    }


def park(number: int, metres_north: int) -> dict[str, object]:
    lon, lat = CENTRE
    lat += STEP * metres_north / 100
    ring = [
        [lon - 0.001, lat],
        [lon + 0.001, lat],
        [lon + 0.001, lat + 0.001],
        [lon - 0.001, lat + 0.001],
        [lon - 0.001, lat],
    ]
    return {
        "id": f"urn:ngsi-ld:Streetlight:{number:03d}",
        "type": "Streetlight",
        "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [ring]}},
    }


def near(client: TestClient, metres: int, **params: object) -> tuple[list[str], str | None]:
    response = client.get(
        f"{BASE}/entities",
        params={
            "type": "Streetlight",
            "georel": f"near;maxDistance=={metres}",
            "geometry": "Point",
            "coordinates": f"[{CENTRE[0]},{CENTRE[1]}]",
            **params,
        },
    )
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()], response.headers.get("ngsild-results-count")


def test_near_pages_and_counts_in_entity_order(client: TestClient) -> None:
    # Lights every 100 m to the north, and a polygon 250 m away (not a point).
    entities = [light(n, n * 100) for n in range(10)] + [park(50, 250)]
    assert client.post(f"{BASE}/entityOperations/create", json=entities).status_code == 201
    within_450, count = near(client, 450, count="true")
    assert within_450 == [f"urn:ngsi-ld:Streetlight:{n:03d}" for n in (0, 1, 2, 3, 4, 50)]
    assert count == "6"
    page, count = near(client, 450, count="true", limit=2, offset=3)
    assert page == ["urn:ngsi-ld:Streetlight:003", "urn:ngsi-ld:Streetlight:004"]
    assert count == "6"
    last, _ = near(client, 450, limit=5, offset=5)
    assert last == ["urn:ngsi-ld:Streetlight:050"]
    only_count, count = near(client, 450, count="true", limit=0)
    assert only_count == [] and count == "6"


def test_near_combines_with_q_and_attrs(client: TestClient) -> None:
    entities = [light(n, n * 100, status=prop("ok" if n % 2 else "broken")) for n in range(8)]
    client.post(f"{BASE}/entityOperations/create", json=entities)
    broken, count = near(client, 650, q='status=="broken"', count="true")
    assert broken == [f"urn:ngsi-ld:Streetlight:{n:03d}" for n in (0, 2, 4, 6)]
    assert count == "4"
    pattern, _ = near(client, 650, q='status~="^br"')
    assert pattern == broken


def test_a_moved_entity_is_found_where_it_now_is(client: TestClient) -> None:
    client.post(f"{BASE}/entities", json=light(1, 5000))
    assert near(client, 200)[0] == []
    client.patch(
        f"{BASE}/entities/urn:ngsi-ld:Streetlight:001/attrs", json={"location": point(*CENTRE)}
    )
    assert near(client, 200)[0] == ["urn:ngsi-ld:Streetlight:001"]
