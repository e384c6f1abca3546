"""Loading the demo cities into a store, through the hub's one write path."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qala.config import Settings
from qala.demo.cities import CITY_KEYS, City, boundary_geojson, cities
from qala.demo.generate import CONTEXT, DEMO_HISTORY, demo_anchor, demo_plan, generate_city
from qala.demo.load import Loaded, backdate, load_blocks
from qala.demo.recent import generate_history
from qala.demo.year import YEAR_TERMS, city_year, history_start, to_us
from qala.hub import Actor
from qala.hub.errors import HubError
from qala.hub.model import iso_to_us, now_us
from qala.ngsild.parse import parse_entity
from qala.services import Services

BATCH = 1000
#: the last days of the year are loaded as raw instances; the days before as hourly aggregates
RAW_DAYS = 7
SEEDER = Actor(id="qala-demo", role="admin")


def _as_of(text: str) -> str:
    """'2026-01-01', '2022-10' or '2019' as the first instant of that period."""
    parts = [*text.split("-"), "01", "01"][:3]
    return f"{parts[0]}-{parts[1]:0>2}-{parts[2]:0>2}T00:00:00Z"


def city_entity(city: City) -> dict[str, Any]:
    """The city itself, with its public facts (used by indicators and the dashboard)."""
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:City:{city.key}",
        "type": "City",
        "name": {"type": "LanguageProperty", "languageMap": dict(city.name)},
        "population": {
            "type": "Property",
            "value": city.population,
            "observedAt": _as_of(city.population_as_of),
            "source": {"type": "Property", "value": city.population_source},
        },
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [city.lon, city.lat]},
        },
        "timeZone": {"type": "Property", "value": city.time_zone},
        "status": {"type": "Property", "value": city.status},
    }
    if city.area_km2 is not None:
        entity["areaKm2"] = {"type": "Property", "value": city.area_km2, "unitCode": "KMK"}
    for feature in boundary_geojson()["features"]:
        if feature["properties"].get("tenant") == city.key:
            entity["boundary"] = {
                "type": "GeoProperty",
                "value": feature["geometry"],
                "approximate": {"type": "Property", "value": city.boundary_approximate},
            }
    return entity


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def _load(
    svc: Services,
    tenant: str,
    entities: Iterable[dict[str, Any]],
    total: int,
    progress: Progress,
    label: str,
) -> int:
    ctx = await svc.contexts.compile(list(CONTEXT))
    task = progress.add_task(label, total=total)
    written = 0
    for chunk in _chunks(entities, BATCH):
        parsed = [parse_entity(item, ctx) for item in chunk]
        outcome = await svc.hub.batch_upsert(tenant, parsed, SEEDER, mode="replace")
        if outcome.errors:
            entity_id, error = outcome.errors[0]
            raise HubError(f"seeding {tenant}: {entity_id}: {error.detail}")
        written += len(chunk)
        progress.advance(task, len(chunk))
    return written


async def _load_history(
    svc: Services,
    tenant: str,
    entities: list[dict[str, Any]],
    progress: Progress,
    label: str,
    end: datetime,
) -> int:
    """The recent past at full resolution (``DEMO_HISTORY`` windows before ``end``) of the
    attributes the year does not cover, loaded in bulk into the temporal history: re-seeding
    replaces them rather than adding copies."""
    from qala.temporal.bulk import HistoryPoint, load_history

    ctx = await svc.contexts.compile(list(CONTEXT))
    tenant_id = (await svc.hub.tenant(tenant)).id
    chosen = [e for e in entities if e.get("type") in DEMO_HISTORY]
    task = progress.add_task(f"{label} recent", total=len(chosen))
    times: dict[str, int] = {}
    loaded = 0
    for entity_type, (length, step) in DEMO_HISTORY.items():
        group = [e for e in chosen if e["type"] == entity_type]
        if not group:
            continue
        start = end - length
        names = ctx.for_types([ctx.expand(entity_type)])
        terms: dict[str, str] = {}

        def points(
            group: list[dict[str, Any]] = group,
            start: datetime = start,
            step: timedelta = step,
            names: Any = names,
            terms: dict[str, str] = terms,
        ) -> Iterator[HistoryPoint]:
            for entity in group:
                entity_id = entity["id"]
                skip = YEAR_TERMS.get(entity["type"], frozenset())
                for term, observed, value in generate_history(entity, start, end, step):
                    if term in skip or term not in entity:
                        continue  # the year covers it, or the entity does not measure it
                    iri = terms.get(term)
                    if iri is None:
                        iri = terms[term] = names.expand(term)
                    ts = times.get(observed)
                    if ts is None:
                        ts = times[observed] = iso_to_us(observed)
                    yield entity_id, iri, ts, value

        window = (iso_to_us(_iso(start)), iso_to_us(_iso(end)))
        loaded += await load_history(svc.store, tenant_id, points(), replace=window)
        progress.advance(task, len(group))
    return loaded


async def _load_year(
    svc: Services,
    tenant: str,
    entities: list[dict[str, Any]],
    progress: Progress,
    label: str,
    seed: int,
    anchor: datetime,
) -> Loaded:
    """The year before ``anchor`` of what the indicators read (:mod:`qala.demo.year`): hourly
    aggregates up to ``RAW_DAYS`` before the anchor, raw instances after; each device's
    creation is recorded in the history at its first observation."""
    ctx = await svc.contexts.compile(list(CONTEXT))
    tenant_id = (await svc.hub.tenant(tenant)).id
    blocks = sum(len(terms) for terms in YEAR_TERMS.values())
    task = progress.add_task(f"{label} year", total=blocks)
    names: dict[str, Any] = {}

    def expand(entity_type: str, term: str) -> str:
        if entity_type not in names:
            names[entity_type] = ctx.for_types([ctx.expand(entity_type)])
        iri: str = names[entity_type].expand(term)
        return iri

    started = now_us()
    loaded = await load_blocks(
        svc.store,
        tenant_id,
        city_year(tenant, entities, seed, anchor),
        expand=expand,
        window=(to_us(history_start(anchor)), to_us(anchor)),
        cut=to_us(anchor - timedelta(days=RAW_DAYS)),
        done=lambda block: progress.advance(task),
    )
    first = {eid: (ctx.expand(kind), ts) for eid, (kind, ts) in loaded.first.items()}
    await backdate(svc.store, tenant_id, first, started)
    progress.update(task, completed=blocks)
    return loaded


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def seed_demo(
    settings: Settings,
    *,
    seed: int,
    console: Console,
    anchor: datetime | None = None,
    scale: float = 1.0,
    city_keys: tuple[str, ...] = CITY_KEYS,
) -> dict[str, int]:
    """Create the city tenants with their facts, generated city data and a year of history
    ending at ``anchor`` (default: :func:`demo_anchor`, now rounded down to the hour).

    Idempotent for a given seed and anchor: entities are upserted by id and the history's
    window is replaced, so running it again changes nothing but the modification times.
    ``scale`` and ``city_keys`` make smaller demos (tests).
    """
    from qala.app import start_services, stop_services

    anchor = anchor or demo_anchor()
    started = time.perf_counter()
    svc = await start_services(settings)
    counts: dict[str, int] = {}
    recent = 0
    year = Loaded()
    try:
        with _progress(console) as progress:
            for key in city_keys:
                city = cities()[key]
                label = city.name["en"]
                total = sum(demo_plan(key, scale).values()) + 1
                items = [city_entity(city), *generate_city(key, seed, scale, anchor)]
                counts[key] = await _load(svc, key, items, total, progress, label)
                recent += await _load_history(svc, key, items, progress, label, anchor)
                loaded = await _load_year(svc, key, items, progress, label, seed, anchor)
                year.observations += loaded.observations
                year.instances += loaded.instances
                year.hours += loaded.hours
        # The demo programme, verified against these cities (qala.programme.seed).
        from qala.programme.seed import seed_demo_programme

        await seed_demo_programme(svc, console, anchor=anchor)
        # A year of citizen requests ending at the anchor (qala.open311.demo).
        from qala.open311.demo import seed_requests

        await seed_requests(svc.hub, svc.store, seed=seed, today=anchor)
    finally:
        await stop_services(svc)
    console.print(
        f"seeded {sum(counts.values())} entities in {len(counts)} cities with history from "
        f"{_iso(history_start(anchor))} to {_iso(anchor)}: {year.observations:,} observations "
        f"of the year ({year.hours:,} hourly aggregates, {year.instances + recent:,} raw "
        f"instances with {recent:,} recent ones of other attributes) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return counts


async def seed_tenant(
    settings: Settings,
    tenant: str,
    *,
    scale: float,
    seed: int,
    console: Console,
    city_key: str | None = None,
) -> int:
    """Fill ``tenant`` with ``scale`` times a city's demo data (for benchmarks)."""
    from qala.app import start_services, stop_services

    key = city_key or (tenant if tenant in CITY_KEYS else "astana")
    svc = await start_services(settings)
    try:
        with _progress(console) as progress:
            total = sum(demo_plan(key, scale).values())
            written = await _load(
                svc, tenant, generate_city(key, seed, scale=scale), total, progress, tenant
            )
    finally:
        await stop_services(svc)
    console.print(f"seeded {written} entities into tenant {tenant!r}")
    return written
