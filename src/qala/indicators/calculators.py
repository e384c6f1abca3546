"""Calculators: pure, versioned functions from :class:`~qala.indicators.inputs.Inputs` to values.

Each calculator has a ``name`` (the catalogue's ``calculator`` field points at it) and a
``version``. A change of method is a new version registered beside the old one: values keep the
version they were computed with (see :class:`~qala.indicators.values.ValueLog`). Parameters
(thresholds, attribute names) are part of a calculator instance and recorded in every value's
provenance.

Every calculator returns a :class:`MeasuredValue` or a :class:`NotComputable` with the reason —
no data, a zero denominator, a missing statistic — never a made-up 0. The methods are described
in docs/indicators.md; each class's docstring says the same in short.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from qala.indicators.catalogue import Catalogue, load_catalogue
from qala.indicators.inputs import EntitySnapshot, HourlyPoint, Inputs
from qala.indicators.period import Period
from qala.indicators.values import (
    DEFAULT_COVERAGE_THRESHOLD,
    AnyValue,
    MeasuredValue,
    NotComputable,
    Provenance,
    Quality,
    ReportedValue,
    Result,
    StatisticUsed,
)

_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Context:
    """One computation: a city, a period, its inputs, the moment it runs."""

    tenant: str
    period: Period
    inputs: Inputs
    now: datetime
    coverage_threshold: float = DEFAULT_COVERAGE_THRESHOLD
    catalogue: Catalogue = field(default_factory=load_catalogue)

    @property
    def window_end(self) -> datetime:
        """The end of what can have been observed: the period's end, or now if sooner."""
        return min(self.period.end, self.now.astimezone(UTC))

    @property
    def started(self) -> bool:
        return self.now.astimezone(UTC) > self.period.start


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour_ceil(moment: datetime) -> datetime:
    floor = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + _HOUR


def _expected_hours(ctx: Context, entity: EntitySnapshot, interval_hours: float) -> float:
    """Observations expected from a device in the period: from the period's start (or the
    device's creation, if later) to the period's end (or now)."""
    start = ctx.period.start
    if entity.created_at is not None and entity.created_at > start:
        start = _hour_ceil(entity.created_at)
    end = ctx.window_end
    if end <= start:
        return 0.0
    return (end - start).total_seconds() / 3600.0 / interval_hours


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _reported_in_period(entity: EntitySnapshot, ctx: Context, attrs: Iterable[str]) -> bool:
    return any(
        (moment := entity.observed_at.get(attr)) is not None
        and ctx.period.start <= moment < ctx.window_end
        for attr in attrs
    )


class Calculator:
    """Base of calculators: name, version, default parameters, the method in one paragraph."""

    name: ClassVar[str]
    version: ClassVar[str]
    unit: ClassVar[str]
    method: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {sorted(unknown)}")
        self.params: dict[str, Any] = {**self.defaults, **params}

    async def compute(self, ctx: Context) -> Result:
        raise NotImplementedError

    # -- building results -----------------------------------------------------------------
    def _ids(self, ctx: Context) -> tuple[str, ...]:
        ids = tuple(i.id for i in ctx.catalogue.by_calculator(self.name))
        if not ids:
            raise LookupError(f"no catalogue indicator uses calculator {self.name!r}")
        return ids

    def _provenance(
        self,
        query: str,
        entities: Iterable[str] = (),
        observations: int = 0,
        statistics_used: Iterable[StatisticUsed] = (),
    ) -> Provenance:
        return Provenance(
            query=query,
            entities=tuple(entities),
            observations=observations,
            statistics=tuple(statistics_used),
            parameters=tuple(sorted(self.params.items())),
        )

    def measured(
        self, ctx: Context, value: float, provenance: Provenance, quality: Quality
    ) -> MeasuredValue:
        return MeasuredValue(
            indicator_ids=self._ids(ctx),
            tenant=ctx.tenant,
            period=ctx.period,
            calculator=self.name,
            version=self.version,
            value=value,
            unit=self.unit,
            provenance=provenance,
            quality=quality,
            computed_at=ctx.now,
        )

    def not_computable(
        self,
        ctx: Context,
        reason: str,
        provenance: Provenance,
        quality: Quality | None = None,
    ) -> NotComputable:
        return NotComputable(
            indicator_ids=self._ids(ctx),
            tenant=ctx.tenant,
            period=ctx.period,
            calculator=self.name,
            version=self.version,
            reason=reason,
            provenance=provenance,
            computed_at=ctx.now,
            quality=quality,
        )

    async def _statistic(
        self, ctx: Context, name: str
    ) -> tuple[StatisticUsed | None, tuple[str, ...]]:
        """A city statistic for the period: the newest dated within it or before; otherwise the
        oldest one dated after it (with a note saying so)."""
        end_day = ctx.period.end_day - timedelta(days=1)
        found = await ctx.inputs.city_statistic(ctx.tenant, name, end_day)
        notes: tuple[str, ...] = ()
        if found is None:
            found = await ctx.inputs.city_statistic(ctx.tenant, name, date.max)
            if found is not None:
                notes = (f"{name} dated {found.as_of.isoformat()}, after the period",)
        if found is None:
            return None, ()
        used = StatisticUsed(name, found.value, found.unit, found.source, found.as_of.isoformat())
        return used, notes

    def _quality(
        self,
        ctx: Context,
        coverage: float | None,
        by_device: Mapping[str, float] | None = None,
        newest: datetime | None = None,
        silent: Sequence[str] = (),
        notes: Sequence[str] = (),
    ) -> Quality:
        age = None
        if newest is not None:
            age = max(0.0, (ctx.window_end - newest).total_seconds())
        return Quality(
            coverage=None if coverage is None else round(coverage, 6),
            coverage_by_device=tuple(
                sorted((k, round(v, 6)) for k, v in (by_device or {}).items())
            ),
            newest_observation=newest,
            age_seconds=age,
            silent=tuple(silent),
            threshold=ctx.coverage_threshold,
            notes=tuple(notes),
        )


def _existing(entities: list[EntitySnapshot], ctx: Context) -> list[EntitySnapshot]:
    """Entities that existed during the period (created before its end)."""
    return [e for e in entities if e.created_at is None or e.created_at < ctx.period.end]


@dataclass
class _SeriesStats:
    """Coverage and timeliness of hourly series against what each device should have sent."""

    coverage: float | None
    by_device: dict[str, float]
    silent: list[str]
    newest: datetime | None
    observations: int


def _series_stats(
    ctx: Context,
    entities: Sequence[EntitySnapshot],
    series: Mapping[str, list[HourlyPoint]],
    interval_hours: float,
) -> _SeriesStats:
    by_device: dict[str, float] = {}
    silent: list[str] = []
    present_total = 0.0
    expected_total = 0.0
    newest: datetime | None = None
    observations = 0
    for entity in entities:
        expected = _expected_hours(ctx, entity, interval_hours)
        points = series.get(entity.id, [])
        observations += sum(p.count for p in points)
        if points:
            last = points[-1].hour
            newest = last if newest is None or last > newest else newest
        if expected <= 0:
            continue
        present = min(float(len(points)), expected)
        by_device[entity.id] = present / expected
        present_total += present
        expected_total += expected
        if not points:
            silent.append(entity.id)
    coverage = present_total / expected_total if expected_total else None
    return _SeriesStats(coverage, by_device, silent, newest, observations)


# ---------------------------------------------------------------------------------- air
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
    ) -> tuple[list[EntitySnapshot], dict[str, list[HourlyPoint]], dict[date, float], str]:
        entities = _existing(
            await ctx.inputs.entities(ctx.tenant, "AirQualityObserved", [self.attr]), ctx
        )
        query = (
            f"entities type=AirQualityObserved attrs={self.attr}; hourly means of {self.attr} "
            f"for {len(entities)} entities over [{_iso(ctx.period.start)}, {_iso(ctx.window_end)})"
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [e.id for e in entities], self.attr, ctx.period.start, ctx.window_end
        )
        station_days: dict[date, list[float]] = defaultdict(list)
        for points in series.values():
            by_day: dict[date, list[float]] = defaultdict(list)
            for point in points:
                by_day[ctx.period.local_day(point.hour)].append(point.mean)
            for day, means in by_day.items():
                if len(means) >= self.params["min_hours_per_day"]:
                    station_days[day].append(sum(means) / len(means))
        city_days = {day: sum(v) / len(v) for day, v in sorted(station_days.items())}
        return entities, series, city_days, query

    async def compute(self, ctx: Context) -> Result:
        entities, series, days, query = await self.city_days(ctx)
        stats = _series_stats(ctx, entities, series, 1.0)
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
        stats = _series_stats(ctx, entities, series, 1.0)
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

    async def compute(self, ctx: Context) -> Result:
        attr = self.params["attr"]
        entities = _existing(
            await ctx.inputs.entities(ctx.tenant, "AirQualityObserved", [attr]), ctx
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [e.id for e in entities], attr, ctx.period.start, ctx.window_end
        )
        area, notes = await self._statistic(ctx, "area_km2")
        query = (
            f"entities type=AirQualityObserved; stations with an hourly mean of {attr} in "
            f"[{_iso(ctx.period.start)}, {_iso(ctx.window_end)}); city statistic area_km2"
        )
        stats = _series_stats(ctx, entities, series, 1.0)
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


# ---------------------------------------------------------------------------- streetlights
class StreetlightsManaged(Calculator):
    """ISO 37122 7.6: street lights under a light performance management system ÷ all × 100.

    The system "monitors, schedules, dims and controls each light over an ICT network" and
    reports faults, so a Streetlight counts when it is controlled individually
    (``controllingMethod`` = ``individual``; ``group`` control through a
    StreetlightControlCabinet switches circuits, not each light) **and** it reported its state
    (an hourly average of ``illuminanceLevel``, or an observedAt of ``powerState`` /
    ``illuminanceLevel``) in the period. Individually controlled lights that sent nothing are
    listed as silent. The inventory is the city's Streetlight entities created before the
    period's end.
    """

    name = "streetlights.managed"
    version = "1"
    unit = "%"
    defaults: ClassVar[Mapping[str, Any]] = {
        "controlling_method": "individual",
        "telemetry": ("illuminanceLevel", "powerState"),
    }

    async def compute(self, ctx: Context) -> Result:
        telemetry = tuple(self.params["telemetry"])
        lights = _existing(
            await ctx.inputs.entities(
                ctx.tenant, "Streetlight", ["controllingMethod", *telemetry]
            ),
            ctx,
        )
        individual = [
            e
            for e in lights
            if e.attrs.get("controllingMethod") == self.params["controlling_method"]
        ]
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [e.id for e in individual], telemetry[0], ctx.period.start, ctx.window_end
        )
        managed = [
            e.id for e in individual if e.id in series or _reported_in_period(e, ctx, telemetry)
        ]
        silent = [e.id for e in individual if e.id not in set(managed)]
        query = (
            "entities type=Streetlight attrs=controllingMethod,"
            f"{','.join(telemetry)}; hourly means of {telemetry[0]} for the "
            f"{len(individual)} individually controlled lights over "
            f"[{_iso(ctx.period.start)}, {_iso(ctx.window_end)})"
        )
        newest = max((p[-1].hour for p in series.values() if p), default=None)
        provenance = self._provenance(
            query, [e.id for e in lights], sum(p.count for v in series.values() for p in v)
        )
        quality = self._quality(
            ctx,
            len(managed) / len(individual) if individual else None,
            None,
            newest,
            silent,
            (f"{len(individual)} of {len(lights)} lights are controlled individually",),
        )
        if not lights:
            return self.not_computable(ctx, "no Streetlight entity in the city", provenance)
        return self.measured(ctx, round(100.0 * len(managed) / len(lights), 4), provenance, quality)


class StreetlightsWorking(Calculator):
    """Street lights whose ``status`` is ``ok`` ÷ street lights with a status × 100, from the
    entities' current state (the state at computation time, not a history of the period)."""

    name = "streetlights.working"
    version = "1"
    unit = "%"

    async def compute(self, ctx: Context) -> Result:
        lights = _existing(await ctx.inputs.entities(ctx.tenant, "Streetlight", ["status"]), ctx)
        with_status = [e for e in lights if e.attrs.get("status") is not None]
        working = [e for e in with_status if e.attrs.get("status") == "ok"]
        newest = max(
            (e.observed_at["status"] for e in with_status if "status" in e.observed_at),
            default=None,
        )
        provenance = self._provenance(
            "entities type=Streetlight attrs=status (current state)",
            [e.id for e in with_status],
            len(with_status),
        )
        notes = ["state at computation time"]
        if len(with_status) < len(lights):
            notes.append(f"{len(lights) - len(with_status)} lights have no status")
        quality = self._quality(
            ctx, len(with_status) / len(lights) if lights else None, None, newest, (), notes
        )
        if not with_status:
            return self.not_computable(ctx, "no Streetlight entity with a status", provenance)
        return self.measured(
            ctx, round(100.0 * len(working) / len(with_status), 4), provenance, quality
        )


# ------------------------------------------------------------------------------- transit
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

    async def compute(self, ctx: Context) -> Result:
        stops = _existing(await ctx.inputs.entities(ctx.tenant, "PublicTransportStop", []), ctx)
        arrivals = _existing(
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
            if a.id in series or _reported_in_period(a, ctx, ["remainingTime"])
        ]
        stop_ids = {s.id for s in stops}
        with_rt = sorted({t for a in live for t in _targets(a.attrs.get("hasStop"))} & stop_ids)
        query = (
            "entities type=PublicTransportStop; entities type=ArrivalEstimation "
            f"attrs=hasStop,remainingTime; hourly means of remainingTime over "
            f"[{_iso(ctx.period.start)}, {_iso(ctx.window_end)})"
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


# ------------------------------------------------------------------------------------ EV
class EVPointsPer100k(Calculator):
    """Charging points (the sum of EVChargingStation ``capacity``: vehicles it can charge at
    once) per 100 000 residents (statistic ``population``)."""

    name = "ev.points-per-100k"
    version = "1"
    unit = "per 100 000"

    async def compute(self, ctx: Context) -> Result:
        stations = _existing(
            await ctx.inputs.entities(ctx.tenant, "EVChargingStation", ["capacity"]), ctx
        )
        counted = [(e.id, _number(e.attrs.get("capacity"))) for e in stations]
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


# --------------------------------------------------------------------------------- waste
class WasteFillSensing(Calculator):
    """Waste containers that reported ``fillingLevel`` in the period ÷ all containers × 100."""

    name = "waste.fill-sensing"
    version = "1"
    unit = "%"

    async def compute(self, ctx: Context) -> Result:
        bins = _existing(
            await ctx.inputs.entities(ctx.tenant, "WasteContainer", ["fillingLevel"]), ctx
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [b.id for b in bins], "fillingLevel", ctx.period.start, ctx.window_end
        )
        sensing = [
            b.id
            for b in bins
            if b.id in series or _reported_in_period(b, ctx, ["fillingLevel"])
        ]
        silent = [b.id for b in bins if b.id not in set(sensing)]
        newest = max((p[-1].hour for p in series.values() if p), default=None)
        provenance = self._provenance(
            "entities type=WasteContainer; hourly means of fillingLevel over "
            f"[{_iso(ctx.period.start)}, {_iso(ctx.window_end)})",
            [b.id for b in bins],
            sum(p.count for v in series.values() for p in v),
        )
        quality = self._quality(ctx, None, None, newest, silent)
        if not bins:
            return self.not_computable(ctx, "no WasteContainer entity in the city", provenance)
        return self.measured(ctx, round(100.0 * len(sensing) / len(bins), 4), provenance, quality)


class WasteFillAtCollection(Calculator):
    """Mean filling level at emptying. An emptying is a fall of the hourly mean of
    ``fillingLevel`` by at least ``drop`` (a fraction of the volume) between two hours at most
    ``max_gap_hours`` apart; the level at emptying is the highest value seen in those two hours
    (the hour before, or the emptying hour if it was sampled before the truck came). Levels are
    fractions 0..1 (Smart Data Models); the value is in %. Coverage is against one observation
    per ``interval_hours`` per container."""

    name = "waste.fill-at-collection"
    version = "1"
    unit = "%"
    defaults: ClassVar[Mapping[str, Any]] = {"drop": 0.3, "max_gap_hours": 3, "interval_hours": 1}

    async def compute(self, ctx: Context) -> Result:
        bins = _existing(
            await ctx.inputs.entities(ctx.tenant, "WasteContainer", ["fillingLevel"]), ctx
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [b.id for b in bins], "fillingLevel", ctx.period.start, ctx.window_end
        )
        stats = _series_stats(ctx, bins, series, float(self.params["interval_hours"]))
        levels: list[float] = []
        max_gap = timedelta(hours=self.params["max_gap_hours"])
        for points in series.values():
            for before, after in itertools.pairwise(points):
                if after.hour - before.hour > max_gap:
                    continue
                if before.mean - after.mean >= self.params["drop"]:
                    highest = max(
                        before.maximum if before.maximum is not None else before.mean,
                        after.maximum if after.maximum is not None else after.mean,
                    )
                    levels.append(highest)
        provenance = self._provenance(
            "entities type=WasteContainer; hourly means of fillingLevel over "
            f"[{_iso(ctx.period.start)}, {_iso(ctx.window_end)})",
            sorted(series),
            stats.observations,
        )
        quality = self._quality(
            ctx,
            stats.coverage,
            stats.by_device,
            stats.newest,
            stats.silent,
            (f"{len(levels)} emptyings detected",),
        )
        if not bins:
            return self.not_computable(ctx, "no WasteContainer entity in the city", provenance)
        if not levels:
            return self.not_computable(
                ctx, "no emptying detected in the containers' filling levels", provenance, quality
            )
        value = 100.0 * sum(levels) / len(levels)
        return self.measured(ctx, round(value, 4), provenance, quality)


# ------------------------------------------------------------------------------- parking
class ParkingRealTime(Calculator):
    """Public parking spaces with real-time availability ÷ all spaces × 100: the
    ``totalSpotNumber`` of OffStreetParking sites that reported ``availableSpotNumber`` in the
    period, over the ``totalSpotNumber`` of all sites. Sites without ``totalSpotNumber`` cannot
    be counted and are noted."""

    name = "parking.real-time"
    version = "1"
    unit = "%"

    async def compute(self, ctx: Context) -> Result:
        sites = _existing(
            await ctx.inputs.entities(
                ctx.tenant, "OffStreetParking", ["totalSpotNumber", "availableSpotNumber"]
            ),
            ctx,
        )
        sized = [(s, _number(s.attrs.get("totalSpotNumber"))) for s in sites]
        sized = [(s, n) for s, n in sized if n is not None and n >= 0]
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [s.id for s, _ in sized], "availableSpotNumber", ctx.period.start,
            ctx.window_end,
        )
        live = [
            (s, n)
            for s, n in sized
            if s.id in series or _reported_in_period(s, ctx, ["availableSpotNumber"])
        ]
        total = sum(n for _, n in sized)
        provenance = self._provenance(
            "entities type=OffStreetParking attrs=totalSpotNumber,availableSpotNumber; hourly "
            f"means of availableSpotNumber over [{_iso(ctx.period.start)}, {_iso(ctx.window_end)})",
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


# ------------------------------------------------------------------------------- traffic
class TrafficCountsPerCapita(Calculator):
    """Vehicles counted by TrafficFlowObserved sensors in the period (the sum of every
    ``intensity`` observation: hourly mean × number of observations) ÷ population. It grows
    with the number of counters as well as with traffic: compare it between periods of one
    city, and read the coverage (hours with data ÷ hours expected, per counter)."""

    name = "traffic.counts-per-capita"
    version = "1"
    unit = "vehicles per resident"

    async def compute(self, ctx: Context) -> Result:
        counters = _existing(
            await ctx.inputs.entities(ctx.tenant, "TrafficFlowObserved", ["intensity"]), ctx
        )
        series = await ctx.inputs.hourly_series(
            ctx.tenant, [c.id for c in counters], "intensity", ctx.period.start, ctx.window_end
        )
        stats = _series_stats(ctx, counters, series, 1.0)
        population, notes = await self._statistic(ctx, "population")
        provenance = self._provenance(
            "entities type=TrafficFlowObserved; hourly means and counts of intensity over "
            f"[{_iso(ctx.period.start)}, {_iso(ctx.window_end)}); city statistic population",
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


# ------------------------------------------------------------------------------ requests
_NO_REQUESTS = (
    "no citizen-request source: requests come from the Open311 capability, "
    "which is not connected"
)


class RequestResolutionTime(Calculator):
    """Median hours from opening to closing of the citizen requests opened in the period and
    closed by its end (or now). Reads :meth:`Inputs.service_requests`, which the Open311
    capability will provide; until it exists the value is not computable."""

    name = "requests.resolution-time"
    version = "1"
    unit = "hours"

    async def compute(self, ctx: Context) -> Result:
        requests = await ctx.inputs.service_requests(ctx.tenant, ctx.period.start, ctx.window_end)
        query = f"service requests opened in [{_iso(ctx.period.start)}, {_iso(ctx.window_end)})"
        if requests is None:
            return self.not_computable(ctx, _NO_REQUESTS, self._provenance(query))
        closed = [
            r for r in requests if r.closed_at is not None and r.closed_at <= ctx.window_end
        ]
        provenance = self._provenance(query, [r.id for r in closed], len(closed))
        quality = self._quality(
            ctx,
            None,
            notes=(f"{len(closed)} of {len(requests)} requests closed",),
            newest=max((r.opened_at for r in requests), default=None),
        )
        if not closed:
            return self.not_computable(
                ctx, "no request opened in the period has been closed", provenance, quality
            )
        hours = [
            (r.closed_at - r.opened_at).total_seconds() / 3600.0
            for r in closed
            if r.closed_at is not None
        ]
        return self.measured(ctx, round(statistics.median(hours), 4), provenance, quality)


class RequestsWithinSLA(Calculator):
    """Requests closed within their service's target time ÷ requests that have a target and
    whose outcome is known (closed, or open past the target: overdue counts as missed) × 100.
    Open requests still within their target are left out. Reads the Open311 capability's
    requests through :meth:`Inputs.service_requests`; not computable until it exists."""

    name = "requests.within-sla"
    version = "1"
    unit = "%"

    async def compute(self, ctx: Context) -> Result:
        requests = await ctx.inputs.service_requests(ctx.tenant, ctx.period.start, ctx.window_end)
        query = f"service requests opened in [{_iso(ctx.period.start)}, {_iso(ctx.window_end)})"
        if requests is None:
            return self.not_computable(ctx, _NO_REQUESTS, self._provenance(query))
        met: list[str] = []
        decided: list[str] = []
        for r in requests:
            if r.sla_hours is None:
                continue
            due = r.opened_at + timedelta(hours=r.sla_hours)
            closed = r.closed_at if r.closed_at is not None and r.closed_at <= ctx.now else None
            if closed is not None:
                decided.append(r.id)
                if closed <= due:
                    met.append(r.id)
            elif due <= ctx.now:
                decided.append(r.id)
        provenance = self._provenance(query, decided, len(decided))
        quality = self._quality(
            ctx, None, notes=(f"{len(decided)} of {len(requests)} requests have a known outcome",)
        )
        if not decided:
            return self.not_computable(
                ctx,
                "no request with a service target has a known outcome in the period",
                provenance,
                quality,
            )
        return self.measured(ctx, round(100.0 * len(met) / len(decided), 4), provenance, quality)


# ------------------------------------------------------------------------------- registry
class Registry:
    """Calculators by name and version; one version of each name is current."""

    def __init__(self, calculators: Iterable[Calculator] = ()) -> None:
        self._all: dict[tuple[str, str], Calculator] = {}
        self._current: dict[str, str] = {}
        for calculator in calculators:
            self.register(calculator)

    def register(self, calculator: Calculator, current: bool = True) -> None:
        key = (calculator.name, calculator.version)
        if key in self._all:
            raise ValueError(f"calculator {calculator.name} version {calculator.version} exists")
        self._all[key] = calculator
        if current or calculator.name not in self._current:
            self._current[calculator.name] = calculator.version

    def get(self, name: str, version: str | None = None) -> Calculator:
        version = version or self._current.get(name)
        try:
            return self._all[(name, version or "")]
        except KeyError:
            raise KeyError(f"no calculator {name!r} version {version!r}") from None

    def names(self) -> list[str]:
        return sorted(self._current)

    def versions(self, name: str) -> list[str]:
        return sorted(v for n, v in self._all if n == name)

    def check(self, catalogue: Catalogue) -> None:
        """Every calculator the catalogue names exists, and every calculator is named."""
        missing = [n for n in catalogue.calculators() if n not in self._current]
        if missing:
            raise LookupError(f"catalogue names calculators that do not exist: {missing}")
        unused = [n for n in self._current if not catalogue.by_calculator(n)]
        if unused:
            raise LookupError(f"calculators no catalogue indicator uses: {unused}")


def default_registry() -> Registry:
    return Registry(
        [
            PM25(),
            PM10(),
            SO2(),
            NO2(),
            PM25DaysAbove(),
            StationsReporting(),
            StreetlightsManaged(),
            StreetlightsWorking(),
            StopsRealTime(),
            EVPointsPer100k(),
            WasteFillSensing(),
            WasteFillAtCollection(),
            ParkingRealTime(),
            TrafficCountsPerCapita(),
            RequestResolutionTime(),
            RequestsWithinSLA(),
        ]
    )


@dataclass(frozen=True, slots=True)
class IndicatorValues:
    """What is known of one indicator for a city and period: measured and reported, apart."""

    indicator_id: str
    measured: Result | None
    reported: ReportedValue | None

    @property
    def best(self) -> AnyValue | None:
        """The measured value if there is one, else the reported one (never blended)."""
        if isinstance(self.measured, MeasuredValue):
            return self.measured
        return self.reported or self.measured


async def compute_all(ctx: Context, registry: Registry | None = None) -> list[Result]:
    """Every current calculator over the context's city and period."""
    registry = registry or default_registry()
    results = []
    for name in ctx.catalogue.calculators():
        results.append(await registry.get(name).compute(ctx))
    return results


async def indicator_values(
    ctx: Context, results: Iterable[Result] | None = None
) -> dict[str, IndicatorValues]:
    """Measured and reported values of every catalogue indicator, side by side."""
    if results is None:
        results = await compute_all(ctx)
    measured: dict[str, Result] = {}
    for result in results:
        for indicator_id in result.indicator_ids:
            measured[indicator_id] = result
    out = {}
    for indicator in ctx.catalogue:
        reported = await ctx.inputs.reported(ctx.tenant, indicator.id, ctx.period)
        out[indicator.id] = IndicatorValues(indicator.id, measured.get(indicator.id), reported)
    return out
