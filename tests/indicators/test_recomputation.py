"""Stored values and incremental recomputation on a real hub (SQLite and PostgreSQL): unchanged
inputs are not recomputed, changed ones are, ``force`` recomputes, a new calculator version
adds its values beside the old ones, and each value is a KeyPerformanceIndicator entity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import ClassVar

from tests.indicators.hub_city import OPERATOR, TENANT, seed_hub, with_hub
from tests.indicators.test_hub_inputs import sdm_context

from qala.app import builtin_contexts
from qala.config import Settings
from qala.hub import Hub, Storage, iso_to_us
from qala.indicators.calculators import PM25, Registry, default_registry
from qala.indicators.kpi import kpi_id
from qala.indicators.period import Period
from qala.indicators.service import IndicatorService
from qala.jsonld.resolver import ContextResolver
from qala.temporal import load_history

JANUARY = Period.parse("2026-01")
NOW = datetime(2026, 3, 1, tzinfo=UTC)
PM25_ID = "urn:ngsi-ld:AirQualityObserved:t:1"


def service(hub: Hub, store: Storage, registry: Registry | None = None) -> IndicatorService:
    resolver = ContextResolver(repository=store, builtin=builtin_contexts())
    return IndicatorService(hub, store, resolver, registry=registry)


def statuses(outcomes) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {o.calculator: o.status for o in outcomes}


def test_unchanged_inputs_are_not_recomputed_and_changed_ones_are(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        ctx = await sdm_context(store)
        await seed_hub(hub, store, ctx)
        indicators = service(hub, store)
        first = await indicators.compute(TENANT, OPERATOR, JANUARY, now=NOW)
        assert set(statuses(first).values()) == {"computed"}
        again = await indicators.compute(TENANT, OPERATOR, JANUARY, now=NOW)
        assert set(statuses(again).values()) == {"unchanged"}

        # one more pm25 observation in January: the air calculators reading pm25 recompute
        tenant = await hub.tenant(TENANT)
        pm25 = ctx.expand("pm25")
        await load_history(store, tenant.id, [(PM25_ID, pm25, iso_to_us("2026-01-10T05:00:00Z"),
                                               99.0)])
        changed = statuses(await indicators.compute(TENANT, OPERATOR, JANUARY, now=NOW))
        assert changed["air.pm25"] == "computed"
        assert changed["air.pm25-days-above"] == "computed"
        assert changed["air.pm10"] == "unchanged"
        assert changed["streetlights.managed"] == "unchanged"

        forced = await indicators.compute(TENANT, OPERATOR, JANUARY, now=NOW, force=True)
        assert set(statuses(forced).values()) == {"computed"}
        stored = await indicators.values(TENANT, OPERATOR, indicator="iso37120:8.1",
                                         all_versions=True)
        assert len(stored) == 1  # a recomputation of version 1 replaces version 1's value

    asyncio.run(with_hub(settings, scenario))


class PM25Median(PM25):
    """Version 2 of air.pm25 (for the test): a station day needs 8 hourly averages, not 18."""

    version = "2"
    defaults: ClassVar = {"min_hours_per_day": 8}


def test_a_new_method_version_adds_values_and_keeps_the_old_ones(settings: Settings) -> None:
    async def scenario(hub: Hub, store: Storage) -> None:
        ctx = await sdm_context(store)
        await seed_hub(hub, store, ctx)
        await service(hub, store).compute(TENANT, OPERATOR, JANUARY, now=NOW)
        registry = default_registry()
        registry.register(PM25Median())
        newer = service(hub, store, registry)
        outcome = statuses(await newer.compute(TENANT, OPERATOR, JANUARY, now=NOW))
        assert outcome["air.pm25"] == "computed"  # version 2 had no value
        assert outcome["air.pm10"] == "unchanged"
        stored = await newer.values(TENANT, OPERATOR, indicator="iso37120:8.1",
                                    period="2026-01", all_versions=True)
        assert sorted(v.version for v in stored) == ["1", "2"]
        v1 = next(v for v in stored if v.version == "1")
        v2 = next(v for v in stored if v.version == "2")
        assert v1.value != v2.value  # 20 January's short day counts under version 2
        latest = await newer.values(TENANT, OPERATOR, indicator="iso37120:8.1")
        assert [v.version for v in latest] == ["2"]
        entity = await hub.get_entity(TENANT, kpi_id(TENANT, "iso37120:8.1", "2026-01"),
                                      OPERATOR)
        kpi_value = entity.attrs[ctx.expand("kpiValue")]
        assert kpi_value["value"] == v2.value

    asyncio.run(with_hub(settings, scenario))
