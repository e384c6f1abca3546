"""The dashboard over HTTP: its pages and assets, their security headers, the catalogues and
formats, the street basemap's Range requests, and the live stream's access rules."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from basemap import make_basemap
from dashkit import LINK, Seeded
from fastapi.testclient import TestClient

from qala.app import create_app
from qala.config import Settings
from qala.dashboard import i18n
from qala.dashboard.routes import CSP
from qala.demo import CONTEXT

PAGES = (
    "/",
    "/?lang=kk",
    "/?lang=en",
    "/dashboard/city/astana",
    "/dashboard/city/aktobe",
    "/dashboard/programme",
    "/dashboard/requests?lang=kk",
)
#: Absolute URLs the dashboard's own pages and scripts may hold: identifiers, never fetched
#: (the JSON-LD @context of Smart Data Models, sent in a Link header and resolved by the
#: server; the JSON-LD context relation; the SVG namespace of the trend lines).
IDENTIFIERS = {
    CONTEXT[0],
    "http://www.w3.org/ns/json-ld#context",
    "http://www.w3.org/2000/svg",
}
#: URLs inside the vendored libraries, and why none is loaded.
VENDORED_URLS = {
    "http://www.w3.org/2000/svg": "Leaflet: the SVG namespace",
    "https://leafletjs.com": "Leaflet: its attribution prefix, which the page switches off",
    "https://bugs.chromium.org/p/chromium/issues/detail?id=600120": "Leaflet CSS: a comment",
    "https://bugzilla.mozilla.org/show_bug.cgi?id=888319": "Leaflet CSS: a comment",
    "https://github.com/protomaps/PMTiles/tree/main/js": "pmtiles: an error message",
    "https://github.com/leeoniya/uPlot": "uPlot: its licence comment",
}
URL = re.compile(r"""https?://[^\s"'`)<>\\]+""")


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qala.db'}", mqtt_url="")
    with TestClient(create_app(settings)) as client:
        yield client


def assets_of(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"#]+)"', page)


def test_the_root_is_the_dashboard_and_the_api_documentation_stays_at_docs(
    dashboard: TestClient,
) -> None:
    page = dashboard.get("/", follow_redirects=False)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="ru">' in page.text  # Russian by default
    assert dashboard.get("/docs").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_pages_and_their_assets_allow_only_this_server(dashboard: TestClient, path: str) -> None:
    page = dashboard.get(path)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "script-src 'self'" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP and "http" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline
    links = assets_of(page.text)
    assert links
    for link in links:
        assert link.startswith("/") or link.startswith("?"), link
        if link.startswith("?") or not link.startswith("/dashboard/"):
            continue
        asset = dashboard.get(link)
        assert asset.status_code == 200, link
        assert asset.headers["content-security-policy"] == CSP, link


def test_no_page_or_asset_loads_anything_from_another_host(dashboard: TestClient) -> None:
    seen = set()
    for path in PAGES:
        page = dashboard.get(path).text
        assert set(URL.findall(page)) <= IDENTIFIERS, path
        seen.update(link.split("?")[0] for link in assets_of(page))
    own = Path(i18n.__file__).parent / "static"
    for script in (own / "js").glob("*.js"):
        assert set(URL.findall(script.read_text())) <= IDENTIFIERS, script.name
    found: dict[str, str] = {}
    for asset in sorted(seen):
        if not asset.startswith("/dashboard/static/"):
            continue
        text = dashboard.get(asset).text
        for url in URL.findall(text):
            found[url] = asset
        if asset.endswith(".css"):
            for target in re.findall(r"url\(([^)]*)\)", text):
                assert not target.strip("'\" ").startswith(("http:", "https:", "//")), asset
    unexplained = {
        url: where for url, where in found.items() if url not in {*VENDORED_URLS, *IDENTIFIERS}
    }
    assert not unexplained, unexplained


def test_assets_outside_the_folder_or_of_other_kinds_are_not_served(
    dashboard: TestClient,
) -> None:
    for path in (
        "/dashboard/static/../routes.py",
        "/dashboard/static/%2e%2e/routes.py",
        "/dashboard/static/vendor/leaflet/LICENSE",
        "/dashboard/static/missing.js",
    ):
        assert dashboard.get(path).status_code == 404, path
    assert dashboard.get("/dashboard/city/no%20such").status_code == 404


def test_the_language_chosen_is_remembered(dashboard: TestClient) -> None:
    chosen = dashboard.get("/?lang=kk")
    assert chosen.cookies.get("qala_lang") == "kk"
    assert '<html lang="kk">' in dashboard.get("/dashboard/city/astana").text
    assert '<html lang="kk">' in dashboard.get("/?lang=xx").text  # an unknown choice is ignored


def test_the_catalogues_translate_every_message_the_pages_use() -> None:
    used = set(i18n.extract_messages())
    assert len(used) > 80
    for lang in i18n.LANGUAGES:
        messages = i18n.js_messages(lang)
        assert set(messages) == used, lang
        if lang != "en":
            same = {m for m, text in messages.items() if text == m}
            assert same <= {"PM2.5", "PM10", "NO₂"}, (lang, same)


def test_the_page_carries_the_language_catalogue_for_its_scripts(
    dashboard: TestClient,
) -> None:
    page = dashboard.get("/?lang=kk").text
    raw = re.search(r'<script type="application/json" id="qala-config">(.*?)</script>', page, re.S)
    assert raw
    config = orjson.loads(raw.group(1).replace("<\\/", "</"))
    assert config["lang"] == "kk"
    assert config["messages"]["National overview"] == "Ел бойынша шолу"
    assert config["numbers"]["decimal"] == "," and config["numbers"]["group"] == "\xa0"
    assert config["cities"]["aktobe"]["zone"] == "Asia/Aqtobe"


def test_tenge_numbers_and_times_are_formatted_per_locale() -> None:
    amount = Decimal("1234567.50")
    assert i18n.format_money(amount, "kk") == "1\xa0234\xa0567,50\xa0₸"
    assert i18n.format_money(amount, "ru") == "1\xa0234\xa0567,50\xa0₸"
    assert i18n.format_money(amount, "en") == "₸1,234,567.50"
    assert i18n.format_compact(2_000_000_000, "ru") == "2\xa0млрд"
    assert i18n.format_compact(2_000_000_000, "kk") == "2\xa0млрд"
    assert i18n.format_compact(2_000_000_000, "en") == "2B"
    assert i18n.format_money(Decimal("2000000000"), "ru", compact=True) == "2\xa0млрд\xa0₸"
    assert i18n.format_number(1234.5, "en") == "1,234.5"
    with pytest.raises(TypeError):
        i18n.format_money(1234.5, "ru")  # type: ignore[arg-type]
    from datetime import UTC, datetime

    noon_utc = datetime(2026, 3, 20, 7, 0, tzinfo=UTC)
    assert "12:00" in i18n.format_time(noon_utc, "ru", "Asia/Almaty")
    assert "12:00" in i18n.format_time(noon_utc, "kk", "Asia/Aqtobe")
    assert "12:00" in i18n.format_time(noon_utc, "en", "Asia/Almaty").replace(" PM", "")


def test_the_street_basemap_is_served_in_range_requests_when_configured(tmp_path: Path) -> None:
    basemap = make_basemap(tmp_path / "streets.pmtiles", max_zoom=6)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'qala.db'}",
        mqtt_url="",
        dashboard_pmtiles=str(basemap),
    )
    with TestClient(create_app(settings)) as client:
        part = client.get("/dashboard/basemap/streets.pmtiles", headers={"Range": "bytes=0-126"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 0-126/{basemap.stat().st_size}"
        assert part.content[:7] == b"PMTiles" and len(part.content) == 127
        assert '"pmtiles":"/dashboard/basemap/streets.pmtiles"' in client.get("/").text


def test_without_a_street_basemap_the_page_uses_the_outlines_only(dashboard: TestClient) -> None:
    assert dashboard.get("/dashboard/basemap/streets.pmtiles").status_code == 404
    assert '"pmtiles":null' in dashboard.get("/").text
    outlines = dashboard.get("/dashboard/basemap/outlines.geojson")
    assert outlines.status_code == 200
    tenants = {f["properties"]["tenant"] for f in outlines.json()["features"]}
    assert tenants == {"astana", "almaty", "shymkent", "aktobe", "karaganda"}


class Stream:
    """The live stream of one caller, read in a thread."""

    def __init__(self, seeded: Seeded, key: str | None, tenant: str = "astana") -> None:
        self.events: list[dict[str, Any]] = []
        self.status: int | None = None
        self.ready = threading.Event()
        self.stop = threading.Event()
        headers = {"NGSILD-Tenant": tenant, "Link": LINK}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.thread = threading.Thread(target=self._read, args=(seeded.url, headers), daemon=True)
        self.thread.start()

    def _read(self, base: str, headers: dict[str, str]) -> None:
        # the server stops at the module's end and cuts the stream
        with contextlib.suppress(httpx.RemoteProtocolError):
            self._follow(base, headers)

    def _follow(self, base: str, headers: dict[str, str]) -> None:
        with (
            httpx.Client(base_url=base, timeout=30) as client,
            client.stream("GET", "/api/v1/dashboard/events", headers=headers) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                self.ready.set()
                return
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    if kind == "ready":
                        self.ready.set()
                    elif kind == "change":
                        self.events.append(orjson.loads(line[6:]))
                if self.stop.is_set():
                    return

    def ids(self) -> set[str]:
        return {event["id"] for event in self.events}


def test_the_live_stream_tells_each_caller_only_of_what_it_may_read(
    seeded_server: Seeded,
) -> None:
    streams = {
        "operator": Stream(seeded_server, seeded_server.keys["operator"]),
        "partner": Stream(seeded_server, seeded_server.keys["partner"]),
        "public": Stream(seeded_server, None),
    }
    other_city = Stream(seeded_server, seeded_server.keys["partner"], tenant="almaty")
    for stream in [*streams.values(), other_city]:
        assert stream.ready.wait(10)
    assert other_city.status == 403  # a partner of Astana has no stream of Almaty
    for stream in streams.values():
        assert stream.status == 200
    light = "urn:ngsi-ld:Streetlight:astana:000003"  # shared with partners
    station = "urn:ngsi-ld:AirQualityObserved:astana:000001"  # open data
    bin_ = "urn:ngsi-ld:WasteContainer:astana:000003"  # shared with no one
    with seeded_server.client(tenant="astana") as admin:
        for entity_id, attrs in (
            (light, {"powerState": {"type": "Property", "value": "on"}}),
            (station, {"pm25": {"type": "Property", "value": 41.0}}),
            (bin_, {"fillingLevel": {"type": "Property", "value": 0.97}}),
        ):
            response = admin.patch(
                f"/ngsi-ld/v1/entities/{entity_id}/attrs",
                json=attrs,
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 204, response.text
    deadline = time.monotonic() + 5
    while len(streams["operator"].ids()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    for stream in streams.values():
        stream.stop.set()
    assert streams["operator"].ids() == {light, station, bin_}
    assert streams["partner"].ids() == {light}
    assert streams["public"].ids() == {station}
    event = next(e for e in streams["public"].events if e["id"] == station)
    assert event["type"] == ["AirQualityObserved"] and event["kind"] == "update"
    assert set(event) == {"id", "type", "kind", "at"}  # no values: the page reads them again


def config_of(page: str) -> dict[str, Any]:
    raw = re.search(r'<script type="application/json" id="qala-config">(.*?)</script>', page, re.S)
    assert raw
    loaded: dict[str, Any] = orjson.loads(raw.group(1).replace("<\\/", "</"))
    return loaded


def test_the_indicators_sections_are_on_the_overview_and_the_city_page(
    dashboard: TestClient,
) -> None:
    overview = dashboard.get("/").text
    assert 'data-section="assessment"' in overview and 'data-section="indicators"' in overview
    city = dashboard.get("/dashboard/city/astana").text
    assert 'data-section="assessment"' in city and 'data-section="indicators"' in city
    assert "/dashboard/static/js/indicators.js" in city and "city-indicators.js" in city


def test_without_an_anonymous_role_the_indicators_are_refused_to_a_visitor_without_a_key(
    dashboard: TestClient,
) -> None:
    # the server gives requests without credentials no role: the indicators API answers 401,
    # so the page's sections say so instead of asking it
    sections = config_of(dashboard.get("/").text)["sections"]
    assert sections["assessment"] == {"state": "refused"}
    assert sections["indicators"] == {"state": "refused"}
    assert dashboard.get("/api/v1/indicators/catalogue").status_code == 401
    assert dashboard.get("/api/v1/indicators/comparison").status_code == 401


CITIES = ("astana", "almaty", "shymkent", "aktobe", "karaganda")
#: A period far from the test's data: computing it changes nothing the other tests read.
FAR_PERIOD = "2020-01"


def test_the_indicators_sections_states_are_the_indicators_apis_own_read_rules(
    seeded_server: Seeded,
) -> None:
    """For each role, the states the server gives the page are what the indicators API does:
    every city named (or every city, for ``null``) is read, every other is refused, and the
    page offers computing exactly where the API computes."""
    from testkit import ADMIN_KEY

    roles = {
        "public": None,
        "operator": seeded_server.keys["operator"],
        "partner": seeded_server.keys["partner"],
        "auditor": seeded_server.keys["auditor"],
        "admin": ADMIN_KEY,
    }
    seen = {}
    for role, key in roles.items():
        with seeded_server.client(key=key) as client:
            if key is None:  # the public view: the page's own configuration
                sections = config_of(client.get("/").text)["sections"]
            else:
                response = client.get("/api/v1/dashboard/sections")
                assert response.status_code == 200, response.text
                sections = response.json()["sections"]
            spec = sections["indicators"]
            assert sections["assessment"] == spec, role
            assert spec["state"] == "open", role
            seen[role] = (spec["tenants"], spec["compute"])
            for city in CITIES:
                readable = spec["tenants"] is None or city in spec["tenants"]
                for path in ("/api/v1/indicators/values", "/api/v1/indicators/gaps"):
                    response = client.get(path, params={"tenant": city, "period": FAR_PERIOD})
                    assert response.status_code == (200 if readable else 403), (role, city, path)
            for city in ("astana", "almaty"):
                readable = spec["tenants"] is None or city in spec["tenants"]
                response = client.post(
                    "/api/v1/indicators/compute", json={"tenant": city, "period": FAR_PERIOD}
                )
                expected = 200 if readable and spec["compute"] else 403
                assert response.status_code == expected, (role, city, response.text)
            assert client.get("/api/v1/indicators/comparison").status_code == 200
    assert seen == {
        "public": (None, False),
        "operator": (["astana"], True),
        "partner": (["astana"], False),
        "auditor": (None, False),
        "admin": (None, True),
    }


def test_the_indicators_sections_are_absent_where_the_capability_does_not_run() -> None:
    from types import SimpleNamespace

    from qala.dashboard.sections import section_states
    from qala.hub import Actor

    def server(*names: str, anonymous_role: str | None = "public") -> Any:
        return SimpleNamespace(
            capabilities=[SimpleNamespace(name=n) for n in names],
            settings=SimpleNamespace(anonymous_role=anonymous_role),
        )

    visitor = Actor(id="anonymous", role="public", via="anonymous")
    operator = Actor(id="key:1", role="city-operator", tenant="astana", via="key:1")
    states = section_states(server("dashboard"), operator)
    assert states["indicators"] == states["assessment"] == {"state": "absent"}
    states = section_states(server("dashboard", "indicators"), operator)
    assert states["indicators"] == {
        "state": "open", "view": "indicators", "tenants": ["astana"], "compute": True,
    }
    states = section_states(server("dashboard", "indicators", anonymous_role=None), visitor)
    assert states["indicators"] == {"state": "refused"}
    states = section_states(server("dashboard", "indicators"), visitor)
    assert states["indicators"]["state"] == "open" and states["indicators"]["compute"] is False
