"""Mobility and energy: public-transport stops with real-time information, EV charging points
per 100 000 residents, parking spaces with real-time availability, traffic counts per capita."""

from __future__ import annotations

from typing import Any

from qala.indicators.calculators.base import (
    Calculator,
    Context,
    Read,
    existing,
    iso,
    number,
    reported_in_period,
    series_stats,
)
from qala.indicators.values import (
    Result,
)


def _targets(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class StopsRealTime(Calculator):
    """U4SSC Dynamic public transport information: stops with real-time information ÷ all
    stops × 100. A stop has real-time information when an ArrivalEstimation entity naming it
    in ``hasStop`` reported (``remainingTime``) in the period. With no ArrivalEstimation entity
    at all the hub holds no real-time feed, and the value is not computable (it cannot tell
    "no real-time information" from "no feed connected"): enter it as reported instead."""

    name = "transit.stops-real-time"
    version = "1"
    unit = "%"

    def reads(self) -> tuple[Read, ...]:
        return (("PublicTransportStop", ()), ("ArrivalEstimation", ("remainingTime",)))

    async def compute(self, ctx: Context) -> Result:
        stops = existing(await ctx.inputs.entities(ctx.tenant, "PublicTransportStop", []), ctx)
        arrivals = existing(
            await ctx.inputs.entities(
                ctx.tenant, "ArrivalEstimation", ["hasStop", "remainingTime"]
            ),
            ctx,
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [a.id for a in arrivals], "remainingTime", ctx.period.start, ctx.window_end
        )
        live = [
            a
            for a in arrivals
            if a.id in series or reported_in_period(a, ctx, ["remainingTime"])
        ]
        stop_ids = {s.id for s in stops}
        with_rt = sorted({t for a in live for t in _targets(a.attrs.get("hasStop"))} & stop_ids)
        query = (
            "entities type=PublicTransportStop; entities type=ArrivalEstimation "
            f"attrs=hasStop,remainingTime; hourly means of remainingTime over "
            f"[{iso(ctx.period.start)}, {iso(ctx.window_end)})"
        )
        provenance = self._provenance(
            query,
            [s.id for s in stops] + [a.id for a in live],
            sum(p.count for v in series.values() for p in v),
        )
        newest = max((p[-1].hour for p in series.values() if p), default=None)
        live_ids = {a.id for a in live}
        silent = [a.id for a in arrivals if a.id not in live_ids]
        quality = self._quality(
            ctx, len(live) / len(arrivals) if arrivals else None, None, newest, silent
        )
        if not stops:
            return self.not_computable(ctx, "no PublicTransportStop entity in the city", provenance)
        if not arrivals:
            return self.not_computable(
                ctx,
                "no real-time arrival feed (ArrivalEstimation entities) in the hub",
                provenance,
            )
        return self.measured(ctx, round(100.0 * len(with_rt) / len(stops), 4), provenance, quality)


class EVPointsPer100k(Calculator):
    """Charging points (the sum of EVChargingStation ``capacity``: vehicles it can charge at
    once) per 100 000 residents (statistic ``population``)."""

    name = "ev.points-per-100k"
    version = "1"
    unit = "per 100 000"
    statistics_read = ("population",)

    def reads(self) -> tuple[Read, ...]:
        return (("EVChargingStation", ()),)

    async def compute(self, ctx: Context) -> Result:
        stations = existing(
            await ctx.inputs.entities(ctx.tenant, "EVChargingStation", ["capacity"]), ctx
        )
        counted = [(e.id, number(e.attrs.get("capacity"))) for e in stations]
        with_capacity = [(i, c) for i, c in counted if c is not None and c >= 0]
        population, notes = await self._statistic(ctx, "population")
        provenance = self._provenance(
            "entities type=EVChargingStation attrs=capacity; city statistic population",
            [i for i, _ in with_capacity],
            len(with_capacity),
            [population] if population else [],
        )
        extra = list(notes)
        if len(with_capacity) < len(stations):
            extra.append(f"{len(stations) - len(with_capacity)} stations have no capacity")
        quality = self._quality(
            ctx, len(with_capacity) / len(stations) if stations else None, notes=extra
        )
        if population is None:
            return self.not_computable(ctx, "no population statistic for the city", provenance)
        if population.value <= 0:
            return self.not_computable(ctx, "the city's population is 0", provenance)
        if not stations:
            return self.not_computable(ctx, "no EVChargingStation entity in the city", provenance)
        points = sum(c for _, c in with_capacity)
        value = points / (population.value / 100_000.0)
        return self.measured(ctx, round(value, 4), provenance, quality)


class ParkingRealTime(Calculator):
    """Public parking spaces with real-time availability ÷ all spaces × 100: the
    ``totalSpotNumber`` of OffStreetParking sites that reported ``availableSpotNumber`` in the
    period, over the ``totalSpotNumber`` of all sites. Sites without ``totalSpotNumber`` cannot
    be counted and are noted."""

    name = "parking.real-time"
    version = "1"
    unit = "%"

    def reads(self) -> tuple[Read, ...]:
        return (("OffStreetParking", ("availableSpotNumber",)),)

    async def compute(self, ctx: Context) -> Result:
        sites = existing(
            await ctx.inputs.entities(
                ctx.tenant, "OffStreetParking", ["totalSpotNumber", "availableSpotNumber"]
            ),
            ctx,
        )
        sized = [(s, number(s.attrs.get("totalSpotNumber"))) for s in sites]
        sized = [(s, n) for s, n in sized if n is not None and n >= 0]
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [s.id for s, _ in sized], "availableSpotNumber", ctx.period.start,
            ctx.window_end,
        )
        live = [
            (s, n)
            for s, n in sized
            if s.id in series or reported_in_period(s, ctx, ["availableSpotNumber"])
        ]
        total = sum(n for _, n in sized)
        provenance = self._provenance(
            "entities type=OffStreetParking attrs=totalSpotNumber,availableSpotNumber; hourly "
            f"means of availableSpotNumber over [{iso(ctx.period.start)}, {iso(ctx.window_end)})",
            [s.id for s, _ in sized],
            sum(p.count for v in series.values() for p in v),
        )
        notes = []
        if len(sized) < len(sites):
            notes.append(f"{len(sites) - len(sized)} car parks have no totalSpotNumber")
        newest = max((p[-1].hour for p in series.values() if p), default=None)
        live_ids = {s.id for s, _ in live}
        silent = [s.id for s, _ in sized if s.id not in live_ids]
        quality = self._quality(ctx, None, None, newest, silent, notes)
        if not sites:
            return self.not_computable(ctx, "no OffStreetParking entity in the city", provenance)
        if total == 0:
            return self.not_computable(
                ctx, "the car parks' totalSpotNumber adds up to 0", provenance, quality
            )
        value = 100.0 * sum(n for _, n in live) / total
        return self.measured(ctx, round(value, 4), provenance, quality)


class TrafficCountsPerCapita(Calculator):
    """Vehicles counted by TrafficFlowObserved sensors in the period (the sum of every
    ``intensity`` observation: hourly mean × number of observations) ÷ population. It grows
    with the number of counters as well as with traffic: compare it between periods of one
    city, and read the coverage (hours with data ÷ hours expected, per counter)."""

    name = "traffic.counts-per-capita"
    version = "1"
    unit = "vehicles per resident"
    statistics_read = ("population",)

    def reads(self) -> tuple[Read, ...]:
        return (("TrafficFlowObserved", ("intensity",)),)

    async def compute(self, ctx: Context) -> Result:
        counters = existing(
            await ctx.inputs.entities(ctx.tenant, "TrafficFlowObserved", ["intensity"]), ctx
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [c.id for c in counters], "intensity", ctx.period.start, ctx.window_end
        )
        stats = series_stats(ctx, counters, series, 1.0)
        population, notes = await self._statistic(ctx, "population")
        provenance = self._provenance(
            "entities type=TrafficFlowObserved; hourly means and counts of intensity over "
            f"[{iso(ctx.period.start)}, {iso(ctx.window_end)}); city statistic population",
            sorted(series),
            stats.observations,
            [population] if population else [],
        )
        quality = self._quality(
            ctx, stats.coverage, stats.by_device, stats.newest, stats.silent, notes
        )
        if not counters:
            return self.not_computable(ctx, "no TrafficFlowObserved entity in the city", provenance)
        if population is None:
            return self.not_computable(ctx, "no population statistic for the city", provenance)
        if population.value <= 0:
            return self.not_computable(ctx, "the city's population is 0", provenance)
        if not series:
            return self.not_computable(
                ctx, "no intensity observation in the period", provenance, quality
            )
        vehicles = sum(p.mean * p.count for v in series.values() for p in v)
        return self.measured(ctx, round(vehicles / population.value, 6), provenance, quality)
