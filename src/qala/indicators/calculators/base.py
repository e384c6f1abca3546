"""What every calculator shares: the computation :class:`Context`, the :class:`Calculator`
base (name, version, parameters, what it reads, building values), and the coverage and
timeliness of hourly series."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, ClassVar

from qala.indicators.catalogue import Catalogue, load_catalogue
from qala.indicators.inputs import DailyPoint, EntitySnapshot, HourlyPoint, Inputs
from qala.indicators.period import Period
from qala.indicators.values import (
    DEFAULT_COVERAGE_THRESHOLD,
    MeasuredValue,
    NotComputable,
    Provenance,
    Quality,
    Result,
    StatisticUsed,
)

HOUR = timedelta(hours=1)

#: An entity type a calculator reads and the attributes whose history it reads.
Read = tuple[str, tuple[str, ...]]


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


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_ceil(moment: datetime) -> datetime:
    floor = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + HOUR


def expected_hours(ctx: Context, entity: EntitySnapshot, interval_hours: float) -> float:
    """Observations expected from a device in the period: from the period's start (or the
    device's creation, if later) to the period's end (or now)."""
    start = ctx.period.start
    if entity.created_at is not None and entity.created_at > start:
        start = hour_ceil(entity.created_at)
    end = ctx.window_end
    if end <= start:
        return 0.0
    return (end - start).total_seconds() / 3600.0 / interval_hours


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def reported_in_period(entity: EntitySnapshot, ctx: Context, attrs: Iterable[str]) -> bool:
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
    #: City statistics the calculator reads (``population``, ``area_km2``…).
    statistics_read: ClassVar[tuple[str, ...]] = ()
    #: Whether it reads citizen requests (:meth:`Inputs.service_requests`).
    reads_requests: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {sorted(unknown)}")
        self.params: dict[str, Any] = {**self.defaults, **params}

    async def compute(self, ctx: Context) -> Result:
        raise NotImplementedError

    def reads(self) -> tuple[Read, ...]:
        """The entity types it reads, each with the attributes whose history it reads."""
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


def existing(entities: list[EntitySnapshot], ctx: Context) -> list[EntitySnapshot]:
    """Entities that existed during the period (created before its end)."""
    return [e for e in entities if e.created_at is None or e.created_at < ctx.period.end]


@dataclass
class SeriesStats:
    """Coverage and timeliness of hourly series against what each device should have sent."""

    coverage: float | None
    by_device: dict[str, float]
    silent: list[str]
    newest: datetime | None
    observations: int


_COUNT = attrgetter("count")
_HOURS = attrgetter("hours")


def series_stats(
    ctx: Context,
    entities: Sequence[EntitySnapshot],
    series: Mapping[str, list[HourlyPoint]] | Mapping[str, list[DailyPoint]],
    interval_hours: float,
) -> SeriesStats:
    """Coverage and freshness of each device from its hourly means, or from its days
    (:class:`DailyPoint`: the hours and observations each day holds)."""
    by_device: dict[str, float] = {}
    silent: list[str] = []
    present_total = 0.0
    expected_total = 0.0
    newest: datetime | None = None
    observations = 0
    for entity in entities:
        expected = expected_hours(ctx, entity, interval_hours)
        points = series.get(entity.id, [])
        observations += sum(map(_COUNT, points))
        hours = len(points)
        if points:
            final = points[-1]
            if isinstance(final, DailyPoint):
                hours = sum(map(_HOURS, points))
                last = final.newest
            else:
                last = final.hour
            newest = last if newest is None or last > newest else newest
        if expected <= 0:
            continue
        present = min(float(hours), expected)
        by_device[entity.id] = present / expected
        present_total += present
        expected_total += expected
        if not points:
            silent.append(entity.id)
    coverage = present_total / expected_total if expected_total else None
    return SeriesStats(coverage, by_device, silent, newest, observations)
