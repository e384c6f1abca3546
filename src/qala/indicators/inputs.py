"""What calculators read, as a small Protocol, and an in-memory implementation of it.

Calculators never touch the store, the hub or another capability: they receive an
:class:`Inputs` object. The hub integration implements it over the hub's query and the temporal
reader; :class:`MemoryInputs` implements it over plain Python data for tests and fixtures.

Entity snapshots use the short Smart Data Models terms (``pm25``, ``controllingMethod``) and
simplified values, the way the keyValues representation gives them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from qala.indicators.period import Period
from qala.indicators.values import ReportedValue


@dataclass(frozen=True, slots=True)
class EntitySnapshot:
    """An entity as it stands now: id, type, simplified attribute values, their observedAt."""

    id: str
    type: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    observed_at: Mapping[str, datetime] = field(default_factory=dict)
    created_at: datetime | None = None


class HourlyPoint(NamedTuple):
    """One hour of one attribute of one entity: the mean of the numeric values observed in
    ``[hour, hour + 1 h)`` and how many there were."""

    hour: datetime  # start of the hour, UTC
    mean: float
    count: int
    minimum: float | None = None
    maximum: float | None = None


class DailyPoint(NamedTuple):
    """One local day of one attribute of one entity, folded from its hourly means (ISO 37120
    8.6: the daily mean is the mean of the hourly averages)."""

    day: date  # the city's calendar day
    mean: float  # the mean of the day's hourly means
    hours: int  # hours with a mean
    count: int  # the observations in those hours
    newest: datetime  # the start of the last of those hours, UTC


@dataclass(frozen=True, slots=True)
class Statistic:
    """A city statistic (population, area, households…) with its source and date."""

    tenant: str
    name: str
    value: float
    unit: str
    source: str
    as_of: date
    note: str = ""


@dataclass(frozen=True, slots=True)
class ServiceRequestRecord:
    """A citizen request as the Open311 capability publishes it (opened, closed, SLA)."""

    id: str
    service_code: str
    opened_at: datetime
    closed_at: datetime | None = None
    sla_hours: float | None = None  # the target resolution time of its service, if any
    #: When it is due: Open311's ``expected_datetime``, which counts the service's working
    #: hours and the city's holidays; when absent, ``opened_at`` + ``sla_hours``.
    due_at: datetime | None = None

    @property
    def due(self) -> datetime | None:
        if self.due_at is not None:
            return self.due_at
        if self.sla_hours is None:
            return None
        return self.opened_at + timedelta(hours=self.sla_hours)


@runtime_checkable
class Inputs(Protocol):
    """The data calculators may read. Every method is scoped to one tenant (city)."""

    async def entities(
        self, tenant: str, type: str, attrs: Sequence[str] | None = None
    ) -> list[EntitySnapshot]:
        """Current entities of ``type`` (all attributes, or only ``attrs``), in id order."""
        ...

    async def hourly_series(
        self,
        tenant: str,
        entity_ids: Sequence[str],
        attr: str,
        start: datetime,
        end: datetime,
    ) -> dict[str, list[HourlyPoint]]:
        """Hourly means of ``attr`` per entity over ``[start, end)``, hours in time order.

        Entities without a numeric observation in the window are absent from the result.
        """
        ...

    async def daily_series(
        self,
        tenant: str,
        entity_ids: Sequence[str],
        attr: str,
        start: datetime,
        end: datetime,
        zone: str,
    ) -> dict[str, list[DailyPoint]]:
        """The hourly means of ``attr`` folded by local day of ``zone``, per entity, days in
        order: for each day with at least one hourly mean, the mean of those means, how many
        there are, their observations and the last hour. Entities without a numeric
        observation in the window are absent from the result."""
        ...

    async def city_statistic(self, tenant: str, name: str, as_of: date) -> Statistic | None:
        """The newest value of a statistic dated on or before ``as_of``; ``None`` if none."""
        ...

    async def reported(
        self, tenant: str, indicator_id: str, period: Period
    ) -> ReportedValue | None:
        """The reported value of an indicator for a period, if someone entered one."""
        ...

    async def service_requests(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[ServiceRequestRecord] | None:
        """Citizen requests opened in ``[start, end)``; ``None`` when no request source exists
        (the Open311 capability provides it; until then every implementation returns None)."""
        ...


def hour_floor(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


class MemoryInputs:
    """:class:`Inputs` over plain data: entities, raw observations, statistics, reports.

    Observations are ``(entity_id, attr, moment, value)``; hourly means are computed from them
    the way the temporal store aggregates them (numeric values only, by UTC hour).
    """

    def __init__(self) -> None:
        self._entities: dict[str, dict[str, EntitySnapshot]] = {}
        self._observations: dict[tuple[str, str, str], list[tuple[datetime, float]]] = {}
        self._statistics: dict[tuple[str, str], list[Statistic]] = {}
        self._reported: dict[tuple[str, str, str], ReportedValue] = {}
        self._requests: dict[str, list[ServiceRequestRecord]] = {}
        self.queries: list[str] = []  # what was asked, for tests

    # -- filling ------------------------------------------------------------------------
    def add_entity(self, tenant: str, entity: EntitySnapshot) -> None:
        self._entities.setdefault(tenant, {})[entity.id] = entity

    def add_entities(self, tenant: str, entities: Iterable[EntitySnapshot]) -> None:
        for entity in entities:
            self.add_entity(tenant, entity)

    def observe(self, tenant: str, entity_id: str, attr: str, moment: datetime, value: Any) -> None:
        if moment.tzinfo is None:
            raise ValueError("observation times must be timezone-aware")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return  # hourly means are over numeric values only
        key = (tenant, entity_id, attr)
        self._observations.setdefault(key, []).append((moment.astimezone(UTC), float(value)))

    def observe_hourly(
        self,
        tenant: str,
        entity_id: str,
        attr: str,
        start: datetime,
        values: Sequence[float | None],
    ) -> None:
        """One observation per hour from ``start``; ``None`` leaves the hour empty (a gap)."""
        for i, value in enumerate(values):
            if value is not None:
                self.observe(tenant, entity_id, attr, start + timedelta(hours=i), value)

    def add_statistic(self, statistic: Statistic) -> None:
        self._statistics.setdefault((statistic.tenant, statistic.name), []).append(statistic)

    def add_reported(self, value: ReportedValue) -> None:
        self._reported[(value.tenant, value.indicator_id, value.period.label)] = value

    def enable_service_requests(self, tenant: str) -> None:
        self._requests.setdefault(tenant, [])

    def add_service_request(self, tenant: str, record: ServiceRequestRecord) -> None:
        self._requests.setdefault(tenant, []).append(record)

    # -- Inputs -------------------------------------------------------------------------
    async def entities(
        self, tenant: str, type: str, attrs: Sequence[str] | None = None
    ) -> list[EntitySnapshot]:
        self.queries.append(f"entities {tenant} {type}")
        found = [e for e in self._entities.get(tenant, {}).values() if e.type == type]
        found.sort(key=lambda e: e.id)
        if attrs is None:
            return found
        wanted = set(attrs)
        return [
            EntitySnapshot(
                id=e.id,
                type=e.type,
                attrs={k: v for k, v in e.attrs.items() if k in wanted},
                observed_at={k: v for k, v in e.observed_at.items() if k in wanted},
                created_at=e.created_at,
            )
            for e in found
        ]

    async def hourly_series(
        self,
        tenant: str,
        entity_ids: Sequence[str],
        attr: str,
        start: datetime,
        end: datetime,
    ) -> dict[str, list[HourlyPoint]]:
        self.queries.append(f"hourly {tenant} {attr} {len(entity_ids)}")
        out: dict[str, list[HourlyPoint]] = {}
        for entity_id in entity_ids:
            buckets: dict[datetime, list[float]] = {}
            for moment, value in self._observations.get((tenant, entity_id, attr), []):
                if start <= moment < end:
                    buckets.setdefault(hour_floor(moment), []).append(value)
            if buckets:
                out[entity_id] = [
                    HourlyPoint(hour, sum(v) / len(v), len(v), min(v), max(v))
                    for hour, v in sorted(buckets.items())
                ]
        return out

    async def daily_series(
        self,
        tenant: str,
        entity_ids: Sequence[str],
        attr: str,
        start: datetime,
        end: datetime,
        zone: str,
    ) -> dict[str, list[DailyPoint]]:
        """Folded from :meth:`hourly_series` by local day — the reference the hub's SQL fold is
        tested against."""
        tz = ZoneInfo(zone)
        out: dict[str, list[DailyPoint]] = {}
        hourly = await self.hourly_series(tenant, entity_ids, attr, start, end)
        for entity_id, points in hourly.items():
            days: dict[date, list[HourlyPoint]] = {}
            for point in points:
                days.setdefault(point.hour.astimezone(tz).date(), []).append(point)
            out[entity_id] = [
                DailyPoint(day, sum(p.mean for p in ps) / len(ps), len(ps),
                           sum(p.count for p in ps), ps[-1].hour)
                for day, ps in sorted(days.items())
            ]  # fmt: skip
        return out

    async def city_statistic(self, tenant: str, name: str, as_of: date) -> Statistic | None:
        candidates = [s for s in self._statistics.get((tenant, name), []) if s.as_of <= as_of]
        return max(candidates, key=lambda s: s.as_of) if candidates else None

    async def reported(
        self, tenant: str, indicator_id: str, period: Period
    ) -> ReportedValue | None:
        return self._reported.get((tenant, indicator_id, period.label))

    async def service_requests(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[ServiceRequestRecord] | None:
        if tenant not in self._requests:
            return None
        return [r for r in self._requests[tenant] if start <= r.opened_at < end]
