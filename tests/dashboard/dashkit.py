"""What the dashboard tests share: a seeded Qala server, and Debian's Chromium driven by Playwright.

The server runs in this process on a free port with SQLite, the public role for requests
without credentials, and the five demo cities at a twentieth of their demo size, seeded through
the NGSI-LD API (with 48 hours of PM2.5 history for Astana's stations through the temporal
API). Astana shares air quality and transport stops with the public and streetlights with its
partners. The programme monitor's demo programme (ten projects in the five cities, verified
against these entities) and a year of Open311 requests (240 a city, the recent ones open) are
loaded by their own seeders, as ``qala demo`` loads them. The ``indicators`` fixture adds
city statistics and some months of PM2.5 and computes the indicators through their API
(``seed_indicators``). Every request the browser makes to another host is refused and
recorded: a test fails when there is any.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn

from qala.app import create_app, start_services, stop_services
from qala.auth.keys import hash_key
from qala.config import Settings
from qala.demo import CITY_KEYS, CONTEXT, generate_city
from qala.store import migrate
from qala.store.urls import DatabaseURL
from testkit import ADMIN_KEY, require_service

CHROMIUM = "/usr/bin/chromium"
SCALE = 0.05
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts" / "dashboard"
LINK = f'<{CONTEXT[0]}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


#: Open311 requests seeded per city (a year of them; the demo has about 1,200).
REQUESTS_PER_CITY = 240


@dataclass
class Seeded:
    url: str
    settings: Settings | None = None
    keys: dict[str, str] = field(default_factory=dict)
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def client(self, key: str | None = ADMIN_KEY, tenant: str | None = None) -> httpx.Client:
        headers = {"Link": LINK}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if tenant:
            headers["NGSILD-Tenant"] = tenant
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_server(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning",
        timeout_graceful_shutdown=1,  # open live streams are cut, as `qala serve` does
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def database(path: Path) -> str:
    url = f"sqlite:///{path}"
    migrate.upgrade(DatabaseURL(url))
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO api_keys(id, name, role, tenant, key_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ("test-admin", "test admin", "admin", None, hash_key(ADMIN_KEY), 0),
        )
    return url


def seed(seeded: Seeded) -> None:
    with seeded.client() as admin:
        for city in CITY_KEYS:
            items = list(generate_city(city, 42, scale=SCALE))
            seeded.entities[city] = items
            response = admin.post(
                "/ngsi-ld/v1/entityOperations/upsert",
                json=items,
                headers={"NGSILD-Tenant": city, "Content-Type": "application/json"},
            )
            assert response.status_code in (201, 204), response.text
        response = admin.patch(
            "/qala/v1/tenants/astana",
            json={
                "settings": {
                    "openDataTypes": ["AirQualityObserved", "PublicTransportStop"],
                    "partnerTypes": ["Streetlight"],
                }
            },
        )
        assert response.status_code == 200, response.text
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for station in (e for e in seeded.entities["astana"] if e["type"] == "AirQualityObserved"):
            values = [
                {
                    "type": "Property",
                    "value": round(20 + 15 * ((hour * 7) % 11) / 10, 1),
                    "observedAt": (end - timedelta(hours=48 - hour)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                }
                for hour in range(48)
            ]
            response = admin.post(
                f"/ngsi-ld/v1/temporal/entities/{station['id']}/attrs",
                json={"pm25": values},
                headers={"NGSILD-Tenant": "astana", "Content-Type": "application/json"},
            )
            assert response.status_code == 204, response.text
        for name, role, tenant in (
            ("operator", "city-operator", "astana"),
            ("partner", "partner", "astana"),
            ("auditor", "auditor", None),
        ):
            grant = {"role": role, "name": name, **({"tenant": tenant} if tenant else {})}
            response = admin.post("/qala/v1/keys", json=grant)
            assert response.status_code == 201, response.text
            seeded.keys[name] = response.json()["key"]


async def seed_programme_and_requests(settings: Settings) -> None:
    """The demo programme, verified against the seeded entities, and a year of requests per
    city, through the capabilities' seeders (on the server's database, beside it)."""
    from qala.open311.demo import seed_requests
    from qala.programme.seed import seed_demo_programme

    svc = await start_services(settings, capabilities=[])
    try:
        await seed_requests(svc.hub, svc.store, per_city=REQUESTS_PER_CITY)
        await seed_demo_programme(svc)  # verified at the demo data's moments
    finally:
        await stop_services(svc)


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    folder = tmp_path_factory.mktemp("dashboard")
    settings = Settings(
        database_url=database(folder / "qala.db"),
        anonymous_role="public",
        mqtt_url="",
        rate_limit=0,
    )
    server, thread, url = start_server(settings)
    seeded = Seeded(url=url, settings=settings)
    try:
        seed(seeded)
        # in a thread of its own: Playwright's sync API may run an event loop in this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, seed_programme_and_requests(settings)).result()
        yield seeded
    finally:
        server.should_exit = True
        thread.join(timeout=10)


#: The indicators: cities whose City entity (population, area) is seeded — elsewhere the
#: per-resident indicators are not computable, and say why; cities computed for the current
#: year and each of the last twelve months, and for the year only. Karaganda is computed for
#: nothing: its values are "not computed yet" (until a test computes them from its page).
STATISTICS_CITIES = ("astana", "almaty")
MONTHLY_CITIES = ("astana",)
YEARLY_CITIES = ("almaty", "shymkent", "aktobe")
INDICATOR_ZONE = "Asia/Almaty"


def current_year() -> str:
    return str(datetime.now(ZoneInfo(INDICATOR_ZONE)).year)


def last_months(count: int = 12) -> list[str]:
    """The labels of the last ``count`` months in the indicators' zone, the current one last."""
    today = datetime.now(ZoneInfo(INDICATOR_ZONE))
    out = []
    for back in range(count - 1, -1, -1):
        index = today.year * 12 + today.month - 1 - back
        out.append(f"{index // 12}-{index % 12 + 1:02d}")
    return out


@dataclass
class Computed:
    """What the indicators fixture computed: the periods per city."""

    year: str
    months: list[str]
    periods: dict[str, list[str]]


def seed_indicators(seeded: Seeded) -> Computed:
    """City statistics and some months of PM2.5 through the NGSI-LD and temporal APIs, then
    the indicators computed through ``POST /api/v1/indicators/compute`` (Astana's by its
    operator, the others by the admin)."""
    from qala.demo import cities
    from qala.demo.seed import city_entity

    year, months = current_year(), last_months()
    with seeded.client() as admin:
        for city in STATISTICS_CITIES:
            response = admin.post(
                "/ngsi-ld/v1/entityOperations/upsert",
                json=[city_entity(cities()[city])],
                headers={"NGSILD-Tenant": city, "Content-Type": "application/json"},
            )
            assert response.status_code in (201, 204), response.text
        # a day of hourly PM2.5 (20 hours: a daily mean) at Astana's stations in each of the
        # three months before this one, so its PM2.5 has a monthly series
        stations = [e for e in seeded.entities["astana"] if e["type"] == "AirQualityObserved"]
        since = datetime.fromisoformat(f"{months[0]}-01T00:00:00+05:00").astimezone(UTC)
        for station in stations:  # in service since before the first month: its past loaded
            response = admin.post(
                f"/ngsi-ld/v1/entities/{station['id']}/attrs",
                json={"dateCreated": {"type": "Property", "value": {
                    "@type": "DateTime", "@value": since.strftime("%Y-%m-%dT%H:%M:%SZ")}}},
                headers={"NGSILD-Tenant": "astana", "Content-Type": "application/json"},
            )
            assert response.status_code == 204, response.text
        for back, label in enumerate(reversed(months[:-1][-3:]), start=1):
            first = datetime.fromisoformat(f"{label}-10T00:00:00+05:00").astimezone(UTC)
            for station in stations:
                values = [
                    {
                        "type": "Property",
                        "value": round(18 + 4 * back + (hour % 5) * 0.5, 1),
                        "observedAt": (first + timedelta(hours=hour)).strftime(
                            "%Y-%m-%dT%H:%M:%SZ"
                        ),
                    }
                    for hour in range(20)
                ]
                response = admin.post(
                    f"/ngsi-ld/v1/temporal/entities/{station['id']}/attrs",
                    json={"pm25": values},
                    headers={"NGSILD-Tenant": "astana", "Content-Type": "application/json"},
                )
                assert response.status_code == 204, response.text
        plan = {city: [year, *months] for city in MONTHLY_CITIES}
        plan.update({city: [year] for city in YEARLY_CITIES})
        with seeded.client(key=seeded.keys["operator"]) as operator:
            for city, periods in plan.items():
                who = operator if city == "astana" else admin
                for period in periods:
                    response = who.post(
                        "/api/v1/indicators/compute", json={"tenant": city, "period": period}
                    )
                    assert response.status_code == 200, response.text
    return Computed(year=year, months=months, periods=plan)


@pytest.fixture(scope="module")
def indicators(seeded_server: Seeded) -> Computed:
    """The seeded server with its indicators computed (``seed_indicators``)."""
    return seed_indicators(seeded_server)


def browser_missing() -> str | None:
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} is not installed (Debian package chromium; make test installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


#: Requests the pages make knowing they may be refused: the check of a key being signed in
#: with (401). The pages ask no other API that would refuse them: the server tells them
#: which sections the user may read.
EXPECTED_REFUSALS = {"/qala/v1/tenants"}


@dataclass
class Browsing:
    """A Chromium browser confined to one server: ``elsewhere`` lists every refused request."""

    browser: Any
    base: str
    elsewhere: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def page(self, width: int = 1366, height: int = 900) -> Any:
        context = self.browser.new_context(viewport={"width": width, "height": height})
        self.contexts.append(context)
        page = context.new_page()

        def only_qala(route: Any) -> None:
            if route.request.url.startswith(self.base + "/"):
                route.continue_()
            else:
                self.elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_qala)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        url = message.location.get("url", "")
        path = url.removeprefix(self.base).split("?")[0]
        if message.text.startswith("Failed to load resource") and path in EXPECTED_REFUSALS:
            return  # a refused key: the page says so
        self.errors.append(f"{message.text} ({url})")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    require_service(browser_missing())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browsing(chromium: Any, seeded_server: Seeded) -> Iterator[Browsing]:
    session = Browsing(chromium, seeded_server.url)
    yield session
    try:
        assert not session.elsewhere, f"requests to other hosts: {session.elsewhere}"
        assert not session.errors, f"errors in the page: {session.errors}"
    finally:
        # the test's pages are closed: their live streams end, and the server may stop at once
        for context in session.contexts:
            context.close()


def screenshot_path(name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS / f"{name}.png"


def screenshot(page: Any, name: str) -> Path:
    path = screenshot_path(name)
    page.screenshot(path=str(path), full_page=True)
    return path
