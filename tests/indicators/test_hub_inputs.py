"""HubInputs: the calculators' inputs read from a real hub (SQLite and PostgreSQL) give the
same values as MemoryInputs on the same data, with the caller's access rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from tests.indicators.hub_city import OPERATOR, TENANT, memory_inputs, seed_hub, with_hub

from qala.app import builtin_contexts
from qala.config import Settings
from qala.hub import Actor, Forbidden, Hub, Storage
from qala.indicators.calculators import Context, default_registry
from qala.indicators.hub_inputs import SDM_CONTEXT, HubInputs
from qala.indicators.period import Period
from qala.jsonld.resolver import ContextResolver

JANUARY = Period.parse("2026-01")
NOW = datetime(2026, 3, 1, tzinfo=UTC)


async def sdm_context(store: Storage):
    resolver = ContextResolver(repository=store, builtin=builtin_contexts())
    return await resolver.compile(SDM_CONTEXT)


def comparable(result):
    data = result.to_dict()
    data.pop("computedAt")
    return data


def test_every_calculator_gives_the_same_value_from_the_hub_as_from_memory(
    settings: Settings,
) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        ctx = await sdm_context(store)
        await seed_hub(hub, store, ctx)
        from_hub = HubInputs(hub, store, OPERATOR, ctx)
        from_memory = memory_inputs()
        measured = 0
        for calculator in (default_registry().get(n) for n in default_registry().names()):
            hub_value = await calculator.compute(Context(TENANT, JANUARY, from_hub, NOW))
            memory_value = await calculator.compute(Context(TENANT, JANUARY, from_memory, NOW))
            assert comparable(hub_value) == comparable(memory_value), calculator.name
            measured += hub_value.kind == "measured"
        assert measured == 15  # all but SO₂ (no data)

    asyncio.run(with_hub(settings, scenario))


def test_a_station_added_mid_month_and_a_silent_one_show_in_coverage(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        ctx = await sdm_context(store)
        await seed_hub(hub, store, ctx)
        inputs = HubInputs(hub, store, OPERATOR, ctx)
        value = await default_registry().get("air.pm25").compute(
            Context(TENANT, JANUARY, inputs, NOW)
        )
        quality = value.quality
        assert quality.silent == ("urn:ngsi-ld:AirQualityObserved:t:3",)
        by_device = dict(quality.coverage_by_device)
        assert by_device["urn:ngsi-ld:AirQualityObserved:t:2"] == 1.0  # since 15 January
        assert by_device["urn:ngsi-ld:AirQualityObserved:t:1"] == pytest.approx(
            (31 * 24 - 24 - 14) / (31 * 24)
        )
        assert "30 of 31 days have a daily mean" in quality.notes  # 10 January is missing

    asyncio.run(with_hub(settings, scenario))


def test_city_statistics_come_from_the_city_entity_with_source_and_date(
    settings: Settings,
) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        ctx = await sdm_context(store)
        await seed_hub(hub, store, ctx)
        inputs = HubInputs(hub, store, OPERATOR, ctx)
        population = await inputs.city_statistic(TENANT, "population", date(2026, 1, 31))
        assert population is not None
        assert (population.value, population.source, population.as_of) == (
            250_000, "statistics bureau", date(2025, 1, 1)
        )
        assert await inputs.city_statistic(TENANT, "population", date(2024, 12, 31)) is None

    asyncio.run(with_hub(settings, scenario))


def test_citizen_requests_are_the_open311_entities_of_the_city_opened_in_the_period(
    settings: Settings,
) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        ctx = await sdm_context(store)
        await seed_hub(hub, store, ctx)
        inputs = HubInputs(hub, store, OPERATOR, ctx)
        january = await inputs.service_requests(TENANT, JANUARY.start, JANUARY.end)
        assert january is not None
        assert [r.id.rsplit(":", 1)[1] for r in january] == ["1", "2", "3", "4", "6"]
        first = january[0]
        assert (first.service_code, first.opened_at, first.closed_at, first.due) == (
            "POTHOLE",
            datetime(2026, 1, 5, 10, tzinfo=UTC),
            datetime(2026, 1, 6, 10, tzinfo=UTC),
            datetime(2026, 1, 7, 10, tzinfo=UTC),
        )
        registry = default_registry()
        median = await registry.get("requests.resolution-time").compute(
            Context(TENANT, JANUARY, inputs, NOW)
        )
        assert (median.kind, median.value) == ("measured", 24.0)  # 24 h, 240 h and 6 h
        within = await registry.get("requests.within-sla").compute(
            Context(TENANT, JANUARY, inputs, NOW)
        )
        # decided: 1 (in time), 2 (late), 3 (open, overdue); 4 is open within its time and 6
        # has none
        assert (within.kind, within.value) == ("measured", round(100 / 3, 4))
        # a partner of the city reads no requests; without Open311 there is no source at all
        partner = Actor(id="partner-1", role="partner", tenant=TENANT)
        assert await HubInputs(hub, store, partner, ctx).service_requests(
            TENANT, JANUARY.start, JANUARY.end
        ) == []
        alone = HubInputs(hub, store, OPERATOR, ctx, requests=False)
        assert await alone.service_requests(TENANT, JANUARY.start, JANUARY.end) is None
        missing = await registry.get("requests.within-sla").compute(
            Context(TENANT, JANUARY, alone, NOW)
        )
        assert missing.kind == "not-computable"
        assert "Open311" in missing.to_dict()["reason"]

    asyncio.run(with_hub(settings, scenario))


def test_reads_run_with_the_callers_access_rules(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        ctx = await sdm_context(store)
        await seed_hub(hub, store, ctx)
        other_city = Actor(id="op-2", role="city-operator", tenant="othercity")
        with pytest.raises(Forbidden):
            await HubInputs(hub, store, other_city, ctx).entities(TENANT, "Streetlight")
        partner = Actor(id="partner-1", role="partner", tenant=TENANT)
        assert await HubInputs(hub, store, partner, ctx).entities(TENANT, "Streetlight") == []
        series = await HubInputs(hub, store, partner, ctx).hourly_series(
            TENANT, ["urn:ngsi-ld:Streetlight:t:1"], "illuminanceLevel", JANUARY.start,
            JANUARY.end,
        )
        assert series == {}

    asyncio.run(with_hub(settings, scenario))
