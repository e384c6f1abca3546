"""The dashboard in a real browser: Debian's Chromium driven by Playwright, on a seeded server.

Every request to another host is refused and fails the test (``conftest.Browsing``), as does
any script error or warning in the page. Screenshots of each page at desktop and phone width
are kept in ``tests/artefacts/dashboard/`` (not committed); the first-render times are written
there too (``render.json``).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from basemap import make_basemap
from dashkit import (
    ARTEFACTS,
    Browsing,
    Computed,
    Seeded,
    database,
    screenshot,
    screenshot_path,
    start_server,
)

from qala.config import Settings
from qala.dashboard import i18n

pytestmark = pytest.mark.browser

PHONE = (390, 844)
CITIES = ["astana", "almaty", "shymkent", "aktobe", "karaganda"]
#: The headline indicators of the overview, in its order (static/js/indicators.js).
HEADLINE = [
    "iso37120:8.1",
    "iso37122:7.6",
    "qala:governance/requests-within-sla",
    "qala:energy/ev-charging-points",
    "u4ssc:economy/dynamic-public-transport-information",
]
#: Visible texts that are the same in every language (names, symbols).
SAME_EVERYWHERE = {"Qala", "PM2.5", "PM10", "NO₂", *i18n.AUTONYMS.values()}


def ready(page: Any, timeout: float = 15_000) -> float:
    """Waits for the page's data to be shown; the milliseconds from navigation to it."""
    page.wait_for_selector("html[data-ready=true]", state="attached", timeout=timeout)
    return float(
        page.evaluate("performance.getEntriesByName('qala-ready')[0].startTime")
    )


def best_of_three(page: Any) -> float:
    """The page's render time on a warm server, the best of three loads: a measure of the
    page rather than of other work on a shared machine."""
    times = []
    for _ in range(3):
        page.reload()
        times.append(ready(page))
    return min(times)


def visible_texts(page: Any) -> list[str]:
    return list(
        page.evaluate(
            """() => {
              const out = [];
              const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
              while (walker.nextNode()) {
                const node = walker.currentNode;
                const text = node.textContent.trim();
                const box = node.parentElement;
                if (!text || !box || box.closest('template')) continue;
                if (!box.checkVisibility || box.checkVisibility()) out.push(text);
              }
              for (const el of document.querySelectorAll('[aria-label], [title]')) {
                out.push(el.getAttribute('aria-label') || el.getAttribute('title'));
              }
              return out;
            }"""
        )
    )


def test_the_overview_shows_every_city_within_a_second_and_at_phone_width(
    browsing: Browsing, seeded_server: Seeded, indicators: Computed
) -> None:
    timings: dict[str, float] = {}
    page = browsing.page()
    page.goto(f"{seeded_server.url}/?lang=ru")
    timings["overview, first load of the server"] = ready(page)
    timings["overview"] = best_of_three(page)
    cards = page.locator("article.city")
    assert cards.count() == 5
    astana = page.locator("article.city[data-tenant=astana]")
    # the public view: Astana shares air quality and stops; the other cities nothing
    assert astana.locator("tbody tr").count() == 2
    assert "Станции качества воздуха" in astana.inner_text()
    assert page.locator("article.city[data-tenant=almaty] .city-state").inner_text() == (
        "Город пока ничего не открыл для всех."
    )
    page.wait_for_selector("html[data-sections=true]", state="attached")
    # the public role reads no programme: said without asking the API (no failed request)
    programme = page.locator("[data-section=programme]")
    assert programme.get_attribute("data-state") == "refused"
    assert programme.locator(".section-state").inner_text().startswith("Недоступно для вас.")
    # open requests are public (GeoReport): every city, by SLA state; the figures are staff's
    requests = page.locator("[data-section=requests]")
    assert requests.locator("tbody tr").count() == 5
    assert requests.locator("tr[data-tenant=astana] td").nth(4).inner_text() == "—"
    screenshot(page, "overview-desktop")
    page.wait_for_selector("html[data-complete=true]", state="attached")
    assert astana.locator(".fresh-day").inner_text() == "0 из 32"  # the demo's values are old
    page.goto(f"{seeded_server.url}/dashboard/city/astana")
    timings["city, first load"] = ready(page)
    timings["city"] = best_of_three(page)
    # the public reads the city's indicators (computed by the city) and computes none
    page.wait_for_selector("html[data-sections=true]", state="attached")
    assert page.locator("#city-indicators tbody tr").count() > 0
    assert page.locator("#city-headline dd[data-indicator]").count() == len(HEADLINE)
    assert page.locator("#compute-form").is_hidden()
    screenshot(page, "city-desktop")
    phone = browsing.page(*PHONE)
    phone.goto(f"{seeded_server.url}/")
    ready(phone)
    phone.wait_for_selector("html[data-sections=true]", state="attached")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the overview is {width} px wide on a {PHONE[0]} px phone"
    screenshot(phone, "overview-phone")
    phone.goto(f"{seeded_server.url}/dashboard/city/astana")
    ready(phone)
    phone.wait_for_selector("html[data-sections=true]", state="attached")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(phone, "city-phone")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "render.json").write_text(json.dumps(timings, indent=2))
    # Reported, not asserted: timings are benchmark figures (bench/README.md), never test
    # verdicts on a shared machine.
    print(f"first meaningful render: {timings}")


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_every_string_shown_comes_from_the_language_catalogue(
    browsing: Browsing, seeded_server: Seeded, indicators: Computed, lang: str
) -> None:
    english = {m for m, text in i18n.js_messages("ru").items() if text != m}
    english -= SAME_EVERYWHERE
    translations = i18n.js_messages(lang)
    page = browsing.page()
    page.goto(f"{seeded_server.url}/?lang={lang}")
    ready(page)
    assert page.get_attribute("html", "lang") == lang
    # instants and months as Babel writes them (CLDR's patterns and names, from the server)
    local = datetime(2026, 3, 20, 11, 5, tzinfo=UTC).astimezone(ZoneInfo("Asia/Almaty"))
    locale = i18n.LOCALES[lang]
    expected = (
        get_datetime_format("medium", locale=locale)
        .replace("{1}", format_date(local, "medium", locale=locale))
        .replace("{0}", format_time(local, "short", locale=locale))
    )
    assert page.evaluate("Qala.time('2026-03-20T11:05:00Z', 'astana')") == expected
    assert page.evaluate("Qala.month('2026-03', {fullYear: true})") == format_skeleton(
        "yMMM", date(2026, 3, 1), locale=locale
    )
    for url in ("/", "/dashboard/city/astana", "/dashboard/requests", "/dashboard/programme"):
        page.goto(f"{seeded_server.url}{url}")  # the language is remembered
        ready(page)
        page.wait_for_selector("html[data-sections=true]", state="attached")
        assert page.get_attribute("html", "lang") == lang
        texts = visible_texts(page)
        assert translations["National overview"] in texts
        if lang != "en":
            untranslated = sorted({text for text in texts if text in english})
            assert not untranslated, f"{url} in {lang}: {untranslated}"
        if url == "/":  # the indicators' titles are the catalogue's, in the language
            catalogue = api_json(seeded_server, None, "/api/v1/indicators/catalogue", lang=lang)
            titles = {i["id"]: i["title"] for i in catalogue}
            shown = page.locator("[data-section=indicators] tbody th .indicator-title")
            assert shown.all_inner_texts() == [titles[i] for i in HEADLINE]
            assert translations["Headline indicators"] in texts


def test_layers_are_toggled_and_a_popup_shows_the_latest_values_and_a_sparkline(
    browsing: Browsing, seeded_server: Seeded, indicators: Computed
) -> None:
    page = browsing.page()
    sign_in(page, seeded_server, "operator")  # streetlights are not open data in Astana
    page.goto(f"{seeded_server.url}/dashboard/city/astana?lang=en")
    ready(page)
    # the city's operator may compute its indicators: the page offers it (and only then:
    # tests of the public and an auditor); what it compares is what it reads, its own city
    page.wait_for_selector("html[data-sections=true]", state="attached")
    assert indicator_states(page) == ("open", "open")
    assert page.locator("#compute-form").is_visible()
    assert page.locator("#compute").inner_text() == (
        f"Compute the indicators for {indicators.year} and the last twelve months"
    )
    compared = page.locator("#comparison-table tbody tr")
    assert [r.get_attribute("data-tenant") for r in compared.all()] == ["astana"]
    lights = page.locator("#layer-lights")
    assert lights.is_checked()
    assert page.locator("#summary tr[data-layer=lights]").count() > 0
    lights.uncheck()
    page.wait_for_function("!document.querySelector('#summary tr[data-layer=lights]')")
    stops = page.locator("#layer-stops")
    stops.check()
    page.wait_for_selector("#summary tr[data-layer=stops]")
    stops.uncheck()
    open_station(page, "urn:ngsi-ld:AirQualityObserved:astana:000001")
    popup = page.locator(".popup")
    assert popup.locator("dd[data-attr=pm25]").inner_text()
    page.wait_for_selector(".popup figure .uplot canvas")
    caption = popup.locator("figcaption").inner_text()
    assert caption.startswith("PM2.5: ") and "values from" in caption, caption
    screenshot(page, "city-popup-desktop")


def sign_in(page: Any, seeded_server: Seeded, key: str) -> None:
    page.goto(f"{seeded_server.url}/")
    page.fill("#credential", seeded_server.keys[key])
    page.click("#signin-form button")
    page.wait_for_selector("#signed-in:visible")


def test_a_city_operator_on_another_citys_page_is_told_and_asks_nothing_refused(
    browsing: Browsing, seeded_server: Seeded
) -> None:
    """Astana's operator opening Almaty's page: every API of Almaty would refuse the key, so the
    page draws no layer and says why, without one failed request (the fixture fails the test
    on any error in the console)."""
    page = browsing.page()
    sign_in(page, seeded_server, "operator")
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status in (401, 403) else None)
    page.goto(f"{seeded_server.url}/dashboard/city/almaty?lang=en")
    ready(page)
    page.wait_for_selector("html[data-sections=true]", state="attached")
    assert page.locator("#map-note").inner_text() == "This city's data is not shared with you."
    assert page.locator("#layers").is_hidden()
    assert page.locator(".qm, .cluster").count() == 0
    assert refused == []
    page.goto(f"{seeded_server.url}/dashboard/city/astana?lang=en")  # its own city: the map
    ready(page)
    assert page.locator("#layers").is_visible() and page.locator("#map-note").inner_text() == ""
    assert refused == []


def open_station(page: Any, entity_id: str) -> None:
    """Opens the popup of one point, zooming into its cluster until it is shown."""
    marker = page.locator(f'.qm [data-id="{entity_id}"]')
    for _ in range(12):
        if marker.count():
            break
        page.locator(".cluster-air").first.click()
        page.wait_for_timeout(400)
    marker.click()
    page.wait_for_selector(f'.popup[data-popup="{entity_id}"]')


def test_a_write_through_the_ngsi_ld_api_changes_the_map_within_two_seconds(
    browsing: Browsing, seeded_server: Seeded
) -> None:
    entity_id = "urn:ngsi-ld:AirQualityObserved:astana:000002"
    page = browsing.page()
    page.goto(f"{seeded_server.url}/dashboard/city/astana?lang=en")
    ready(page)
    page.wait_for_selector("#live-state:has-text('Live updates connected.')")
    open_station(page, entity_id)
    loaded = page.evaluate("performance.getEntriesByType('navigation')[0].startTime")
    with seeded_server.client(tenant="astana") as admin:
        written = time.monotonic()
        response = admin.patch(
            f"/ngsi-ld/v1/entities/{entity_id}/attrs",
            json={"pm25": {"type": "Property", "value": 312.5}},
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 204, response.text
    page.wait_for_selector(
        f'.popup[data-popup="{entity_id}"] dd[data-attr=pm25]:text-is("312.5")', timeout=2000
    )
    page.wait_for_selector(f'.qm [data-id="{entity_id}"][data-band=hazard]', timeout=2000)
    page.wait_for_selector("#summary tr[data-layer=air][data-band=hazard]", timeout=2000)
    assert time.monotonic() - written < 2.0
    # the same document: no reload happened
    assert page.evaluate("performance.getEntriesByType('navigation')[0].startTime") == loaded
    screenshot(page, "city-live-update")


def test_signing_in_shows_what_the_key_may_read_and_signing_out_returns_to_the_public_view(
    browsing: Browsing, seeded_server: Seeded
) -> None:
    page = browsing.page()
    page.goto(f"{seeded_server.url}/?lang=en")
    ready(page)
    astana = page.locator("article.city[data-tenant=astana]")
    assert "Streetlights" not in astana.inner_text()
    page.fill("#credential", "qala_not-a-key")
    page.click("#signin-form button")
    page.wait_for_selector("#signin-error:visible")
    assert page.evaluate("sessionStorage.getItem('qala.credential')") is None
    page.fill("#credential", seeded_server.keys["operator"])
    page.click("#signin-form button")
    page.wait_for_selector("#signed-in:visible")
    ready(page)
    # an operator key of Astana sees all of Astana, and no other city
    assert page.locator("article.city").count() == 1
    assert "Streetlights" in page.locator("article.city[data-tenant=astana]").inner_text()
    assert page.locator("#nav a[href*='/dashboard/city/']").count() == 1
    page.click("#signout")
    page.wait_for_selector("#signin-form:visible")
    ready(page)
    assert page.locator("article.city").count() == 5
    assert "Public view" in page.locator("#view-note").inner_text()


def test_the_overview_is_used_with_the_keyboard_alone(
    browsing: Browsing, seeded_server: Seeded
) -> None:
    page = browsing.page()
    page.goto(f"{seeded_server.url}/?lang=kk")
    ready(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
              const el = document.activeElement;
              const style = getComputedStyle(el);
              return {cls: el.className, text: el.textContent.trim(), outline: style.outlineStyle};
            }"""
        )
        assert focused["outline"] != "none", focused  # the focus is always visible
        reached.append(focused)
        if focused["cls"] == "city-link":
            break
    assert reached[-1]["cls"] == "city-link", reached
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/city/**")
    ready(page)
    # on the city page, the layers are checkboxes reached by Tab and toggled with Space
    page.focus("#layer-air")
    page.keyboard.press("Space")
    assert not page.locator("#layer-air").is_checked()


def test_an_operators_pmtiles_street_basemap_is_drawn_from_range_requests(
    browsing: Browsing, tmp_path: Path
) -> None:
    basemap = make_basemap(tmp_path / "streets.pmtiles")
    settings = Settings(
        database_url=database(tmp_path / "qala.db"),
        anonymous_role="public",
        mqtt_url="",
        dashboard_pmtiles=str(basemap),
    )
    server, thread, url = start_server(settings)
    try:
        with Seeded(url=url).client() as admin:  # the city exists, with nothing in it yet
            assert admin.patch("/qala/v1/tenants/astana", json={"settings": {}}).status_code == 200
        browsing.base = url
        page = browsing.page()
        ranges: list[str] = []
        page.on(
            "request",
            lambda request: ranges.append(request.headers.get("range", ""))
            if request.url.endswith("/streets.pmtiles")
            else None,
        )
        page.goto(f"{url}/dashboard/city/astana")
        ready(page)
        page.wait_for_selector(".leaflet-tile-loaded", state="attached", timeout=10_000)
        assert ranges and all(r.startswith("bytes=") for r in ranges), ranges
        screenshot(page, "city-pmtiles-basemap")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def overview_as(browsing: Browsing, seeded_server: Seeded, key: str | None) -> Any:
    page = browsing.page()
    if key:
        sign_in(page, seeded_server, key)
    page.goto(f"{seeded_server.url}/?lang=en")
    ready(page)
    page.wait_for_selector("html[data-sections=true]", state="attached")
    return page


def headline_columns(page: Any) -> list[str | None]:
    return [
        th.get_attribute("data-tenant")
        for th in page.locator("[data-section=indicators] thead th[data-tenant]").all()
    ]


def assessment_rows(page: Any) -> list[str | None]:
    rows = page.locator("[data-section=assessment] tbody tr")
    return [r.get_attribute("data-tenant") for r in rows.all()]


def test_the_overviews_sections_follow_what_each_role_may_read(
    browsing: Browsing, seeded_server: Seeded, indicators: Computed
) -> None:
    page = overview_as(browsing, seeded_server, None)
    assert page.locator("[data-section=programme]").get_attribute("data-state") == "refused"
    assert page.locator("[data-section=programme] tbody tr").count() == 0
    # the indicators API reads every city to the public
    assert indicator_states(page) == ("open", "open")
    assert headline_columns(page) == assessment_rows(page) == CITIES
    # an operator of Astana: Astana's projects and Astana's back-office figures only
    page = overview_as(browsing, seeded_server, "operator")
    programme = page.locator("[data-section=programme]")
    assert programme.get_attribute("data-state") == "open"
    assert [r.get_attribute("data-tenant") for r in programme.locator("tbody tr").all()] == [
        "astana"
    ]
    requests = page.locator("[data-section=requests]")
    assert [r.get_attribute("data-tenant") for r in requests.locator("tbody tr").all()] == [
        "astana"
    ]
    within = requests.locator("tr[data-tenant=astana] td").nth(4).inner_text()
    assert within.endswith("%"), within
    # its indicators and assessment: Astana's only
    assert indicator_states(page) == ("open", "open")
    assert headline_columns(page) == assessment_rows(page) == ["astana"]
    # an auditor: every city's money, flags and figures
    page = overview_as(browsing, seeded_server, "auditor")
    rows = page.locator("[data-section=programme] tbody tr")
    assert rows.count() == 5
    almaty = page.locator("[data-section=programme] tr[data-tenant=almaty]")
    planned = almaty.locator("td").first
    assert planned.inner_text() == "₸9.2B"  # the demo's illustrative split: 9.2 bn for Almaty
    assert planned.locator("a").get_attribute("title") == "₸9,200,000,000.00"
    assert planned.locator("a").get_attribute("href").endswith("/dashboard/programme?city=almaty")
    high = int(almaty.locator("td").nth(5).inner_text())
    assert high > 0  # Almaty's air-quality network is paid, claimed met and silent
    assert page.locator("[data-section=requests] tbody tr").count() == 5
    assert headline_columns(page) == assessment_rows(page) == CITIES
    # every request answered: the browsing fixture fails the test on any failed one


def test_the_programme_page_shows_money_against_delivery_and_the_flags_with_history(
    browsing: Browsing, seeded_server: Seeded
) -> None:
    page = browsing.page()
    sign_in(page, seeded_server, "auditor")
    page.goto(f"{seeded_server.url}/dashboard/programme?lang=ru")
    ready(page)
    projects = page.locator("#projects article.project")
    assert projects.count() == 10
    shymkent = page.locator("article.project[data-project=SHY-LIGHT]")
    text = shymkent.inner_text()
    # the planned budget in words and exactly
    assert "3,6\xa0млрд\xa0₸ (3\xa0600\xa0000\xa0000,00\xa0₸)" in text
    assert "Выполнено по данным" in text
    flags = page.locator("#flags li.flag")
    total = flags.count()
    assert total > 0
    screenshot(page, "programme-desktop")
    page.select_option("#filter-city", "shymkent")
    page.wait_for_selector("#flags li.flag:not([data-tenant=shymkent])", state="detached")
    page.wait_for_selector("#flags li.flag[data-tenant=shymkent]")
    assert page.locator("#projects article.project").count() == 2
    assert "city=shymkent" in page.url
    page.select_option("#filter-flag", "deadline-moved")
    page.wait_for_selector("#flags li.flag:not([data-rule=deadline-moved])", state="detached")
    page.wait_for_selector("#flags li.flag[data-rule=deadline-moved]")
    moved = page.locator("#flags li.flag").first
    moved.locator("details:not(.flag-history) summary").click()
    assert moved.locator("details:not(.flag-history) dt").count() > 0  # the evidence
    moved.locator("details.flag-history summary").click()
    page.wait_for_selector("#flags li.flag details.flag-history li")
    assert " изменено с " in moved.locator("details.flag-history li").first.inner_text()
    phone = browsing.page(*PHONE)
    sign_in(phone, seeded_server, "auditor")
    phone.goto(f"{seeded_server.url}/dashboard/programme")
    ready(phone)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the programme page is {width} px wide on a phone"
    screenshot(phone, "programme-phone")


def test_the_requests_page_maps_open_requests_by_sla_state_with_a_table_and_trends(
    browsing: Browsing, seeded_server: Seeded
) -> None:
    page = browsing.page()
    page.goto(f"{seeded_server.url}/dashboard/requests?city=almaty&lang=en")
    ready(page)
    rows = page.locator("#open-table tbody tr[data-sla]")
    assert rows.count() > 0
    with seeded_server.client(key=None) as public:
        published = public.get(
            "/open311/v2/requests.json",
            params={"jurisdiction_id": "almaty", "status": "open", "extensions": "true"},
        ).json()
    assert rows.count() == len(published)
    states = {r["extended_attributes"].get("sla_state") for r in published}
    assert {r.get_attribute("data-sla") for r in rows.all()} == states
    # on the map: one marker per open request, clustered where they are close
    markers = page.evaluate(
        "[...document.querySelectorAll('.qm [data-sla]')].length + "
        "[...document.querySelectorAll('.cluster-requests span')]"
        ".reduce((n, s) => n + Number(s.textContent), 0)"
    )
    assert markers == len(published)
    trends = page.locator("#trends tbody tr[data-service]")
    assert trends.count() > 0
    assert page.locator("#trends thead th").count() == 12 + 3
    screenshot(page, "requests-desktop")
    page.select_option("#filter-sla", "overdue")
    assert all(r.get_attribute("data-sla") == "overdue" for r in rows.all())
    phone = browsing.page(*PHONE)
    phone.goto(f"{seeded_server.url}/dashboard/requests")
    ready(phone)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], f"the requests page is {width} px wide on a phone"
    screenshot(phone, "requests-phone")


def test_the_city_map_has_a_layer_of_open_requests_by_sla_state(
    browsing: Browsing, seeded_server: Seeded
) -> None:
    page = browsing.page()
    page.goto(f"{seeded_server.url}/dashboard/city/astana?lang=en")
    ready(page)
    page.wait_for_selector("html[data-sections=true]", state="attached")
    layer = page.locator("#layer-requests")
    assert not layer.is_checked()
    layer.check()
    page.wait_for_selector("#summary tr[data-layer=requests]")
    shown = sum(
        int(r.locator("td").nth(2).inner_text())
        for r in page.locator("#summary tr[data-layer=requests]").all()
    )
    section = page.locator("[data-section=requests] .section-state").inner_text()
    assert section == f"{shown} open requests filed in the last 90 days."
    screenshot(page, "city-requests-layer")


def api_json(seeded_server: Seeded, key: str | None, path: str, **params: Any) -> Any:
    with seeded_server.client(key=key) as client:
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


def shown_number(value: float) -> str:
    """A value as the page writes it in English: none from 1,000, one decimal from 10, two from
    1, two significant digits below; never more decimals than the value has."""
    size = abs(value)
    if size >= 1000:
        places = 0
    elif size >= 10:
        places = 1
    elif size >= 1 or size == 0:
        places = 2
    else:
        places = min(8, 1 - math.floor(math.log10(size)))
    digits = format(Decimal(repr(value)), "f")  # the shortest digits, as JavaScript's String
    fraction = digits.split(".")[1] if "." in digits and value != int(value) else ""
    return f"{value:,.{min(places, len(fraction))}f}"


def test_the_overview_shows_the_assessment_and_headline_indicators_as_the_api_gives_them(
    browsing: Browsing, seeded_server: Seeded, indicators: Computed
) -> None:
    page = browsing.page()
    page.goto(f"{seeded_server.url}/?lang=en")
    page.wait_for_selector("html[data-sections=true]", state="attached")
    year = indicators.year
    # the national assessment score: per city what the API says (the public's view of it)
    assessment = page.locator("[data-section=assessment]")
    assert assessment.get_attribute("data-state") == "open"
    assert assessment.locator("tbody tr").count() == 5
    for city in CITIES:
        result = api_json(
            seeded_server, None, "/api/v1/indicators/assessment", tenant=city, period=year
        )
        row = assessment.locator(f"tr[data-tenant={city}]")
        score = row.locator("td.score")
        if result["total"] is None:
            assert score.get_attribute("data-total") == ""
            assert score.inner_text() == f"Not computable: {result['reason']}"
        else:
            assert float(score.get_attribute("data-total")) == result["total"]
        for area in result["areas"]:
            cell = row.locator(f"td[data-area='{area['id']}']").inner_text()
            assert cell == ("—" if area["points"] is None else cell), cell
            if area["points"] is not None:
                assert cell.startswith(f"{area['points']} ("), cell
    # the headline indicators, side by side: the year's value, rank or reason, as compared
    headline = page.locator("[data-section=indicators]")
    assert headline.get_attribute("data-state") == "open"
    compared = {
        c["indicator"]: c
        for c in api_json(seeded_server, None, "/api/v1/indicators/comparison", period=year)
    }
    rows = headline.locator("tbody tr")
    assert [r.get_attribute("data-indicator") for r in rows.all()] == HEADLINE
    values_shown = reasons_shown = 0
    for indicator in HEADLINE:
        standings = {s["tenant"]: s for s in compared[indicator]["cities"]}
        missing = {m["tenant"]: m["reason"] for m in compared[indicator]["missing"]}
        for city in CITIES:
            cell = headline.locator(f"tr[data-indicator='{indicator}'] td[data-tenant={city}]")
            figure = cell.locator(".figure")
            if city in standings:
                value = standings[city]["value"]
                shown = figure.locator(".value")
                assert float(shown.get_attribute("data-value")) == value
                assert shown.inner_text().split("\xa0")[0] == shown_number(value)
                assert shown.get_attribute("href").endswith(
                    f"/dashboard/city/{city}?indicator={quote(indicator, safe='')}#indicators"
                )
                rank = f"rank {standings[city]['rank']} of {len(standings)}"
                assert cell.locator(".rank").inner_text() == rank
                values_shown += 1
            elif city in missing and missing[city] != "no value":
                assert figure.get_attribute("data-kind") == "not-computable"
                assert figure.inner_text() == f"Not computable: {missing[city]}"
                reasons_shown += 1
            else:
                assert figure.inner_text() == f"Not computed for {year} yet"
    assert values_shown >= 10 and reasons_shown >= 3  # no daily PM2.5 means; no population
    # Karaganda has nothing computed; the others' requests within SLA have a trend line
    assert "Not computed for" in headline.locator("td[data-tenant=karaganda]").first.inner_text()
    series = api_json(
        seeded_server, None, "/api/v1/indicators/values",
        tenant="astana", indicator="qala:governance/requests-within-sla",
    )
    monthly = [
        v for v in series
        if v["period"]["label"] in indicators.months and v["kind"] == "measured"
    ]
    trend = headline.locator(
        "tr[data-indicator='qala:governance/requests-within-sla'] td[data-tenant=astana] .trend"
    )
    assert trend.get_attribute("data-months") == str(len(monthly))
    assert len(monthly) >= 10  # a year of requests: a value for most months
    assert trend.locator("svg polyline").count() >= 1
    headline.screenshot(path=str(screenshot_path("overview-indicators-desktop")))


def test_the_city_page_shows_the_series_the_comparison_the_gaps_and_the_assessment(
    browsing: Browsing, seeded_server: Seeded, indicators: Computed
) -> None:
    key = seeded_server.keys["auditor"]
    year = indicators.year
    page = browsing.page()
    sign_in(page, seeded_server, "auditor")
    page.goto(f"{seeded_server.url}/dashboard/city/astana?lang=en&indicator=iso37120:8.1")
    page.wait_for_selector("html[data-sections=true]", state="attached")
    section = page.locator("[data-section=indicators]")
    stored = api_json(seeded_server, key, "/api/v1/indicators/values", tenant="astana")
    of_year = {v["indicator"]: v for v in stored if v["period"]["label"] == year}
    rows = section.locator("#city-indicators tbody tr")
    assert {r.get_attribute("data-indicator") for r in rows.all()} == set(of_year)
    for indicator, value in of_year.items():
        figure = section.locator(f"#city-indicators tr[data-indicator='{indicator}'] .figure")
        if value["kind"] == "measured":
            assert float(figure.locator(".value").get_attribute("data-value")) == value["value"]
        else:  # never a number: the reason the API gives
            assert figure.inner_text() == f"Not computable: {value['reason']}"
    assert any(v["kind"] == "not-computable" for v in of_year.values())
    # the chosen indicator: its monthly values (chart and table), as stored
    detail = page.locator("#indicator-detail")
    assert detail.get_attribute("data-indicator") == "iso37120:8.1"
    page.wait_for_selector("#indicator-detail .chart canvas")
    months = {
        v["period"]["label"]: v
        for v in stored
        if v["indicator"] == "iso37120:8.1" and v["period"]["kind"] == "month"
    }
    table = detail.locator("#series-table tbody tr")
    assert [r.get_attribute("data-period") for r in table.all()] == indicators.months
    measured = 0
    for label in indicators.months:
        figure = detail.locator(f"#series-table tr[data-period='{label}'] .figure")
        value = months.get(label)
        if value is None:
            assert figure.inner_text() == "Not computed yet"
        elif value["kind"] == "measured":
            assert float(figure.locator(".value").get_attribute("data-value")) == value["value"]
            measured += 1
        else:
            assert figure.inner_text() == f"Not computable: {value['reason']}"
    assert measured >= 3  # the months with a day of PM2.5
    caption = detail.locator("#series-caption").inner_text()
    assert caption.startswith(f"{measured} of 12 months with a value"), caption
    # the cities compared for the year
    compared = next(
        c for c in api_json(seeded_server, key, "/api/v1/indicators/comparison", period=year)
        if c["indicator"] == "iso37120:8.1"
    )
    listed = [
        r.get_attribute("data-tenant")
        for r in detail.locator("#comparison-table tbody tr").all()
    ]
    assert listed == [
        *(s["tenant"] for s in sorted(compared["cities"], key=lambda s: s["rank"])),
        *(m["tenant"] for m in compared["missing"]),
    ]
    # where the city trails
    gaps = api_json(seeded_server, key, "/api/v1/indicators/gaps", tenant="astana", period=year)
    peers = page.locator("#gaps-peers li[data-indicator]")
    assert [p.get_attribute("data-indicator") for p in peers.all()] == [
        g["indicator"] for g in gaps["trailingPeers"]
    ]
    assert page.locator("#gaps-rankings tbody tr").count() == len(gaps["iese"]) + len(
        gaps["imd"]["areas"]
    )
    # the assessment
    result = api_json(
        seeded_server, key, "/api/v1/indicators/assessment", tenant="astana", period=year
    )
    areas = page.locator("#assessment-areas tbody tr")
    assert [a.get_attribute("data-area") for a in areas.all()] == [a["id"] for a in result["areas"]]
    score = page.locator("#assessment-score")
    if result["total"] is None:
        assert score.inner_text() == f"Score not computable: {result['reason']}"
    statuses = [
        li.get_attribute("data-status")
        for li in page.locator("#assessment-areas li[data-status]").all()
    ]
    assert statuses == [r["status"] for a in result["areas"] for r in a["requirements"]]
    # the auditor reads but does not compute: no button
    assert page.locator("#compute-form").is_hidden()
    # another indicator chosen: the detail follows, and the address keeps it
    page.click("#city-indicators button[data-indicator='qala:governance/requests-within-sla']")
    page.wait_for_selector("#indicator-detail[data-indicator='qala:governance/requests-within-sla']")
    assert "indicator=qala%3Agovernance%2Frequests-within-sla" in page.url
    section.screenshot(path=str(screenshot_path("city-indicators-desktop")))
    page.locator("[data-section=assessment]").screenshot(
        path=str(screenshot_path("city-assessment-desktop"))
    )


def indicator_states(page: Any) -> tuple[str | None, str | None]:
    return (
        page.locator("[data-section=assessment]").get_attribute("data-state"),
        page.locator("[data-section=indicators]").get_attribute("data-state"),
    )


def test_a_city_operator_computes_its_indicators_from_the_city_page(
    browsing: Browsing, seeded_server: Seeded, indicators: Computed
) -> None:
    from testkit import ADMIN_KEY

    with seeded_server.client(key=ADMIN_KEY) as admin:
        grant = {"role": "city-operator", "name": "karaganda", "tenant": "karaganda"}
        response = admin.post("/qala/v1/keys", json=grant)
        assert response.status_code == 201, response.text
        seeded_server.keys["karaganda"] = key = response.json()["key"]
    page = browsing.page()
    sign_in(page, seeded_server, "karaganda")
    page.goto(f"{seeded_server.url}/dashboard/city/karaganda?lang=en")
    page.wait_for_selector("html[data-sections=true]", state="attached")
    state = page.locator("[data-section=indicators] .section-state").inner_text()
    assert state == (
        f"No indicator values have been computed for {indicators.year} yet. "
        "You may compute them: they are read from the hub's data."
    )
    assert page.locator("#indicators-body").is_hidden()
    page.click("#compute")
    page.wait_for_selector("#compute-state:has-text('Computed')", timeout=60_000)
    stored = api_json(
        seeded_server, key, "/api/v1/indicators/values", tenant="karaganda", period=indicators.year
    )
    assert stored
    rows = page.locator("#city-indicators tbody tr")
    assert {r.get_attribute("data-indicator") for r in rows.all()} == {
        v["indicator"] for v in stored
    }
    monthly = api_json(
        seeded_server, key, "/api/v1/indicators/values",
        tenant="karaganda", period=indicators.months[0],
    )
    assert monthly  # the twelve months were computed too
