"""Air quality: PM2.5, PM10, SO₂ and NO₂ means by ISO 37120 8.6's rule, days above the WHO
guideline, and monitoring stations per 100 km²."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from qala.indicators.calculators.base import (
    Calculator,
    Context,
    Read,
    existing,
    iso,
    series_stats,
)
from qala.indicators.inputs import DailyPoint, EntitySnapshot
from qala.indicators.values import (
    Result,
)


class AirMean(Calculator):
    """Mean concentration over the period by ISO 37120 8.6's rule.

    Each station's daily mean (city's local day) is the mean of its hourly averages, if it has
    at least ``min_hours_per_day`` of them; the city's daily mean is the mean of the stations'
    daily means; the value is the mean of the city's daily means over the days that have one.
    8.6 divides the sum of daily means by 365: with every day present that is the same number;
    with days missing Qala divides by the days present (dividing by 365 would report cleaner
    air than measured) and the coverage says how many are missing.
    """

    version = "1"
    unit = "µg/m³"
    attr: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]] = {"min_hours_per_day": 18}

    async def city_days(
        self, ctx: Context
    ) -> tuple[list[EntitySnapshot], dict[str, list[DailyPoint]], dict[date, float], str]:
        entities = existing(
            await ctx.inputs.entities(ctx.tenant, "AirQualityObserved", [self.attr]), ctx
        )
        query = (
            f"entities type=AirQualityObserved attrs={self.attr}; daily means of the hourly "
            f"means of {self.attr} for {len(entities)} entities over "
            f"[{iso(ctx.period.start)}, {iso(ctx.window_end)}) in {ctx.period.zone}"
        )
        series = await ctx.inputs.daily_series(
            ctx.tenant, [e.id for e in entities], self.attr, ctx.period.start, ctx.window_end,
            ctx.period.zone,
        )  # fmt: skip
        station_days: dict[date, list[float]] = defaultdict(list)
        least = self.params["min_hours_per_day"]
        for days in series.values():
            for day in days:
                if day.hours >= least:
                    station_days[day.day].append(day.mean)
        city_days = {day: sum(v) / len(v) for day, v in sorted(station_days.items())}
        return entities, series, city_days, query

    def reads(self) -> tuple[Read, ...]:
        return (("AirQualityObserved", (self.attr,)),)

    async def compute(self, ctx: Context) -> Result:
        entities, series, days, query = await self.city_days(ctx)
        stats = series_stats(ctx, entities, series, 1.0)
        provenance = self._provenance(query, sorted(series), stats.observations)
        if not entities:
            return self.not_computable(ctx, "no AirQualityObserved entity in the city", provenance)
        quality = self._quality(
            ctx,
            stats.coverage,
            stats.by_device,
            stats.newest,
            stats.silent,
            _day_notes(ctx, days),
        )
        if not days:
            return self.not_computable(
                ctx,
                f"no day with at least {self.params['min_hours_per_day']} hourly averages of "
                f"{self.attr} at any station",
                provenance,
                quality,
            )
        value = sum(days.values()) / len(days)
        return self.measured(ctx, round(value, 3), provenance, quality)


def _day_notes(ctx: Context, days: Mapping[date, float]) -> tuple[str, ...]:
    elapsed = [d for d in ctx.period.days() if _day_started(ctx, d)]
    return (f"{len(days)} of {len(elapsed)} days have a daily mean",)


def _day_started(ctx: Context, day: date) -> bool:
    start = datetime.combine(day, datetime.min.time(), ctx.period.start_local.tzinfo)
    return start < ctx.window_end


class PM25(AirMean):
    name = "air.pm25"
    attr = "pm25"


class PM10(AirMean):
    name = "air.pm10"
    attr = "pm10"


class SO2(AirMean):
    name = "air.so2"
    attr = "so2"


class NO2(AirMean):
    name = "air.no2"
    attr = "no2"


class PM25DaysAbove(AirMean):
    """Days whose city daily mean PM2.5 (as :class:`AirMean` forms it) exceeds ``limit``
    (default 15 µg/m³, the WHO 2021 24-hour guideline level). Missing days are not counted, so
    with low coverage the count is a lower bound (and flagged)."""

    name = "air.pm25-days-above"
    attr = "pm25"
    unit = "days"
    defaults: ClassVar[Mapping[str, Any]] = {"min_hours_per_day": 18, "limit": 15.0}

    async def compute(self, ctx: Context) -> Result:
        entities, series, days, query = await self.city_days(ctx)
        stats = series_stats(ctx, entities, series, 1.0)
        provenance = self._provenance(query, sorted(series), stats.observations)
        if not entities:
            return self.not_computable(ctx, "no AirQualityObserved entity in the city", provenance)
        quality = self._quality(
            ctx, stats.coverage, stats.by_device, stats.newest, stats.silent, _day_notes(ctx, days)
        )
        if not days:
            return self.not_computable(ctx, "no day with a daily mean of pm25", provenance, quality)
        above = sum(1 for v in days.values() if v > self.params["limit"])
        return self.measured(ctx, float(above), provenance, quality)


class StationsReporting(Calculator):
    """AirQualityObserved stations with at least one ``pm25`` hourly average in the period,
    per 100 km² of the city's area (statistic ``area_km2``)."""

    name = "air.stations-reporting"
    version = "1"
    unit = "per 100 km²"
    defaults: ClassVar[Mapping[str, Any]] = {"attr": "pm25"}
    statistics_read = ("area_km2",)

    def reads(self) -> tuple[Read, ...]:
        return (("AirQualityObserved", (self.params["attr"],)),)

    async def compute(self, ctx: Context) -> Result:
        attr = self.params["attr"]
        entities = existing(
            await ctx.inputs.entities(ctx.tenant, "AirQualityObserved", [attr]), ctx
        )
        series = await ctx.inputs.daily_series(
            ctx.tenant, [e.id for e in entities], attr, ctx.period.start, ctx.window_end,
            ctx.period.zone,
        )  # fmt: skip
        area, notes = await self._statistic(ctx, "area_km2")
        query = (
            f"entities type=AirQualityObserved; stations with an hourly mean of {attr} in "
            f"[{iso(ctx.period.start)}, {iso(ctx.window_end)}); city statistic area_km2"
        )
        stats = series_stats(ctx, entities, series, 1.0)
        provenance = self._provenance(
            query, sorted(series), stats.observations, [area] if area else []
        )
        reporting = len(series)
        quality = self._quality(
            ctx,
            reporting / len(entities) if entities else None,
            None,
            stats.newest,
            stats.silent,
            notes,
        )
        if area is None:
            return self.not_computable(ctx, "no area_km2 statistic for the city", provenance)
        if area.value <= 0:
            return self.not_computable(ctx, "the city's area_km2 is 0", provenance)
        return self.measured(ctx, round(reporting / (area.value / 100.0), 4), provenance, quality)
