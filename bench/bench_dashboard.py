"""The city map with 50,000 points: first render and smoothness while the user pans and zooms.

On a fresh SQLite database, Astana holds ``--points`` streetlights (default 50,000, spread over
the city) and nothing else; the server runs under uvicorn, and Debian's chromium (driven by
Playwright, headless, at 1366×900) opens ``/dashboard/city/astana`` signed in as an admin:

1. **first render**: from navigation to the page's ``qala-ready`` mark (every layer drawn), and
   how many points it fetched (the page fetches at most 20,000 per layer and view and asks to
   zoom in beyond that; Leaflet.markercluster clusters them in the browser);
2. **smoothness**: frame times (``requestAnimationFrame``) during a scripted session — eight
   mouse drags and four wheel zooms in and out, each followed by the page's re-fetch of the
   view — with the p50, p95 and worst frame, and the frames over 50 ms (a long frame: the user
   feels it).

Ceiling, in the same run: the same page and session on a city without entities (Karaganda:
outlines only), so the ratio is what the points cost. Figures are printed; nothing is asserted.

    python bench/bench_dashboard.py [--points 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import admin_key, database, machine, server, table
from qala.app import start_services, stop_services
from qala.config import Settings
from qala.hub import Actor
from qala.ngsild.parse import parse_entity

CHROMIUM = "/usr/bin/chromium"
ACTOR = Actor(id="bench", role="admin")
#: Inside Astana's outline.
LON, LAT = (71.30, 71.62), (51.06, 51.24)

RECORD = """() => {
  window.__frames = [];
  let last = performance.now();
  const tick = (now) => {
    window.__frames.push(now - last);
    last = now;
    window.__raf = requestAnimationFrame(tick);
  };
  window.__raf = requestAnimationFrame(tick);
}"""
STOP = "() => { cancelAnimationFrame(window.__raf); return window.__frames; }"


def lights(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        out.append({
            "id": f"urn:ngsi-ld:Streetlight:astana:{n:06d}",
            "type": "Streetlight",
            "location": {"type": "GeoProperty", "value": {
                "type": "Point",
                "coordinates": [round(rng.uniform(*LON), 6), round(rng.uniform(*LAT), 6)],
            }},
            "status": {"type": "Property", "value": "ok" if rng.random() > 0.03 else "defective"},
            "powerState": {"type": "Property", "value": rng.choice(("on", "off"))},
        })  # fmt: skip
    return out


async def load(url: str, count: int) -> float:
    settings = Settings(database_url=url, mqtt_url="")
    svc = await start_services(settings)
    try:
        ctx = await svc.contexts.compile(["https://smartdatamodels.org/context.jsonld"])
        started = time.perf_counter()
        entities = lights(count)
        for start in range(0, len(entities), 1000):
            parsed = [parse_entity(e, ctx) for e in entities[start : start + 1000]]
            outcome = await svc.hub.batch_upsert("astana", parsed, ACTOR, mode="replace")
            assert not outcome.errors, outcome.errors[:1]
        # the ceiling's city: a tenant whose only entity is not drawn on the map
        other = parse_entity({"id": "urn:ngsi-ld:Note:1", "type": "Note"}, ctx)
        outcome = await svc.hub.batch_upsert("karaganda", [other], ACTOR, mode="replace")
        assert not outcome.errors, outcome.errors
        return time.perf_counter() - started
    finally:
        await stop_services(svc)


def session(page: Any, base: str, tenant: str) -> dict[str, float]:
    started = time.perf_counter()
    page.goto(f"{base}/dashboard/city/{tenant}?lang=en")
    page.wait_for_selector("html[data-ready=true]", state="attached", timeout=120_000)
    ready_ms = page.evaluate("performance.getEntriesByName('qala-ready')[0].startTime")
    wall = time.perf_counter() - started
    fetched = page.evaluate(
        "(() => { const r = performance.getEntriesByType('resource')"
        ".filter((e) => e.name.includes('/ngsi-ld/v1/entities?'));"
        " if (!r.length) return [0, 0, 0];"
        " return [r.length,"
        " Math.max(...r.map((e) => e.responseEnd)) - Math.min(...r.map((e) => e.startTime)),"
        " r.reduce((n, e) => n + e.duration, 0)]; })()"
    )
    shown = page.evaluate(
        "[...document.querySelectorAll('#summary td.num')]"
        ".reduce((n, td) => n + Number(td.textContent.replace(/\\D/g, '')), 0)"
    )
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate(RECORD)
    moves = [(200, 0), (-200, 120), (0, -150), (150, 150), (-150, -120), (120, -60), (-80, 90),
             (0, 0)]  # fmt: skip
    for dx, dy in moves:
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=15)
        page.mouse.up()
        page.wait_for_timeout(400)  # the page re-fetches the view 250 ms after a move
    for delta in (-300, -300, 300, 300):
        page.mouse.move(cx, cy)
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(700)
    page.wait_for_timeout(500)
    frames = page.evaluate(STOP)[1:]
    frames.sort()
    return {
        "ready_ms": ready_ms,
        "requests": fetched[0],
        "fetch_span_ms": fetched[1],
        "fetch_sum_ms": fetched[2],
        "wall_s": wall,
        "points": shown,
        "frames": len(frames),
        "p50": statistics.median(frames),
        "p95": frames[int(len(frames) * 0.95)],
        "worst": frames[-1],
        "long": sum(1 for f in frames if f > 50),
        "seconds": sum(frames) / 1000,
    }


def measure(base: str, key: str) -> dict[str, dict[str, float]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            out = {}
            for tenant in ("karaganda", "astana", "karaganda", "astana"):  # warm, then measure
                context = browser.new_context(viewport={"width": 1366, "height": 900})
                context.add_init_script(f"sessionStorage.setItem('qala.credential', '{key}')")
                page = context.new_page()
                page.route(
                    "**/*",
                    lambda route: route.continue_() if route.request.url.startswith(base)
                    else route.abort(),
                )  # fmt: skip
                out[tenant] = session(page, base, tenant)
                context.close()
            return out
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    args = parser.parse_args()
    if shutil.which(CHROMIUM) is None:
        print(f"{CHROMIUM} is not installed (Debian package chromium): nothing measured")
        return
    with database("sqlite") as url:
        took = asyncio.run(load(url, args.points))
        print(f"loaded {args.points:,} streetlights into astana in {took:.0f} s", flush=True)
        key = admin_key(url)
        env = {"QALA_DATABASE_URL": url, "QALA_MQTT_URL": "", "QALA_RATE_LIMIT": "0"}
        with server(env=env) as srv:
            result = measure(srv.url, key)
    rows = [["page", "points drawn", "ready ms", "frames", "p50 ms", "p95 ms", "worst ms",
             "frames > 50 ms"]]  # fmt: skip
    for tenant, label in (("karaganda", "no entities (ceiling)"),
                          ("astana", f"{args.points:,} streetlights")):  # fmt: skip
        r = result[tenant]
        rows.append([
            label, f"{r['points']:,}", f"{r['ready_ms']:.0f}", f"{r['frames']}",
            f"{r['p50']:.1f}", f"{r['p95']:.1f}", f"{r['worst']:.0f}", f"{r['long']}",
        ])  # fmt: skip
    print(table(rows))
    base, busy = result["karaganda"], result["astana"]
    print(
        f"frames per second during the session: {busy['frames'] / busy['seconds']:.0f} with the "
        f"points, {base['frames'] / base['seconds']:.0f} without (ratio "
        f"{(busy['frames'] / busy['seconds']) / (base['frames'] / base['seconds']):.2f})"
    )
    print(
        f"before the first render the page made {busy['requests']} entity requests, from the "
        f"first sent to the last answered {busy['fetch_span_ms']:.0f} ms (their durations add "
        f"up to {busy['fetch_sum_ms']:.0f} ms); the rest of the {busy['ready_ms']:.0f} ms is "
        "the page's own work (placing and clustering the points)"
    )
    print(f"{machine()} · chromium headless · {time.strftime('%Y-%m-%d')}")


if __name__ == "__main__":
    main()
